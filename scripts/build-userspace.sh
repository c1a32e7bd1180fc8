#!/usr/bin/env bash
# Builds the programs that run in the guest into build/guest-bin: the nltest
# CLI, the end-to-end suite and the seed article's C clients, statically
# linked, and the libnl client of the suite (the guest has the host's
# libraries).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/guest-bin

echo ">> building the userspace programs (static)" >&2
cargo build --quiet --release --manifest-path "$top/userspace/Cargo.toml"
mkdir -p "$out"
cp "$top/userspace/target/x86_64-unknown-linux-gnu/release/"{nltest,nltest-e2e} "$out/"
for client in unicast multicast; do
    gcc -static -O2 -Wall -Werror -o "$out/seed-$client" "$top/userspace/seed-clients/$client.c"
done
gcc -O2 -Wall -Wextra -Werror -I"$top/specs/generated" -I/usr/include/libnl3 \
    -o "$out/libnl-nltest" "$top/userspace/e2e/clients/libnl_nltest.c" -lnl-genl-3 -lnl-3
