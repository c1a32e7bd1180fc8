#!/usr/bin/env bash
# Builds the statically linked programs that run in the guest (the nltest CLI,
# the end-to-end suite and the seed article's C clients) into build/guest-bin.
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
