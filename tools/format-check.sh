#!/bin/bash
# Check (or with -i, apply) the committed .clang-format on every C source
# of the project. Exits 1 and names the files that differ.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' | grep -E '^(fs|store|index|lib|tools|tests)/')
if [ "${1:-}" = -i ]; then
	clang-format -i $files
	exit 0
fi
bad=
for f in $files; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		bad="$bad $f"
	fi
done
if [ -n "$bad" ]; then
	echo "format: not in .clang-format's style (tools/format-check.sh -i):$bad" >&2
	echo "format: 0 passed, 1 failed"
	exit 1
fi
echo "format: 1 passed, 0 failed"
