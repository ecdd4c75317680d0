#!/bin/bash
# Run each libFuzzer target for SECONDS (default 60) under ASan+UBSan.
#   bash tools/fuzz.sh [SECONDS]
# Builds build-fuzz/ with clang; the seed corpora in tests/fuzz/corpus/ are
# copied to a scratch directory so a run never changes the tree. Exits
# non-zero on any finding.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
bash tools/deps.sh
[ -f build-fuzz/build.ninja ] ||
	CC=clang meson setup build-fuzz -Db_sanitize=address,undefined \
		-Db_lundef=false >/dev/null
ninja -C build-fuzz >/dev/null
status=0
for target in keycodec json when spec jtree; do
	work=$(mktemp -d)
	# jtree parses what the validator accepts: the JSON corpus seeds it.
	seeds=$target
	[ "$target" = jtree ] && seeds=json
	cp -r "tests/fuzz/corpus/$seeds/." "$work/"
	echo "== fuzz_$target for ${secs}s"
	"build-fuzz/tests/fuzz_$target" -max_total_time="$secs" \
		-print_final_stats=1 "$work" >"$work.log" 2>&1 || status=1
	grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==.*ERROR)|Done [0-9]+ runs" "$work.log"
	rm -f "$work.log"
	rm -rf "$work"
done
exit $status
