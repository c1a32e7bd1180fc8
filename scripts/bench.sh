#!/usr/bin/env bash
# `make bench`: boots the test kernel (KERNEL, default 7.3) once with the Rust module (unit 17) and
# the C reference module (unit 18) loaded side by side, and runs
# `nltest bench` against both in alternation, with the minimal C client as a
# second reference; then the typed service on the unit against the same
# through the generic netlink family. Extra arguments go to `nltest bench` (e.g. --json).
# Writes the results as JSON and their chart as SVG: build/bench/bench-KERNEL.{json,svg}.
set -euo pipefail
case ${1:-} in
    -h|--help)
        echo "usage: [KERNEL=7.3] [BENCH_ROUNDS=5] [BENCH_ICOUNT=0] scripts/bench.sh [NLTEST_BENCH_ARGS...]"
        echo "Runs the benchmark in QEMU; writes build/bench/bench-KERNEL.json and .svg (see README.md, Benchmark)."
        exit 0 ;;
esac
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
# Built with the rest of the workspace by scripts/build-userspace.sh; linked
# statically like the guest's programs, it runs on the host as well.
chart_tool=userspace/target/x86_64-unknown-linux-gnu/release/nltest-chart
out=build/bench
results=$out/bench-$kernel.json chart=$out/bench-$kernel.svg
mkdir -p "$out"
rm -f "$results" "$chart"
export NLTEST_CONSOLE_LOG=$out/console-$kernel.log
# Each `nltest bench` in the guest writes its results to a JSON file (one
# line), which the guest then prints on its console after this marker: the
# console is the guest's only way out to the host. The marked lines are kept
# off the terminal and taken from the saved console afterwards.
marker=nltest-bench-json:

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
           nltest bench --baseline-unit $c_unit --rounds $rounds --reference-client /bin/raw-client --json-file units.json $* && \
           echo && echo 'the typed service on the unit and through the generic netlink family:' && \
           nltest bench --protocols typed,genl --rounds $rounds --json-file genl.json $* && \
           sed 's/^/$marker /' units.json genl.json" |
    grep --line-buffered -av "^$marker"

# Both runs' results in one JSON array: the modules side by side, then the
# unit against the family.
tr -d '\r' <"$NLTEST_CONSOLE_LOG" | sed -n "s/^$marker //p" | paste -sd, | sed 's/.*/[&]/' >"$results"
if [ ! -s "$results" ]; then
    echo "bench.sh: error: no results after '$marker' on the guest console ($NLTEST_CONSOLE_LOG)" >&2
    exit 1
fi
if [ ${#clock[@]} -gt 0 ]; then
    note="guest clock: 1 ns per guest instruction (QEMU -icount), so echoes/s count instructions"
else
    note="emulated time under QEMU's TCG: compare the ratios"
fi
"$chart_tool" "$results" --output "$chart" --note "$note"
echo ">> results: $results; chart: $chart" >&2
