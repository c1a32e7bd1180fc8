#!/usr/bin/env bash
# Builds nltest.ko against a Rust-enabled kernel tree, with the kernel's own
# clippy run (CLIPPY=1); any compiler, clippy or modpost warning fails it.
#
# usage: scripts/build-module.sh KDIR [BUILD_DIR]
#   KDIR       kernel build tree (scripts/build-kernel.sh prints the test kernels')
#   BUILD_DIR  build in a copy of the sources there, so that modules for
#              several kernels can coexist (default: in place, rust/nltest.ko)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=${1:?usage: scripts/build-module.sh KDIR [BUILD_DIR]}
src=$top
if [ -n "${2:-}" ]; then
    src=$(mkdir -p "$2" && cd "$2" && pwd)
    mkdir -p "$src/specs/generated"
    cp "$top/Kbuild" "$src/"
    # rsync would keep the build's outputs; a fresh copy of the sources
    # keeps only the sources' times, so unchanged objects are not rebuilt.
    mkdir -p "$src/rust"
    cp -rp "$top/rust/." "$src/rust/"
    cp -p "$top/specs/generated/nltest.rs" "$src/specs/generated/"
fi

echo ">> building $src/rust/nltest.ko against $kdir" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$top/scripts/kernel-make.sh" "$kdir" M="$src" CLIPPY=1 modules 2>&1 | tee "$log" >&2 || status=$?
if [ "$status" -ne 0 ]; then
    echo "error: the module's build failed (see above)" >&2
    exit 1
fi
if grep -qi 'warning' "$log"; then
    echo "error: the module's build printed warnings (see above)" >&2
    exit 1
fi
