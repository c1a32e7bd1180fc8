#!/usr/bin/env bash
# Measures how fast host programs start in the guest through each way of
# sharing the host's file system (qemu/run --share): python3 -c pass and
# iproute2's genl ctrl list, each twice (the first with the guest's caches
# cold, the second warm), on each KERNEL, one boot per kernel and share.
# Prints a markdown table (README, "Host programs in the guest").
#
# usage: scripts/share-timings.sh [KERNEL]...   (default: 7.3 6.12 7.3-debug)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || set -- 7.3 6.12 7.3-debug

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
guest='time python3 -c pass; time python3 -c pass; time genl ctrl list >/dev/null; time genl ctrl list >/dev/null'

echo "| kernel | share | python3 -c pass, cold | warm | genl ctrl list, cold | warm | whole qemu/run |"
echo "|---|---|---|---|---|---|---|"
for kernel in "$@"; do
    for share in virtiofs 9p; do
        start=$SECONDS
        if ! NLTEST_CONSOLE_LOG=$logs/console.log "$top/qemu/run" --kernel "$kernel" --share "$share" \
                -- sh -c "$guest" >"$logs/out" 2>&1; then
            echo "error: qemu/run --kernel $kernel --share $share failed:" >&2
            tail -n 20 "$logs/out" >&2
            exit 1
        fi
        whole=$((SECONDS - start))
        # A fallback to 9p would be measured under virtiofs's name.
        if [ "$share" = virtiofs ] && grep -q '^qemu/run: .*over 9p$' "$logs/out"; then
            echo "error: $(grep '^qemu/run: .*over 9p$' "$logs/out")" >&2
            exit 1
        fi
        # busybox's time prints "real	0m 5.87s".
        mapfile -t times < <(tr -d '\r' <"$logs/out" \
            | sed -n 's/^real[[:space:]]*\([0-9]*\)m \([0-9.]*\)s$/\1 \2/p' \
            | awk '{ printf "%.1f s\n", $1 * 60 + $2 }')
        if [ ${#times[@]} -ne 4 ]; then
            echo "error: expected 4 timings from the guest, got ${#times[@]}:" >&2
            tail -n 20 "$logs/out" >&2
            exit 1
        fi
        echo "| $kernel | $share | ${times[0]} | ${times[1]} | ${times[2]} | ${times[3]} | $whole s |"
    done
done
