#!/bin/sh
# Run every test of the build in $BUILD (default build-san): the C unit
# tests, a replay of each fuzz target's seed corpus, and the pytest suite.
# Every part prints "N passed, N failed"; the last line adds them up.
set -u
BUILD=${BUILD:-build-san}
SHARED=${SHARED:-../shared}
PYTHON=${PYTHON:-python3}
export SHARED BUILD
total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Add the counts of the last "N passed, N failed" line of $log.
tally() {
	line=$(grep -oE '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=$(printf '%s' "$line" | awk '{print $1 + 0}')
	f=$(printf '%s' "$line" | awk '{print $3 + 0}')
	if [ -z "$line" ]; then
		p=0; f=1
		echo "$1: printed no result line: counted as a failure"
	fi
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "$1: exited $2: counted as a failure"
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	"$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	tally "$(basename "$t")" "$rc"
done

seeds=$(mktemp -d)
"$PYTHON" tests/fuzz/make_seeds.py "$seeds" >/dev/null
for r in "$BUILD"/tests/replay_*; do
	[ -x "$r" ] || continue
	name=$(basename "$r" | sed 's/^replay_//')
	"$r" "$seeds/$name" >"$log" 2>&1
	rc=$?
	cat "$log"
	tally "$name corpus" "$rc"
done
rm -rf "$seeds"

if [ -d tests/pytest ] && ls tests/pytest/test_*.py >/dev/null 2>&1; then
	"$PYTHON" -m pytest -q -p no:cacheprovider tests/pytest >"$log" 2>&1
	rc=$?
	cat "$log"
	# pytest says "3 passed, 1 failed" or just "3 passed": normalise.
	sum=$(tail -n 1 "$log")
	p=$(printf '%s' "$sum" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
	f=$(printf '%s' "$sum" | grep -oE '[0-9]+ (failed|error|errors)' | awk '{s += $1} END {print s + 0}')
	[ -n "$p" ] || p=0
	[ -n "$f" ] || f=0
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	echo "pytest: $p passed, $f failed"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
