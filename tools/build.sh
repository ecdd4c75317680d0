#!/bin/bash
# Build chronofs into DIR (default build); extra arguments go to meson setup.
# Quiet when it works; the compiler's messages when it does not.
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
[ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null
if ! out=$(ninja -C "$dir" 2>&1); then
	printf '%s\n' "$out" >&2
	exit 1
fi
