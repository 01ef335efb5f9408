#!/usr/bin/env bash
# --p99-target-ms and bench-latency from the command line: the flag runs on pipeline
# and reports what it chose (a target no run can hold halves the wait);
# a negative target is a clear error; `bench-latency --quick` writes its CSV (header
# and one row per point) and a PNG. The rule's branches are tested one by one in
# src/pipeline/latency_target_test.cc.
#   tests/latency_cli_test.sh UNIBUS MODEL
set -uo pipefail
U="$1"; MODEL="$2"
DIR="$(mktemp -d /tmp/unibus-latency-cli-XXXXXX)"
trap 'rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 UNIBUS_MODEL="$MODEL"
unset UNIBUS_URL

# 300 images, windows of 200: one decision, reported. p99 produced -> published is
# far above 0.01 ms on any machine, so the wait halves (2 -> 1 ms). Whether the batch
# stays at --max-batch (the tail is queueing: the feed publishes all 300 at once) or
# halves (the service time is half the tail or more, as on a loaded CI machine)
# depends on the machine's load; each branch of the rule is tested on its own in
# src/pipeline/latency_target_test.cc.
"$U" pipeline --url "sqlite://$DIR/b.db" --db "sqlite:$DIR/p.db" -n 300 --quiet --report '' \
  --max-batch 16 --p99-target-ms 0.01 >"$DIR/pipe.out" 2>&1 || fail "pipeline: $(cat "$DIR/pipe.out")"
# (Without a queue the wait is halved only if the excess is within it: kept here unless
# the whole p99 is under 2 ms.)
grep -Eq "p99 target 0.01 ms: 1 windows of 200 latencies; batch 16(; now batch 16, wait 1 ms| -> 8; now batch 8, wait [12] ms)" "$DIR/pipe.out" ||
  fail "no decision reported in: $(cat "$DIR/pipe.out")"

# A target with room to spare keeps the ceiling.
"$U" pipeline --url "sqlite://$DIR/b.db" --db "sqlite:$DIR/p.db" -n 300 --quiet --report '' \
  --max-batch 16 --p99-target-ms 100000 >"$DIR/pipe2.out" 2>&1 || fail "pipeline: $(cat "$DIR/pipe2.out")"
grep -q "batch 16; now batch 16, wait 2 ms" "$DIR/pipe2.out" || fail "batch or wait moved: $(cat "$DIR/pipe2.out")"

if "$U" classify --url "sqlite://$DIR/b.db" --p99-target-ms -1 >"$DIR/bad.out" 2>&1; then
  fail "a negative target was accepted"
fi
grep -q -- "--p99-target-ms" "$DIR/bad.out" || fail "unclear error: $(cat "$DIR/bad.out")"

"$U" bench-latency --quick --csv "$DIR/sweep.csv" --png "$DIR/sweep.png" >"$DIR/sweep.out" 2>&1 ||
  fail "bench-latency: $(cat "$DIR/sweep.out")"
head -1 "$DIR/sweep.csv" | grep -q "^fraction,offered_per_s,achieved_per_s,images,p50_ms,p95_ms,p99_ms,queue_p50_ms" ||
  fail "CSV header: $(head -1 "$DIR/sweep.csv")"
[ "$(wc -l <"$DIR/sweep.csv")" -eq 3 ] || fail "want a header and 2 points: $(cat "$DIR/sweep.csv")"
awk -F, 'NR>1 && ($4 != 300 || $3 <= 0 || $7 < $5) {bad=1} END {exit bad}' "$DIR/sweep.csv" ||
  fail "bad rows (300 images, a rate, p99 >= p50): $(cat "$DIR/sweep.csv")"
head -c 8 "$DIR/sweep.png" | od -An -c | grep -q "P   N   G" || fail "no PNG: $(cat "$DIR/sweep.out")"
echo PASS
