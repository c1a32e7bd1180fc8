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
scripts/build-userspace.sh

echo ">> end-to-end suite with stress and fuzzing in the test guest" >&2
guest_log=$(mktemp)
trap 'rm -f "$host_log" "$guest_log"' EXIT
KDIR=$kdir qemu/run --timeout 1200 -- nltest-e2e --stress | tee "$guest_log" || true
summary=$(tr -d '\r' <"$guest_log" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | tail -n 1)
if [ -n "$summary" ]; then
    read -r guest_passed guest_failed <<<"$summary"
else
    echo "error: the end-to-end suite did not finish (see above)" >&2
    guest_passed=0 guest_failed=1
fi

echo
echo "host: ${host_passed:-0} passed, ${host_failed:-0} failed; guest: $guest_passed passed, $guest_failed failed"
passed=$((${host_passed:-0} + guest_passed))
failed=$((${host_failed:-0} + guest_failed))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
