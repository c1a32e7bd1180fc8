#!/usr/bin/env bash
# `make profile`: where the instructions of an echo go, kernel function by
# kernel function, in the Rust module and in the C reference module.
#
# Boots the test kernel with both modules, and for each runs one `nltest
# bench` case while QEMU logs every translation block the guest executes
# (-d exec with nochain); scripts/tb-profile.py turns the logs into
# instructions per echo by function, side by side.
#
# The window holds the batched run alone (--batched-only; a batch of one is
# one message at a time).
#
# build/profile-blocks.txt gets every block of module code that ran, with
# its count per echo.
#
# usage: scripts/profile.sh [PROTOCOL [SIZE [BATCH]]]   (default: typed 16 1)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
source scripts/kernels.sh
kernel=${KERNEL:-$default_kernel}
check_kernel "$kernel"
protocol=${1:-typed} size=${2:-16} batch=${3:-1}
count=1024
# The C reference module's unit, its parameter's default, read in the guest.
c_unit='$(cat /sys/module/nltest_ref/parameters/unit)'

kdir=$(scripts/prepare.sh "$kernel")
build=build/linux-$kernel

logs=$(mktemp -d /tmp/nltest-profile.XXXXXX)
trap 'rm -rf "$logs"' EXIT
monitor=$logs/monitor.sock
console=$top/build/console-profile.log

# Each window: the guest announces it, waits (a builtin loop, no process
# started) until the host has turned the log on, runs the case, and waits
# again until the log is off.
window() {
    local name=$1 unit=$2
    echo "echo nltest-profile: start $name; while [ ! -e /host$logs/go-$name ]; do :; done;" \
         "echo nltest-profile-case \$(nltest bench --unit $unit --protocols $protocol" \
         "--sizes $size --count $count --batch $batch --batched-only --json);" \
         "echo nltest-profile: stop $name; while [ ! -e /host$logs/stopped-$name ]; do :; done;"
}
# A first run of each, unlogged, so that neither window pays for first
# touches (page cache, slabs).
warm="nltest bench --protocols $protocol --sizes $size --count 200 --batch $batch"
guest="insmod /added/nltest_ref.ko &&
$warm --unit 17 >/dev/null && $warm --unit $c_unit >/dev/null &&
echo nltest-profile-text \$(cat /sys/module/nltest/sections/.text) \$(cat /sys/module/nltest_ref/sections/.text) &&
$(window rust 17) $(window c "$c_unit")"

echo ">> profiling $protocol echoes of $size bytes, batch $batch, on both modules (QEMU logs every block: slow)" >&2
python3 scripts/profile-monitor.py "$console" "$monitor" "$logs" &
watcher=$!
NLTEST_CONSOLE_LOG=$console NLTEST_QEMU_ARGS="-d nochain -D $logs/boot.exec -monitor unix:$monitor,server=on,wait=off" \
    KDIR=$kdir qemu/run --kernel "$kernel" --icount --cpus 1 --timeout 3000 --add "$build/c-reference/nltest_ref.ko" -- sh -c "$guest"
wait $watcher

read -r rust_text c_text < <(sed -n 's/^nltest-profile-text \(0x[0-9a-f]*\) \(0x[0-9a-f]*\).*/\1 \2/p' "$console")
# Echoes per window, as bench reports them (whole batches: at least $count).
echoes=$(sed -n 's/^nltest-profile-case //p' "$console" | head -n 1 |
    python3 -c 'import json, sys; print(int(json.load(sys.stdin)["cases"][0]["subject"]["batched"]["echoes"]))')
python3 scripts/tb-profile.py --vmlinux "$kdir/vmlinux" \
    --module "$build/rust/nltest.ko@$rust_text" --module "$build/c-reference/nltest_ref.ko@$c_text" \
    --echoes $echoes --top "${PROFILE_TOP:-40}" --annotate "$top/build/profile-blocks.txt" \
    rust="$logs/rust.exec" c="$logs/c.exec"
