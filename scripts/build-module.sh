#!/usr/bin/env bash
# Builds rust/nltest.ko against a Rust-enabled kernel tree, with the kernel's own
# clippy run (CLIPPY=1); any compiler, clippy or modpost warning fails it.
#
# usage: scripts/build-module.sh [KDIR]   (default: the cached test kernel)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=${1:-}
if [ -z "$kdir" ]; then
    "$top/scripts/install-toolchain.sh"
    kdir=$("$top/scripts/build-kernel.sh" "$top/qemu/kernel.config")
fi

echo ">> building nltest.ko against $kdir" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
make -C "$kdir" M="$top" LLVM=1 CLIPPY=1 modules 2>&1 | tee "$log" >&2
if grep -qi 'warning' "$log"; then
    echo "error: the module's build printed warnings (see above)" >&2
    exit 1
fi
