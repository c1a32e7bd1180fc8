#!/usr/bin/env bash
# Builds nltest_ref.ko, the C reference module of the benchmark
# (bench/c-reference), in a copy of its sources; any compiler or modpost
# warning fails it. The protocol's numbers come from the uapi headers
# generated from the YNL specs, in specs/generated (see
# bench/c-reference/Kbuild).
#
# usage: scripts/build-c-reference.sh KDIR BUILD_DIR
#   KDIR       kernel build tree (scripts/build-kernel.sh prints the test kernels')
#   BUILD_DIR  where the module is built; the module is BUILD_DIR/nltest_ref.ko
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=${1:?usage: scripts/build-c-reference.sh KDIR BUILD_DIR}
build=$(mkdir -p "${2:?usage: scripts/build-c-reference.sh KDIR BUILD_DIR}" && cd "$2" && pwd)
# cp -p: unchanged sources keep their times, so an unchanged module is not rebuilt.
cp -p "$top/bench/c-reference/Kbuild" "$top/bench/c-reference/nltest_ref.c" "$build/"

echo ">> building $build/nltest_ref.ko against $kdir" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$top/scripts/kernel-make.sh" "$kdir" M="$build" \
    NLTEST_GENERATED="$top/specs/generated" modules 2>&1 \
    | tee "$log" >&2 || status=$?
if [ "$status" -ne 0 ]; then
    echo "error: the C reference module's build failed (see above)" >&2
    exit 1
fi
if grep -qi 'warning' "$log"; then
    echo "error: the C reference module's build printed warnings (see above)" >&2
    exit 1
fi
