#!/usr/bin/env bash
# Fails, showing each report with what follows it, when a guest console log
# holds a kernel bug report: BUG (KASAN, sleeping in atomic context, ...),
# WARNING (lockdep, ...), Oops, panic, kmemleak, UBSAN or a Rust panic.
#
# usage: scripts/check-console.sh CONSOLE_LOG
set -euo pipefail
log=$1
reports='BUG:|WARNING:|Oops|Kernel panic|unreferenced object|suspected memory leak|panicked at|UBSAN:'

if tr -d '\r' <"$log" | grep -aEq "$reports"; then
    echo "error: the kernel reported problems (console: $log):" >&2
    tr -d '\r' <"$log" | grep -aE -A 25 "$reports" | head -n 200 >&2
    exit 1
fi
echo "console: no kernel reports ($log)"
