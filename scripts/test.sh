#!/usr/bin/env bash
# The whole test suite: lints, host unit tests, the module's warning-free
# build, then the end-to-end suite inside the test guest. Closes with the
# total `N passed, N failed` and exits 0 only when everything passed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scripts/install-toolchain.sh
kdir=$(scripts/build-kernel.sh qemu/kernel.config)
scripts/lint.sh "$kdir"

echo ">> host unit tests" >&2
host_log=$(mktemp)
trap 'rm -f "$host_log"' EXIT
host_status=0
cargo test --manifest-path userspace/Cargo.toml 2>&1 | tee "$host_log" || host_status=$?
host_passed=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' "$host_log" | paste -sd+ | bc)
host_failed=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' "$host_log" | paste -sd+ | bc)
if [ "$host_status" -ne 0 ] && [ "${host_failed:-0}" -eq 0 ]; then
    host_failed=1   # the tests did not even build
fi

scripts/build-module.sh "$kdir"
scripts/build-c-reference.sh "$kdir"
scripts/build-userspace.sh

echo ">> end-to-end suite with stress and fuzzing in the test guest, then the" >&2
echo ">> portable part of it against the C reference module (unit 18)" >&2
guest_log=$(mktemp)
trap 'rm -f "$host_log" "$guest_log"' EXIT
KDIR=$kdir qemu/run --timeout 1200 --add build/c-reference/nltest_ref.ko -- \
    sh -c 'nltest-e2e --stress; insmod /added/nltest_ref.ko unit=18 && nltest-e2e --reference 18' \
    | tee "$guest_log" || true
# Two suites, two closing lines; a missing one counts as a failure.
summaries=$(tr -d '\r' <"$guest_log" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
guest_passed=0 guest_failed=0
while read -r passed failed; do
    [ -n "$passed" ] || continue
    guest_passed=$((guest_passed + passed)) guest_failed=$((guest_failed + failed))
done <<<"$summaries"
if [ "$(grep -c . <<<"$summaries")" -ne 2 ]; then
    echo "error: an end-to-end suite did not finish (see above)" >&2
    guest_failed=$((guest_failed + 1))
fi

echo
echo "host: ${host_passed:-0} passed, ${host_failed:-0} failed; guest: $guest_passed passed, $guest_failed failed"
passed=$((${host_passed:-0} + guest_passed))
failed=$((${host_failed:-0} + guest_failed))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
