#!/usr/bin/env bash
# Builds nltest_ref.ko, the C reference module of the benchmark
# (bench/c-reference), in a copy of its sources; any compiler or modpost
# warning fails it. The protocol header is generated during the build from
# userspace/protocol/src/definitions.rs (see bench/c-reference/Kbuild).
#
# usage: scripts/build-c-reference.sh [KDIR [BUILD_DIR]]
#   KDIR       kernel build tree (default: the cached test kernel,
#              scripts/kernel-dir.sh qemu/kernel.config)
#   BUILD_DIR  where the module is built (default: build/c-reference); the
#              module is BUILD_DIR/nltest_ref.ko
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=${1:-}
if [ -z "$kdir" ]; then
    kdir=$("$top/scripts/kernel-dir.sh" "$top/qemu/kernel.config")
    if [ ! -f "$kdir/.complete" ]; then
        echo "error: the test kernel is not built in $kdir: run 'make' (or scripts/build-kernel.sh qemu/kernel.config) first" >&2
        exit 1
    fi
fi
build=$(mkdir -p "${2:-$top/build/c-reference}" && cd "${2:-$top/build/c-reference}" && pwd)
# cp -p: unchanged sources keep their times, so an unchanged module is not rebuilt.
cp -p "$top/bench/c-reference/Kbuild" "$top/bench/c-reference/nltest_ref.c" "$build/"

echo ">> building $build/nltest_ref.ko against $kdir" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
make -C "$kdir" M="$build" LLVM=1 \
    NLTEST_PROTOCOL_DEFINITIONS="$top/userspace/protocol/src/definitions.rs" modules 2>&1 \
    | tee "$log" >&2
if grep -qi 'warning' "$log"; then
    echo "error: the C reference module's build printed warnings (see above)" >&2
    exit 1
fi
