#!/usr/bin/env bash
# `make run`: builds what is missing, boots the test kernel (KERNEL, default
# 7.3) and shows the module at work (qemu/demo.sh). CAPTURE=FILE.pcap records
# the run's netlink messages into FILE.pcap (qemu/run --capture).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
source scripts/kernels.sh
kernel=${KERNEL:-$default_kernel}
check_kernel "$kernel"

kdir=$(scripts/prepare.sh "$kernel")
capture=()
if [ -n "${CAPTURE:-}" ]; then
    capture=(--capture "$CAPTURE")
fi
echo ">> booting the linux $kernel test kernel (TCG)" >&2
KDIR=$kdir exec qemu/run --kernel "$kernel" "${capture[@]}" --add qemu/demo.sh -- sh /added/demo.sh
