#!/usr/bin/env bash
# Runs make in a kernel tree with the LLVM the tree was configured with
# (CONFIG_CLANG_VERSION of its .config; the project's LLVM for a tree not
# configured yet), and bindgen pinned to that LLVM's libclang: clang-sys
# would otherwise load the newest libclang on the machine, which rejects
# flags an older clang needs.
#
# usage: scripts/kernel-make.sh KDIR [MAKE ARGUMENTS]...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kernels.sh"
kdir=${1:?usage: scripts/kernel-make.sh KDIR [MAKE ARGUMENTS]...}
shift

major=$llvm_version
if [ -f "$kdir/.config" ]; then
    clang_version=$(sed -n 's/^CONFIG_CLANG_VERSION=\([0-9]*\)$/\1/p' "$kdir/.config")
    if [ -z "$clang_version" ] || [ "$clang_version" -eq 0 ]; then
        echo "error: $kdir was not configured with clang (CONFIG_CLANG_VERSION);" \
             "Rust modules need an LLVM=1 kernel build" >&2
        exit 1
    fi
    major=$((clang_version / 10000))
fi
prefix=/usr/lib/llvm-$major
if [ ! -x "$prefix/bin/clang" ]; then
    echo "error: $kdir was built with clang $major, which is not installed" \
         "(apt-get install clang-$major lld-$major llvm-$major libclang-$major-dev)" >&2
    exit 1
fi
export LIBCLANG_PATH=$prefix/lib
exec make -C "$kdir" LLVM="$prefix/bin/" "$@"
