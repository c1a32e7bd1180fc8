#!/usr/bin/env bash
# Builds the C kernel modules of a source directory (its Kbuild and *.c): the
# benchmark's C reference module (bench/c-reference: nltest_ref.ko) or the
# suite's test fixtures (qemu/fixtures: genl_squatter.ko), in a copy of their
# sources; any compiler or modpost warning fails it. The protocol's numbers
# come from the uapi headers generated from the YNL specs, in
# specs/generated (NLTEST_GENERATED, see bench/c-reference/Kbuild).
#
# usage: scripts/build-c-modules.sh KDIR SOURCE_DIR BUILD_DIR
#   KDIR        kernel build tree (scripts/build-kernel.sh prints the test kernels')
#   SOURCE_DIR  bench/c-reference or qemu/fixtures
#   BUILD_DIR   where the modules are built, e.g. BUILD_DIR/nltest_ref.ko
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: scripts/build-c-modules.sh KDIR SOURCE_DIR BUILD_DIR"
kdir=${1:?$usage}
source_dir=${2:?$usage}
build=$(mkdir -p "${3:?$usage}" && cd "$3" && pwd)
# cp -p: unchanged sources keep their times, so unchanged modules are not rebuilt.
cp -p "$source_dir"/Kbuild "$source_dir"/*.c "$build/"

echo ">> building the modules of $source_dir in $build against $kdir" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$top/scripts/kernel-make.sh" "$kdir" M="$build" \
    NLTEST_GENERATED="$top/specs/generated" modules 2>&1 | tee "$log" >&2; then
    echo "error: the build of $source_dir's modules failed (see above)" >&2
    exit 1
fi
if grep -qi 'warning' "$log"; then
    echo "error: the build of $source_dir's modules printed warnings (see above)" >&2
    exit 1
fi
