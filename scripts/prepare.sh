#!/usr/bin/env bash
# Makes everything a guest run on KERNEL needs, building only what is
# missing or stale: the toolchain, the test kernel (cached), nltest.ko, the
# C reference module and the test fixtures for it, and the guest's userspace
# programs. Prints the kernel's build tree.
#
# The modules go to build/linux-KERNEL/ (rust/nltest.ko,
# c-reference/nltest_ref.ko, fixtures/*.ko), where qemu/run --kernel KERNEL
# finds nltest.ko and the suite's scripts find the others.
#
# usage: scripts/prepare.sh KERNEL     (e.g. 7.3, 6.12, 7.3-debug)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: scripts/prepare.sh KERNEL}

"$top/scripts/install-toolchain.sh" >&2
kdir=$("$top/scripts/build-kernel.sh" "$kernel")
"$top/scripts/build-module.sh" "$kdir" "$top/build/linux-$kernel"
"$top/scripts/build-c-modules.sh" "$kdir" "$top/bench/c-reference" "$top/build/linux-$kernel/c-reference"
"$top/scripts/build-c-modules.sh" "$kdir" "$top/qemu/fixtures" "$top/build/linux-$kernel/fixtures"
"$top/scripts/build-userspace.sh"
echo "$kdir"
