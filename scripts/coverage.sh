#!/usr/bin/env bash
# The module's coverage on the debug kernel of KERNEL (default 7.3): the
# debug suite (scripts/test-debug.sh, which traces its tests with KCOV), then
# a blind and a guided fuzzing campaign of DATAGRAMS datagrams each from the
# same seed, then the report: the share of the module's coverage points
# reached, by file and function, the unreached ones with their reasons
# (build/coverage/report.md). Fails when the suite fails, the share is
# below 90 % or an unreached point has no reason.
#
# usage: scripts/coverage.sh [DATAGRAMS]   (default 20000)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
datagrams=${1:-20000}
source scripts/kernels.sh
kernel=${KERNEL:-$default_kernel}-debug
check_kernel "$kernel"
coverage=$top/build/coverage

status=0
scripts/test-debug.sh || status=1
[ -s "$coverage/e2e.points" ] || { echo "error: the debug suite wrote no coverage to $coverage" >&2; exit 1; }

echo ">> fuzzing with coverage: blind, then guided, $datagrams datagrams each from seed 1" >&2
kdir=$(scripts/prepare.sh "$kernel")
console=$top/build/console-coverage.log
campaign() {   # blind|guided
    echo "nltest fuzz --both --seed 1 --iterations $datagrams --check-every 2000" \
         "--progress-every $((datagrams / 10)) --coverage /out/$1.points --curve /out/$1.csv" \
         "$([ "$1" = guided ] && echo --guided)"
}
NLTEST_CONSOLE_LOG=$console KDIR=$kdir qemu/run --kernel "$kernel" --memory 2G --timeout 2400 \
    --out "$coverage" -- sh -c "
    mount -t debugfs debugfs /sys/kernel/debug && echo clear > /sys/kernel/debug/kmemleak &&
    $(campaign blind) && $(campaign guided) && leak-check" || status=1
scripts/check-console.sh "$console" || status=1

for campaign in blind guided; do
    [ -s "$coverage/$campaign.csv" ] || { echo "error: the $campaign campaign wrote no curve" >&2; status=1; continue; }
    tail -n 1 "$coverage/$campaign.csv" | awk -F, -v c="$campaign" '{ print "coverage: " c " fuzzing: " $2 " points after " $1 " datagrams" }'
done
scripts/coverage-report.py --min 90 --markdown "$coverage/report.md" \
    "$top/build/linux-$kernel/rust/nltest.ko" "$coverage" || status=1
echo "coverage report: $coverage/report.md"
exit $status
