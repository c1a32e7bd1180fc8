#!/usr/bin/env bash
# Builds the suite's test fixture modules (qemu/fixtures: genl_squatter.ko)
# in a copy of their sources; any compiler or modpost warning fails it.
#
# usage: scripts/build-fixtures.sh KDIR BUILD_DIR
#   KDIR       kernel build tree (scripts/build-kernel.sh prints the test kernels')
#   BUILD_DIR  where the modules are built, e.g. BUILD_DIR/genl_squatter.ko
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=${1:?usage: scripts/build-fixtures.sh KDIR BUILD_DIR}
build=$(mkdir -p "${2:?usage: scripts/build-fixtures.sh KDIR BUILD_DIR}" && cd "$2" && pwd)
# cp -p: unchanged sources keep their times, so unchanged modules are not rebuilt.
cp -p "$top"/qemu/fixtures/Kbuild "$top"/qemu/fixtures/*.c "$build/"

echo ">> building the test fixtures in $build against $kdir" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$top/scripts/kernel-make.sh" "$kdir" M="$build" modules 2>&1 | tee "$log" >&2; then
    echo "error: the test fixtures' build failed (see above)" >&2
    exit 1
fi
if grep -qi 'warning' "$log"; then
    echo "error: the test fixtures' build printed warnings (see above)" >&2
    exit 1
fi
