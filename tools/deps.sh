#!/bin/bash
# Install the Debian packages chronofs builds, runs and tests with (as root).
# `deps.sh bench` adds what tools/bench needs, `deps.sh deb` what the
# Debian packaging needs. Skips apt entirely when everything is there.
set -eu
PKGS="build-essential meson ninja-build pkg-config git ca-certificates
libfuse3-dev fuse3 libgit2-dev librocksdb-dev libjansson-dev zlib1g-dev libdeflate-dev libssl-dev
python3 python3-pip rsync vim sed diffutils procps clang clang-format util-linux
groff-base man-db bash-completion cargo openssh-client openssh-server lighttpd
mount e2fsprogs xfsprogs"
[ "${1:-}" = bench ] && PKGS="$PKGS gnuplot-nox sqlite3 libsqlite3-dev"
# `deps.sh deb`: what tools/debian-check.sh needs to build and check .debs.
[ "${1:-}" = deb ] && PKGS="$PKGS dpkg-dev debhelper dh-python lintian"
missing=
for p in $PKGS; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
