#!/usr/bin/env bash
# Formatting and lints: the files generated from the YNL specs are up to
# date (and the specs valid), rustfmt on the module (with the kernel's
# rustfmt settings) and on userspace, clippy on userspace with warnings as
# errors. The module's own clippy run is part of its build
# (scripts/build-module.sh).
#
# usage: scripts/lint.sh KDIR
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=$1

echo ">> specs/generated and docs/protocol.md up to date with the specs" >&2
"$top/scripts/ynl-regen.sh" --check
echo ">> rustfmt --check (module)" >&2
rustfmt --check --edition 2021 --config-path "$kdir/.rustfmt.toml" "$top/rust/nltest_main.rs"
echo ">> cargo fmt --check (userspace)" >&2
(cd "$top/userspace" && cargo fmt --all --check)
echo ">> cargo clippy -D warnings (userspace)" >&2
cargo clippy --quiet --manifest-path "$top/userspace/Cargo.toml" --all-targets -- -D warnings
