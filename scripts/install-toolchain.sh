#!/usr/bin/env bash
# Installs everything the build and the tests need: Debian packages, the
# rust-src component, bindgen-cli and virtiofsd. Safe to run again: each step
# is skipped when what it installs is already there. The 7.3 source is
# fetched when a 7.3 kernel is first built (scripts/kernel-source.sh).
set -euo pipefail
source "$(dirname "$0")/kernels.sh"

packages=(
    linux-source-6.12                               # the 6.12 test kernel's source
    clang-$llvm_version lld-$llvm_version           # the kernels' LLVM build
    llvm-$llvm_version libclang-$llvm_version-dev   # ... and bindgen's libclang
    make bc flex bison libelf-dev libssl-dev cpio   # kernel build
    xz-utils python3
    qemu-system-x86 busybox-static                  # the guest and its userland
    iproute2 strace                                 # host programs shared into the guest
    tcpdump tshark                                  # netlink captures (qemu/run --capture) and their decoding
    python3-yaml python3-jsonschema                 # the kernel's YNL tooling (tools/net/ynl)
    python3-pyroute2 libnl-3-dev libnl-genl-3-dev   # clients of other libraries, in the suite
    libseccomp-dev libcap-ng-dev                    # virtiofsd's build (qemu/run's host share)
)

sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo ">> installing Debian packages: ${missing[*]}"
    sudo_if_needed apt-get update -q
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! rustup component list --installed | grep -q '^rust-src'; then
    echo ">> rustup component add rust-src"
    rustup component add rust-src
fi

if ! command -v bindgen >/dev/null 2>&1; then
    echo ">> cargo install bindgen-cli (about 70 s)"
    cargo install --locked bindgen-cli
fi

# qemu/run shares the host's file system over virtiofs with it (9p without).
if ! command -v virtiofsd >/dev/null 2>&1 && [ ! -x ~/.cargo/bin/virtiofsd ]; then
    echo ">> cargo install virtiofsd (about 3 min, 10 on a busy machine)"
    cargo install --locked virtiofsd
fi
