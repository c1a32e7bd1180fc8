#!/usr/bin/env bash
# Regenerates everything the YNL specs (specs/*.yaml) define, with the kernel
# tree's own YNL tooling where it has one:
#   specs/generated/nltest.h, nltest_raw.h  uapi headers (ynl_gen_c.py --mode uapi)
#   specs/generated/nltest.rs               Rust definitions (scripts/ynl-gen-rust.py)
#   docs/protocol.md                        its reference tables (the same)
# Both specs are validated against the kernel's schemas on the way.
# With --check nothing is written; it fails, showing the difference, when a
# generated file is stale (make test runs it so).
#
# usage: scripts/ynl-regen.sh [--check] [KDIR]
#   KDIR  a Linux 7.3 tree; by default, its YNL tooling and schemas taken
#         from the 7.3 source (scripts/kernel-source.sh 7.3) into the cache
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/scripts/kernels.sh"
check=
if [ "${1:-}" = --check ]; then
    check=--check
    shift
fi
if [ -n "${1:-}" ]; then
    kdir=$1
else
    tarball=$("$top/scripts/kernel-source.sh" 7.3)
    kdir=$nltest_cache/ynl-$(basename "$tarball" .tar.xz)
    if [ ! -e "$kdir/.complete" ]; then
        echo ">> unpacking the YNL tooling of $(basename "$tarball") into $kdir" >&2
        rm -rf "$kdir" && mkdir -p "$kdir"
        tar -xJf "$tarball" -C "$kdir" --strip-components=1 \
            --wildcards '*/tools/net/ynl' '*/Documentation/netlink'
        touch "$kdir/.complete"
    fi
fi
pyynl=$kdir/tools/net/ynl/pyynl
[ -f "$pyynl/ynl_gen_c.py" ] || {
    echo "ynl-regen.sh: no $pyynl/ynl_gen_c.py: KDIR must be a Linux 7.3 tree" >&2
    exit 1
}
generated=$top/specs/generated

# ynl_gen_c.py names the spec by its path below the tree that holds a
# MAINTAINERS file, and finds the schemas one level above the spec: give it
# such a tree, with the specs under specs/.
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
touch "$tree/MAINTAINERS"
ln -s "$kdir"/Documentation/netlink/*.yaml "$tree/"
mkdir "$tree/specs" "$tree/out"
cp "$top"/specs/*.yaml "$tree/specs/"

status=0
for spec in nltest nltest-raw; do
    header=${spec//-/_}.h
    (cd "$tree" && python3 "$pyynl/ynl_gen_c.py" --mode uapi --header \
        --spec "$tree/specs/$spec.yaml" -o "$tree/out/$header") >/dev/null
    if [ -n "$check" ]; then
        if ! diff -u "$generated/$header" "$tree/out/$header" >&2; then
            echo "specs/generated/$header is stale: run scripts/ynl-regen.sh" >&2
            status=1
        fi
    else
        cp "$tree/out/$header" "$generated/$header"
    fi
done

(cd "$top" && python3 scripts/ynl-gen-rust.py $check --ynl "$pyynl" \
    -o specs/generated/nltest.rs --tables docs/protocol.md \
    specs/nltest.yaml specs/nltest-raw.yaml) || {
    echo "specs/generated/nltest.rs or the tables of docs/protocol.md are stale (or a spec is invalid): run scripts/ynl-regen.sh" >&2
    status=1
}
exit "$status"
