#!/usr/bin/env bash
# Builds the test kernel (tinyconfig plus the given fragments, LLVM=1) into its
# cache directory unless a complete build is already there, then prints the
# directory. A build that did not finish leaves no `.complete` stamp and is
# started again from scratch on the next run.
#
# usage: scripts/build-kernel.sh FRAGMENT...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source_tarball=/usr/src/linux-source-6.12.tar.xz
fragments=()
for fragment in "$@"; do fragments+=("$(realpath "$fragment")"); done
kdir=$("$here/kernel-dir.sh" "${fragments[@]}")

if [ -f "$kdir/.complete" ]; then
    echo "$kdir"
    exit 0
fi

log() { echo ">> $*" >&2; }

rm -rf "$kdir"
mkdir -p "$kdir"
log "unpacking $source_tarball into $kdir"
tar -xf "$source_tarball" -C "$kdir" --strip-components=1

log "configuring: tinyconfig + $*"
make -s -C "$kdir" LLVM=1 tinyconfig >&2
(cd "$kdir" && scripts/kconfig/merge_config.sh -m .config "${fragments[@]}" >/dev/null)
make -s -C "$kdir" LLVM=1 olddefconfig >&2

# A fragment option that Kconfig dropped (an unmet dependency) would give a
# kernel that silently lacks a feature: refuse to build it.
for fragment in "${fragments[@]}"; do
    grep -E '^CONFIG_[A-Z0-9_]+=' "$fragment" | while IFS= read -r wanted; do
        option=${wanted%%=*}
        value=${wanted#*=}
        if [ "$value" = n ]; then
            ! grep -q "^$option=" "$kdir/.config" && continue
        else
            grep -qx "$wanted" "$kdir/.config" && continue
        fi
        echo "error: $wanted from $fragment is not in the resulting .config" \
             "(got: $(grep "^$option=\|^# $option " "$kdir/.config" || echo unset))" >&2
        exit 1
    done
done

make -s -C "$kdir" LLVM=1 rustavailable >&2
log "building the kernel with $(nproc) jobs (about 10 min on 2 cores); log: $kdir/build.log"
start=$SECONDS
if ! make -C "$kdir" LLVM=1 -j"$(nproc)" >"$kdir/build.log" 2>&1; then
    tail -n 30 "$kdir/build.log" >&2
    echo "error: kernel build failed; full log: $kdir/build.log" >&2
    exit 1
fi
log "kernel built in $((SECONDS - start)) s"
touch "$kdir/.complete"
echo "$kdir"
