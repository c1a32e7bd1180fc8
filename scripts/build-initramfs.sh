#!/usr/bin/env bash
# Writes the guest's initramfs (a cpio archive): static busybox, the guest
# init, capture-netlink and leak-check, the module, the userspace programs, the command to run and any file
# added with --add.
#
# usage: scripts/build-initramfs.sh OUTPUT MODULE COMMAND_FILE BIN_DIR [ADDED_FILE]...
#   BIN_DIR: directory of statically linked programs to put in /bin
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
output=$1 module=$2 command_file=$3 bin_dir=$4
shift 4

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,host,out,root,etc,modules,added}
chmod 755 "$root"   # mktemp made it 0700: the guest's / must be open to every user
ln -s host/usr "$root/usr"
ln -s host/usr/lib "$root/lib"
ln -s host/usr/lib64 "$root/lib64"

cp /bin/busybox "$root/bin/busybox"
# busybox's `ip` would hide iproute2's, which the tests use from the host.
for applet in $(/bin/busybox --list); do
    case $applet in ip|busybox) ;; *) ln -s busybox "$root/bin/$applet" ;; esac
done
cp "$bin_dir"/* "$root/bin/"

install -m 755 "$here/../qemu/init" "$root/init"
install -m 755 "$here/../qemu/capture-netlink" "$root/bin/capture-netlink"
install -m 755 "$here/../qemu/leak-check" "$root/bin/leak-check"
cp "$module" "$root/modules/nltest.ko"
cp "$command_file" "$root/command"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
for added in "$@"; do
    cp -L "$added" "$root/added/"
done

(cd "$root" && find . | cpio -o -H newc --quiet) >"$output"
