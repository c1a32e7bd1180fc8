#!/usr/bin/env bash
# Prints the cache directory of the test kernel built from the given config
# fragments. The name holds a hash of everything the build depends on: the
# kernel source package, the fragments, the toolchain and the build script,
# so that any change to one of them selects a new directory.
#
# usage: scripts/kernel-dir.sh FRAGMENT...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${NLTEST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nltest}

key=$(
    dpkg-query -W -f='${Version}\n' linux-source-6.12
    for fragment in "$@"; do cat "$fragment"; done
    rustc --version --verbose
    bindgen --version
    clang --version | head -n 1
    cat "$here/build-kernel.sh"
)
name=$(basename "${@: -1}" .config)
echo "$cache/$name-$(printf '%s' "$key" | sha256sum | cut -c1-16)"
