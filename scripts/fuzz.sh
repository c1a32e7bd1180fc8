#!/usr/bin/env bash
# A coverage-guided fuzzing campaign against the module on the debug kernel
# (of KERNEL, default 7.3): DATAGRAMS datagrams from SEED to its protocol
# unit and its generic netlink family, with a progress line and a health
# check every few thousand, then a kmemleak scan and a check of the console
# for kernel reports. The coverage it reached goes to build/fuzz/ and is
# reported (scripts/coverage-report.py).
#
# usage: scripts/fuzz.sh SEED DATAGRAMS
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
seed=$1 datagrams=$2
source scripts/kernels.sh
kernel=${KERNEL:-$default_kernel}-debug
check_kernel "$kernel"

kdir=$(scripts/prepare.sh "$kernel")
out=$top/build/fuzz
rm -rf "$out"
console=$top/build/console-fuzz.log
progress=$((datagrams / 100 > 1000 ? datagrams / 100 : 1000))
NLTEST_CONSOLE_LOG=$console KDIR=$kdir qemu/run --kernel "$kernel" --memory 2G --timeout 14400 \
    --out "$out" -- sh -c "
    mount -t debugfs debugfs /sys/kernel/debug && echo clear > /sys/kernel/debug/kmemleak &&
    sha256sum /modules/nltest.ko > /out/module.sha256 &&
    nltest fuzz --both --guided --seed $seed --iterations $datagrams --check-every 5000 \
        --progress-every $progress --coverage /out/guided.points --curve /out/guided.csv &&
    leak-check"
scripts/check-console.sh "$console"
scripts/coverage-report.py --markdown "$out/report.md" "$top/build/linux-$kernel/rust/nltest.ko" "$out"
