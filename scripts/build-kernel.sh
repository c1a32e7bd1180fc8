#!/usr/bin/env bash
# Builds a test kernel (VERSION, or VERSION-debug: tinyconfig plus the
# fragments of kernels.sh, with the project's LLVM) into its cache directory
# unless a complete build is already there, then prints the directory. A
# build that did not finish leaves no `.complete` stamp and is started again
# from scratch on the next run.
#
# usage: scripts/build-kernel.sh KERNEL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kernels.sh"
kernel=${1:?usage: scripts/build-kernel.sh KERNEL (one of ${supported_kernels[*]}, or VERSION-debug)}
check_kernel "$kernel"
mapfile -t fragments < <(kernel_fragments "$kernel")
source_tarball=$("$here/kernel-source.sh" "${kernel%-debug}")
kdir=$("$here/kernel-dir.sh" "$kernel")
kmake() { "$here/kernel-make.sh" "$kdir" "$@"; }

if [ -f "$kdir/.complete" ]; then
    echo "$kdir"
    exit 0
fi

log() { echo ">> $*" >&2; }

rm -rf "$kdir"
mkdir -p "$kdir"
log "linux $kernel: unpacking $(basename "$source_tarball") into $kdir"
tar -xf "$source_tarball" -C "$kdir" --strip-components=1

log "linux $kernel: configuring: tinyconfig + ${fragments[*]##*/}"
kmake -s tinyconfig >&2
(cd "$kdir" && scripts/kconfig/merge_config.sh -m .config "${fragments[@]}" >/dev/null)
kmake -s olddefconfig >&2

# A fragment option that Kconfig dropped (an unmet dependency, or a name
# this version does not have) would give a kernel that silently lacks a
# feature: refuse to build it.
for fragment in "${fragments[@]}"; do
    grep -E '^CONFIG_[A-Z0-9_]+=' "$fragment" | while IFS= read -r wanted; do
        option=${wanted%%=*}
        value=${wanted#*=}
        if [ "$value" = n ]; then
            ! grep -q "^$option=" "$kdir/.config" && continue
        else
            grep -qx "$wanted" "$kdir/.config" && continue
        fi
        echo "error: $wanted from $fragment is not in the resulting .config of linux $kernel" \
             "(got: $(grep "^$option=\|^# $option " "$kdir/.config" || echo unset))" >&2
        exit 1
    done
done

kmake -s rustavailable >&2
log "linux $kernel: building with $(nproc) jobs (6.12 about 5 min, 7.3 about 11 min on 2 cores, more for -debug); log: $kdir/build.log"
start=$SECONDS
if ! kmake -j"$(nproc)" >"$kdir/build.log" 2>&1; then
    tail -n 30 "$kdir/build.log" >&2
    echo "error: linux $kernel: kernel build failed; full log: $kdir/build.log" >&2
    exit 1
fi
log "linux $kernel: built in $((SECONDS - start)) s"
touch "$kdir/.complete"
echo "$kdir"
