#!/usr/bin/env bash
# Prints the cache directory of a test kernel (VERSION, or VERSION-debug for
# the debug kernel). The name holds the kernel and a hash of everything its
# build depends on: the source package's version, the config fragments, the
# compiler, rustc, bindgen and the build script, so that any change to one of
# them selects a new directory.
#
# usage: scripts/kernel-dir.sh KERNEL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kernels.sh"
kernel=${1:?usage: scripts/kernel-dir.sh KERNEL}
check_kernel "$kernel"
mapfile -t fragments < <(kernel_fragments "$kernel")

key=$(
    basename "$("$here/kernel-source.sh" "${kernel%-debug}")"
    for fragment in "${fragments[@]}"; do cat "$fragment"; done
    rustc --version --verbose
    bindgen --version
    "$llvm_prefix/bin/clang" --version | head -n 1
    cat "$here/build-kernel.sh" "$here/kernel-make.sh" "$here/kernels.sh"
)
echo "$nltest_cache/linux-$kernel-$(printf '%s' "$key" | sha256sum | cut -c1-16)"
