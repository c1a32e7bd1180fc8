#!/usr/bin/env bash
# A fuzzing campaign against the module on the debug kernel (of KERNEL,
# default 7.3), then a kmemleak
# scan and a check of the console for kernel reports.
#
# usage: scripts/fuzz.sh SEED ITERATIONS
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
seed=$1 iterations=$2
source scripts/kernels.sh
kernel=${KERNEL:-$default_kernel}-debug
check_kernel "$kernel"

kdir=$(scripts/prepare.sh "$kernel")
console=$top/build/console-fuzz.log
NLTEST_CONSOLE_LOG=$console KDIR=$kdir qemu/run --kernel "$kernel" --memory 2G --timeout 7200 -- sh -c "
    mount -t debugfs debugfs /sys/kernel/debug && echo clear > /sys/kernel/debug/kmemleak &&
    nltest fuzz --seed $seed --iterations $iterations && rmmod nltest &&
    echo scan > /sys/kernel/debug/kmemleak && sleep 6 && echo scan > /sys/kernel/debug/kmemleak &&
    if [ -s /sys/kernel/debug/kmemleak ]; then cat /sys/kernel/debug/kmemleak; exit 1; fi &&
    echo 'kmemleak: no leaks'"
scripts/check-console.sh "$console"
