# Sourced by the scripts: the kernels this project supports and the compiler
# that builds them. One place, so that adding a kernel is one line here and
# one case in kernel-source.sh.

# The first is the default (KERNEL=... picks another).
supported_kernels=(7.3 6.12)
default_kernel=${supported_kernels[0]}

# One LLVM for every kernel: 7.3 needs LLVM 17 or newer, and bookworm's
# clang-19 builds 6.12 as well. The kernel build and bindgen (through
# libclang, LIBCLANG_PATH) must use the same version.
llvm_version=19
llvm_prefix=/usr/lib/llvm-$llvm_version

# The cache of test kernels and kernel sources, outside the repository.
nltest_cache=${NLTEST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nltest}

# Checks a kernel name given by the user: a supported version, optionally
# with -debug (the debug kernel of that version).
check_kernel() {
    local version=${1%-debug} supported
    for supported in "${supported_kernels[@]}"; do
        [ "$version" = "$supported" ] && return 0
    done
    echo "error: kernel '$1' is not supported; pick one of ${supported_kernels[*]}" \
         "(KERNEL=VERSION, qemu/run --kernel VERSION[-debug])" >&2
    exit 2
}

# The config fragments of a kernel (VERSION or VERSION-debug), applied in
# this order on top of tinyconfig: the common one, the version's own (what
# Kconfig names differently there), the debug options.
kernel_fragments() {
    local top version=${1%-debug}
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    echo "$top/qemu/kernel.config"
    [ -f "$top/qemu/kernel-$version.config" ] && echo "$top/qemu/kernel-$version.config"
    [ "$1" != "$version" ] && echo "$top/qemu/debug.config"
    return 0
}
