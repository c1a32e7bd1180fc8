#!/usr/bin/env bash
# Builds the benchmark's raw C echo client (bench/raw-client.c), statically
# linked for the guest, into build/guest-bin/raw-client. The C reference
# module is built by scripts/build-c-modules.sh. The protocol's numbers
# come from the uapi headers generated from the YNL specs (specs/generated).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/guest-bin

echo ">> building $out/raw-client (static)" >&2
mkdir -p "$out"
gcc -static -O2 -Wall -Wextra -Werror -I"$top/specs/generated" -o "$out/raw-client" \
    "$top/bench/raw-client.c"
