#!/usr/bin/env bash
# The suite on the debug kernel of KERNEL (default 7.3: KASAN, kmemleak,
# lockdep, atomic-sleep checks, SLUB debugging, Rust overflow checks, fault
# injection): every in-guest test plus stress, fuzzing and allocation
# failures; then the console must hold no kernel report. The suite's
# coverage of the module (KCOV) goes to build/coverage/ and its figure is
# printed (scripts/coverage.sh adds the fuzzing campaigns and the report).
# Closes with `N passed, N failed`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
source scripts/kernels.sh
kernel=${KERNEL:-$default_kernel}-debug
check_kernel "$kernel"

kdir=$(scripts/prepare.sh "$kernel")
release=$(cat "$kdir/include/config/kernel.release")
echo ">> linux $release (debug): end-to-end suite, stress, fuzzing and faults" >&2
console=$top/build/console-$kernel.log
guest_log=$(mktemp)
trap 'rm -f "$guest_log"' EXIT
# KASAN and SLUB debugging make everything slower (the 7.3 debug kernel's
# suite took 22 min with 10,000 echoes per stress client): fewer stress
# echoes than on the test kernel, more memory and time.
coverage=$top/build/coverage
rm -rf "$coverage"   # points of another build must not mix with this one's
NLTEST_CONSOLE_LOG=$console KDIR=$kdir qemu/run --kernel "$kernel" --memory 2G --timeout 2400 \
    --out "$coverage" --add qemu/debug-checks.sh \
    --add "build/linux-$kernel/fixtures/genl_squatter.ko" -- \
    env NLTEST_STRESS_ECHOES="${NLTEST_STRESS_ECHOES:-3000}" sh /added/debug-checks.sh \
    | tee "$guest_log" || true

summary=$(tr -d '\r' <"$guest_log" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | tail -n 1)
if [ -n "$summary" ]; then
    read -r passed failed <<<"$summary"
else
    echo "error: the suite did not finish on the debug kernel (see above)" >&2
    passed=0 failed=1
fi
# The kmemleak scan and the console check count as one test each.
if tr -d '\r' <"$guest_log" | grep -q '^kmemleak: no leaks'; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi
if scripts/check-console.sh "$console"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi
if [ -s "$coverage/e2e.points" ]; then
    scripts/coverage-report.py "$top/build/linux-$kernel/rust/nltest.ko" "$coverage" || true
fi
echo "linux $release (debug): $passed passed, $failed failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
