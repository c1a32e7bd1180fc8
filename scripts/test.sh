#!/usr/bin/env bash
# The whole test suite: lints, host unit tests, then on each test kernel
# (every supported one, or KERNEL) the module's and the C reference's
# warning-free builds, the end-to-end suite inside the guest and a netlink
# capture decoded on the host (scripts/check-capture.sh), the netlink
# layer's own tests (a module built with NLTEST_SELFTEST=1 runs them at
# load), with a closing line
# per kernel. Ends with the total `N passed, N failed` and
# exits 0 only when everything passed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
source scripts/kernels.sh
if [ -n "${KERNEL:-}" ]; then
    check_kernel "$KERNEL"
    kernels=("$KERNEL")
else
    kernels=("${supported_kernels[@]}")
fi

scripts/install-toolchain.sh
# rustfmt takes the kernel's settings from the first kernel's tree.
scripts/lint.sh "$(scripts/build-kernel.sh "${kernels[0]}")"

echo ">> host unit tests" >&2
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
host_status=0
cargo test --manifest-path userspace/Cargo.toml 2>&1 | tee "$logs/host" || host_status=$?
host_passed=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' "$logs/host" | paste -sd+ | bc)
host_failed=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' "$logs/host" | paste -sd+ | bc)
host_passed=${host_passed:-0} host_failed=${host_failed:-0}
if [ "$host_status" -ne 0 ] && [ "$host_failed" -eq 0 ]; then
    host_failed=1   # the tests did not even build
fi
results=("host: $host_passed passed, $host_failed failed")
passed=$host_passed failed=$host_failed

for kernel in "${kernels[@]}"; do
    kernel_passed=0 kernel_failed=0
    if ! kdir=$(scripts/prepare.sh "$kernel"); then
        echo "error: linux $kernel: the kernel or a module did not build (see above)" >&2
        kernel_failed=1
    else
        release=$(cat "$kdir/include/config/kernel.release")
        echo ">> linux $release: end-to-end suite with stress and fuzzing in the test guest," >&2
        echo ">> then the portable part of it against the C reference module (on its own unit)" >&2
        KDIR=$kdir qemu/run --kernel "$kernel" --timeout 1200 \
            --add "build/linux-$kernel/c-reference/nltest_ref.ko" \
            --add "build/linux-$kernel/fixtures/genl_squatter.ko" -- \
            sh -c 'nltest-e2e --stress; insmod /added/nltest_ref.ko &&
                   nltest-e2e --reference "$(cat /sys/module/nltest_ref/parameters/unit)"' \
            | tee "$logs/guest-$kernel" || true
        # Two suites, two closing lines; a missing one counts as a failure.
        summaries=$(tr -d '\r' <"$logs/guest-$kernel" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
        while read -r suite_passed suite_failed; do
            [ -n "$suite_passed" ] || continue
            kernel_passed=$((kernel_passed + suite_passed)) kernel_failed=$((kernel_failed + suite_failed))
        done <<<"$summaries"
        if [ "$(grep -c . <<<"$summaries")" -ne 2 ]; then
            echo "error: linux $release: an end-to-end suite did not finish (see above)" >&2
            kernel_failed=$((kernel_failed + 1))
        fi
        # The netlink layer's own tests (rust/netlink/selftest.rs), in a
        # module built with them, which runs them when it loads.
        echo ">> linux $release: the netlink layer's tests (NLTEST_SELFTEST=1)" >&2
        selftest=build/linux-$kernel/selftest
        if NLTEST_SELFTEST=1 scripts/build-module.sh "$kdir" "$selftest" >"$logs/selftest-build-$kernel" 2>&1; then
            KDIR=$kdir qemu/run --kernel "$kernel" --add "$selftest/rust/nltest.ko" -- \
                sh -c 'rmmod nltest && insmod /added/nltest.ko; dmesg | grep "layer selftest"' \
                | tee "$logs/selftest-$kernel" || true
        else
            cat "$logs/selftest-build-$kernel" >&2
        fi
        selftest_counts=$(tr -d '\r' <"$logs/selftest-$kernel" 2>/dev/null |
            sed -n 's/.*layer selftest: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | tail -n 1)
        if [ -n "$selftest_counts" ]; then
            read -r selftest_passed selftest_failed <<<"$selftest_counts"
            kernel_passed=$((kernel_passed + selftest_passed)) kernel_failed=$((kernel_failed + selftest_failed))
        else
            echo "error: linux $release: the layer's tests did not run (see above)" >&2
            kernel_failed=$((kernel_failed + 1))
        fi
        echo ">> linux $release: qemu/run --capture, decoded on the host by tshark" >&2
        if KDIR=$kdir scripts/check-capture.sh "$kernel"; then
            kernel_passed=$((kernel_passed + 1))
        else
            kernel_failed=$((kernel_failed + 1))
        fi
        kernel=$release
    fi
    echo "linux $kernel: $kernel_passed passed, $kernel_failed failed"
    results+=("linux $kernel: $kernel_passed passed, $kernel_failed failed")
    passed=$((passed + kernel_passed)) failed=$((failed + kernel_failed))
done

echo
printf '%s\n' "${results[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
