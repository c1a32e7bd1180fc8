#!/usr/bin/env bash
# `make run`: builds what is missing, boots the test kernel and shows the
# module at work (qemu/demo.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scripts/install-toolchain.sh
kdir=$(scripts/build-kernel.sh qemu/kernel.config)
scripts/build-module.sh "$kdir"
scripts/build-userspace.sh
echo ">> booting the test kernel (TCG)" >&2
KDIR=$kdir exec qemu/run --add qemu/demo.sh -- sh /added/demo.sh
