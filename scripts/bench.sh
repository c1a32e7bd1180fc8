#!/usr/bin/env bash
# `make bench`: boots the test kernel (KERNEL, default 7.3) once with the Rust module (unit 17) and
# the C reference module (unit 18) loaded side by side, and runs
# `nltest bench` against both in alternation, with the minimal C client as a
# second reference; then the typed service on the unit against the same
# through the generic netlink family. Extra arguments go to `nltest bench` (e.g. --json).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
source scripts/kernels.sh
kernel=${KERNEL:-$default_kernel}
check_kernel "$kernel"
rounds=${BENCH_ROUNDS:-5}
# The C reference module's unit, its parameter's default, read in the guest.
c_unit='$(cat /sys/module/nltest_ref/parameters/unit)'

kdir=$(scripts/prepare.sh "$kernel")
scripts/build-bench.sh
c_reference=build/linux-$kernel/c-reference/nltest_ref.ko

echo ">> benchmark on linux $(cat "$kdir/include/config/kernel.release"): Rust module (unit 17) and C reference module (its own unit), $rounds rounds, A B A B" >&2
# By default the guest's clock counts instructions (QEMU -icount): the
# figures are instructions per echo, the same from run to run whatever the
# host does; BENCH_ICOUNT=0 measures emulated time instead, noisy on a busy host.
clock=(--icount)
if [ "${BENCH_ICOUNT:-1}" = 0 ]; then
    clock=()
    echo ">> under QEMU's TCG emulation absolute figures are not hardware figures; the ratios are what count" >&2
else
    echo ">> guest clock: one nanosecond per guest instruction (QEMU -icount): figures count instructions, not hardware time; the ratios are what count" >&2
fi
# One guest CPU: nothing else in the guest competes with the benchmark, and
# under TCG one emulated CPU is one host thread, steadier on a busy host.
KDIR=$kdir qemu/run --kernel "$kernel" "${clock[@]}" --cpus 1 --timeout 3000 --add "$c_reference" -- \
    sh -c "insmod /added/nltest_ref.ko && \
           nltest bench --baseline-unit $c_unit --rounds $rounds --reference-client /bin/raw-client $* && \
           echo && echo 'the typed service on the unit and through the generic netlink family:' && \
           nltest bench --protocols typed,genl --rounds $rounds $*"
