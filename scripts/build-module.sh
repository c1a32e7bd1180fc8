#!/usr/bin/env bash
# Builds nltest.ko against a Rust-enabled kernel tree, with the kernel's own
# clippy run (CLIPPY=1); any compiler, clippy or modpost warning fails it.
#
# usage: scripts/build-module.sh [KDIR [BUILD_DIR]]
#   KDIR       kernel build tree (default: the cached test kernel)
#   BUILD_DIR  build in a copy of the sources there, so that modules for
#              several kernels can coexist (default: in place, rust/nltest.ko)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=${1:-}
if [ -z "$kdir" ]; then
    "$top/scripts/install-toolchain.sh"
    kdir=$("$top/scripts/build-kernel.sh" "$top/qemu/kernel.config")
fi
src=$top
if [ -n "${2:-}" ]; then
    src=$(mkdir -p "$2" && cd "$2" && pwd)
    mkdir -p "$src/userspace/protocol/src"
    cp "$top/Kbuild" "$src/"
    cp -r "$top/rust" "$src/"
    cp "$top/userspace/protocol/src/definitions.rs" "$src/userspace/protocol/src/"
fi

echo ">> building $src/rust/nltest.ko against $kdir" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
make -C "$kdir" M="$src" LLVM=1 CLIPPY=1 modules 2>&1 | tee "$log" >&2
if grep -qi 'warning' "$log"; then
    echo "error: the module's build printed warnings (see above)" >&2
    exit 1
fi
