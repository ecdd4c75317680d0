#!/bin/bash
# The whole test suite: installs what it needs, builds twice (plain, and
# with AddressSanitizer + UBSan), runs the unit tests and the mount tests
# against each build, and prints one closing line "N passed, M failed".
set -u
cd "$(dirname "$0")/.."
bash tools/deps.sh || exit 1
passed=0 failed=0

# Run one suite; its last line is "NAME: N passed, M failed". (Its output
# is copied to a file, not to /dev/stderr: reopening that truncates a log
# file that stdout and stderr share.)
log=$(mktemp)
trap 'rm -f "$log" "$log.unit"' EXIT
suite() {
	local out
	"$@" 2>&1 | tee "$log"
	out=$(tail -n 1 "$log")
	local p f
	p=$(sed -n 's/.* \([0-9]\+\) passed.*/\1/p' <<<"$out")
	f=$(sed -n 's/.* \([0-9]\+\) failed.*/\1/p' <<<"$out")
	if [ -z "$p" ]; then
		echo "suite '$*' printed no summary: counted as failed" >&2
		p=0 f=1
	fi
	passed=$((passed + p)) failed=$((failed + f))
}

unit() { # meson's unit tests, counted from meson's own summary
	local out ok xfail fail xpass timeout
	meson test -C "$1" --print-errorlogs 2>&1 | tee "$log.unit"
	out=$(cat "$log.unit")
	# "Ok:  N", "Expected Fail:  N", "Fail:  N", "Unexpected Pass:  N",
	# "Timeout:  N": what ran; skipped tests did not.
	count() { sed -n "s/^$1: *\([0-9]\+\) *\$/\1/p" <<<"$out" | tail -n 1; }
	ok=$(count Ok) xfail=$(count 'Expected Fail') fail=$(count Fail)
	xpass=$(count 'Unexpected Pass') timeout=$(count Timeout)
	if [ -z "$ok" ] || [ -z "$fail" ]; then
		echo "unit: 0 passed, 1 failed (meson printed no summary)"
		return
	fi
	echo "unit: $((ok + ${xfail:-0})) passed," \
		"$((fail + ${xpass:-0} + ${timeout:-0})) failed"
}

rust() { # the Rust binding's cargo test against the plain build, summarized
	local out rc
	out=$(cd tools/rust && CHRONOFS_BUILD=build \
		CARGO_TARGET_DIR="$PWD/../../build/cargo" cargo test --offline 2>&1)
	rc=$?
	printf '%s\n' "$out"
	# cargo prints "test result: ok. N passed; M failed; ..." per test
	# program; a build failure prints none.
	awk -v rc=$rc '/^test result:/ { p += $4; f += $6 }
		END { if (rc != 0 && f == 0) f = 1;
		      printf "rust: %d passed, %d failed\n", p, f }' <<<"$out"
}

# Every C file in the committed .clang-format's style.
suite bash tools/format-check.sh

for variant in build build-asan; do
	opts=
	[ "$variant" = build-asan ] && opts="-Db_sanitize=address,undefined -Db_lundef=false"
	echo "== $variant" >&2
	if ! bash tools/build.sh "$variant" $opts; then
		echo "build $variant failed" >&2
		failed=$((failed + 1))
		continue
	fi
	suite unit "$variant"
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
	export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	suite env CHRONOFS_BUILD="$variant" python3 tests/e2e/run.py
	# The stress suite's short variant (~30 s): kill -9 storms with
	# fsync on and off, concurrency beside outside git, a stale ref lock,
	# power cuts (loop devices: as root).
	[ "$variant" = build ] &&
		suite env CHRONOFS_BUILD=build CHRONOFS_STRESS_SECONDS=2 \
			python3 tests/stress/run.py concurrency crash-kill9 \
			crash-kill9-fsync stale-lock power-loss
done
if [ -f build/lib/libchronofs.so ]; then
	suite rust
	# The .debs from a copy of the tree, and lintian (about a minute).
	suite bash tools/debian-check.sh build-deb
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
