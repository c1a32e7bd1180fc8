#!/usr/bin/env bash
# Prints the path of the source tarball of a supported kernel, fetching it
# first when it is not there yet. The file name carries the Debian package's
# version, so that the test kernel's cache key changes with it.
#
#   6.12  Debian's linux-source-6.12 (bookworm), installed by install-toolchain.sh
#   7.3   Debian's linux-source-7.3 from trixie-backports, downloaded with apt
#         into the cache (signature checked with the machine's Debian keyring);
#         the system's apt sources are not touched
#
# usage: scripts/kernel-source.sh VERSION
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kernels.sh"
version=${1:?usage: scripts/kernel-source.sh VERSION}
check_kernel "$version"
package=linux-source-$version
sources=$nltest_cache/sources
mkdir -p "$sources"
log() { echo ">> $*" >&2; }

case $version in
    6.12)
        installed=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null) || {
            echo "error: $package is not installed: run scripts/install-toolchain.sh" >&2
            exit 1
        }
        tarball=$sources/${package}_$installed.tar.xz
        [ -e "$tarball" ] || ln -sf "/usr/src/$package.tar.xz" "$tarball"
        ;;
    7.3)
        tarball=$(ls "$sources/${package}_"*.tar.xz 2>/dev/null | sort -V | tail -n 1 || true)
        if [ -z "$tarball" ]; then
            # The same archive as the machine's own Debian sources, another suite.
            archive=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources \
                          /dev/null 2>/dev/null | head -n 1)
            archive=${archive:-http://deb.debian.org/debian}
            apt=$(mktemp -d)
            trap 'rm -rf "$apt"' EXIT
            mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
            echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $archive trixie-backports main" \
                >"$apt/sources.list"
            private=(-o Dir::Etc::sourcelist="$apt/sources.list" -o Dir::Etc::sourceparts=/dev/null
                     -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache"
                     -o APT::Sandbox::User=root)
            log "fetching $package from $archive trixie-backports (about 170 MB)"
            apt-get -q "${private[@]}" update >&2
            (cd "$apt" && apt-get -q "${private[@]}" download "$package" >&2)
            deb=$(ls "$apt"/"${package}"_*.deb)
            pkg_version=$(dpkg-deb -f "$deb" Version)
            dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$package.tar.xz" \
                >"$sources/${package}_$pkg_version.tar.xz.part"
            mv "$sources/${package}_$pkg_version.tar.xz.part" "$sources/${package}_$pkg_version.tar.xz"
            tarball=$sources/${package}_$pkg_version.tar.xz
            log "$package $pkg_version saved as $tarball"
        fi
        ;;
esac
echo "$tarball"
