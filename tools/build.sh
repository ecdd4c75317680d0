#!/bin/bash
# Build chronofs into DIR (default build); extra arguments go to meson setup.
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
[ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null
ninja -C "$dir" >/dev/null
