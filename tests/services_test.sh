#!/usr/bin/env bash
# The stages as services: feed, classify and sink as three processes, started in
# reverse order (sink, classify, feed: each before the topic it reads exists), each
# stopped with SIGTERM mid-stream (it must exit 0 having settled what it held) and
# restarted. Every image ends up as exactly one row: 0 lost, 0 duplicate rows. Also a
# stage told to --wait-for-topics waits with a log line until the topic is created,
# and a SIGTERM while it waits ends it with 0.
#   tests/services_test.sh UNIBUS MODEL sqlite
#   tests/services_test.sh UNIBUS MODEL kafka KAFKA_SCRIPT   (one real Kafka broker)
# Prints PASS at the end; any failed check prints FAIL and exits non-zero.
set -uo pipefail
UNIBUS="$1"; MODEL="$2"; BACKEND="$3"; KAFKA="${4:-}"
COUNT="${COUNT:-10000}"; RATE="${RATE:-1500}"
SECONDS=0; step() { echo "[$SECONDS s] $*"; }
DIR="$(mktemp -d /tmp/unibus-services-XXXXXX)"
cleanup() {
  for p in ${SINK:-} ${CLASSIFY:-} ${FEED:-} ${WAITER:-}; do kill -9 "$p" 2>/dev/null; done
  [ -n "$KAFKA" ] && "$KAFKA" stop --dir "$DIR/kafka" --kill >/dev/null 2>&1
  rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$DIR"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -5 "$f"; }; done
  exit 1
}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 UNIBUS_LOG_LEVEL=warn

case "$BACKEND" in
  sqlite) URL="sqlite://$DIR/broker.db" ;;
  kafka)
    out="$("$KAFKA" start --dir "$DIR/kafka" --owner-pid $$ 2>&1)" || { echo "$out"; cat "$DIR"/kafka/node-*/format.log 2>/dev/null | tail -5; fail "kafka start"; }
    URL="kafka://$(sed -n 's/^bootstrap: //p' <<<"$out")"
    ;;
  *) fail "unknown backend '$BACKEND'" ;;
esac
export UNIBUS_URL="$URL"
step "broker $URL"
DB="$DIR/predictions.db"
rows() { sqlite3 "$DB" "SELECT COUNT(*) FROM predictions" 2>/dev/null || echo 0; }
wait_rows() {  # wait_rows N SECONDS
  local end=$((SECONDS + $2))
  while [ "$(rows)" -lt "$1" ]; do
    [ "$SECONDS" -lt "$end" ] || fail "$(rows) rows after $2 s, waiting for $1"
    sleep 0.1
  done
}
alive() { kill -0 "$1" 2>/dev/null || fail "$2 exited (rc $(wait "$1"; echo $?)) instead of running"; }
# stop PID NAME: SIGTERM, and the stage must end by itself with 0.
stop() {
  kill -TERM "$1"
  local rc=0
  wait "$1" || rc=$?
  [ "$rc" = 0 ] || fail "$2 ended with $rc after SIGTERM (expected 0)"
}
start_sink() { "$UNIBUS" sink --db "sqlite:$DB" "$@" >>"$DIR/sink.log" 2>&1 & SINK=$!; }
start_classify() {
  "$UNIBUS" classify --model "$MODEL" --workers 1 --ack-deadline 5s >>"$DIR/classify.log" 2>&1 &
  CLASSIFY=$!
}

# A stage told not to create topics waits, saying so, until the topic appears.
"$UNIBUS" consume -s waiter --topic created-later --wait-for-topics --from-beginning \
  >"$DIR/waiter.out" 2>"$DIR/waiter.log" &
WAITER=$!
for _ in $(seq 1 100); do grep -q "waiting for topic 'created-later'" "$DIR/waiter.log" && break; sleep 0.1; done
grep -q "waiting for topic 'created-later' on $URL (create it with: unibus topics create created-later" \
  "$DIR/waiter.log" || fail "no 'waiting for topic' line: $(cat "$DIR/waiter.log")"
alive "$WAITER" "consume --wait-for-topics"
"$UNIBUS" topics list | grep -qx created-later && fail "--wait-for-topics created the topic"
"$UNIBUS" topics create created-later >/dev/null || fail "topics create created-later"
"$UNIBUS" publish -t created-later hello >/dev/null || fail "publish to created-later"
for _ in $(seq 1 300); do grep -q hello "$DIR/waiter.out" && break; sleep 0.1; done
grep -q hello "$DIR/waiter.out" || fail "the waiting consumer did not get the message once the topic existed"
stop "$WAITER" "consume (waiting, then consuming)"
"$UNIBUS" sink --db "sqlite:$DIR/unused.db" --topic never-created --wait-for-topics \
  >"$DIR/waiter2.log" 2>&1 &
WAITER=$!
for _ in $(seq 1 100); do grep -q "waiting for topic 'never-created'" "$DIR/waiter2.log" && break; sleep 0.1; done
stop "$WAITER" "sink waiting for a topic"
WAITER=
step "--wait-for-topics: waits with a log line, continues once created, SIGTERM while waiting -> 0"

# SIGTERM while classify loads its model: a clean exit, nothing taken.
"$UNIBUS" classify --model "$MODEL" --workers 1 -s early >"$DIR/early.log" 2>&1 &
early=$!
for _ in $(seq 300); do grep -q '^classify: model ' "$DIR/early.log" && break; sleep 0.02; done
stop "$early" "classify stopped while loading its model"
step "classify SIGTERMed while loading its model: exit 0"

# --any-names reaches the predictions broker too (--out-url): a name only sqlite
# accepts is refused without it and created with it.
if [ "$BACKEND" = sqlite ]; then
  OUT="sqlite://$DIR/out.db"
  rc=0
  "$UNIBUS" classify --model "$MODEL" --workers 1 -s names -t names-in --out-url "$OUT" \
    --predictions-topic ab >"$DIR/names.log" 2>&1 || rc=$?
  [ "$rc" = 2 ] && grep -q -- "--any-names" "$DIR/names.log" ||
    fail "classify with predictions topic 'ab' exited $rc: $(cat "$DIR/names.log")"
  "$UNIBUS" classify --model "$MODEL" --workers 1 -s names -t names-in --out-url "$OUT" \
    --predictions-topic ab --any-names >>"$DIR/names.log" 2>&1 &
  names=$!
  for _ in $(seq 300); do
    "$UNIBUS" topics list --url "$OUT" 2>/dev/null | grep -qx ab && break
    sleep 0.1
  done
  "$UNIBUS" topics list --url "$OUT" | grep -qx ab || fail "--any-names did not reach --out-url"
  stop "$names" "classify with --any-names"
  step "--any-names applies to --out-url: 'ab' refused without it, created with it"
fi

# Reverse order: the sink first, before anything exists.
start_sink
sleep 1
alive "$SINK" "sink started first"
start_classify
sleep 1
alive "$SINK" "sink"
alive "$CLASSIFY" "classify started before feed"
"$UNIBUS" feed --count "$COUNT" --rate "$RATE" >"$DIR/feed1.out" 2>"$DIR/feed.log" &
FEED=$!
step "started sink, classify, feed ($COUNT images at $RATE/s)"

for _ in $(seq 300); do grep -q '^feed: sending images' "$DIR/feed.log" && break; sleep 0.05; done
sleep 0.5  # the feed takes ~7 s to publish everything: stop it well before
alive "$FEED" "feed"
stop "$FEED" "feed"
next="$(sed -n 's/.*continue with --first \([0-9]*\).*/\1/p' "$DIR/feed1.out")"
[ -n "$next" ] || fail "feed stopped mid-stream did not say where to continue: $(cat "$DIR/feed1.out")"
step "feed stopped with SIGTERM after publishing $next images; restarted with --first $next"
"$UNIBUS" feed --count "$COUNT" --rate "$RATE" --first "$next" >"$DIR/feed2.out" 2>>"$DIR/feed.log" &
FEED=$!

wait_rows 2000 180
stop "$CLASSIFY" "classify"
classified="$(sed -n 's/^classified \([0-9]*\) images.*/\1/p' "$DIR/classify.log" | tail -1)"
[ -n "$classified" ] && [ "$classified" -lt "$COUNT" ] ||
  fail "the classifier's SIGTERM came too late to test anything (classified ${classified:-?})"
step "classify stopped with SIGTERM at $(rows) rows, having classified $classified; restarted"
start_classify

wait_rows 4000 300
stop "$SINK" "sink"
[ "$(rows)" -lt "$COUNT" ] || fail "the sink's SIGTERM came too late to test anything"
step "sink stopped with SIGTERM at $(rows) rows; restarted (with --metrics)"
start_sink --metrics 127.0.0.1:0

wait "$FEED" || fail "the restarted feed failed: $(cat "$DIR/feed2.out")"
FEED=
wait_rows "$COUNT" 600
sleep 1  # a redelivered prediction arriving now must update, not add, a row
metrics_url="$(grep -o 'http://127.0.0.1:[0-9]*' "$DIR/sink.log" | tail -1)"
curl -fsS "$metrics_url/metrics" >"$DIR/metrics" || fail "sink /metrics at '$metrics_url'"
grep -q '^unibus_subscription_backlog{subscription="sink"} ' "$DIR/metrics" ||
  fail "no consumer lag (backlog) in the sink's metrics: $(grep -v '^#' "$DIR/metrics")"
if [ "$BACKEND" = kafka ]; then
  grep -q '^unibus_subscription_partition_lag{partition="0",subscription="sink"} ' "$DIR/metrics" ||
    fail "no per-partition lag on Kafka: $(grep -v '^#' "$DIR/metrics")"
fi
# What the admin API knows of the sink's subscription, in words where a backend cannot tell.
"$UNIBUS" subscriptions describe sink >"$DIR/describe" || fail "subscriptions describe sink"
grep -qE -- '(: | )-1( |$)' "$DIR/describe" && fail "describe prints -1 for what it does not know: $(cat "$DIR/describe")"
grep -qE '^backlog: [0-9]+$' "$DIR/describe" || fail "describe: no backlog: $(cat "$DIR/describe")"
if [ "$BACKEND" = kafka ]; then
  grep -qE '^members: [1-9]' "$DIR/describe" && grep -qE '^  0 ([0-9]+|none) [0-9]+ [0-9]+$' "$DIR/describe" ||
    fail "describe on Kafka: no members or per-partition offsets and lag: $(cat "$DIR/describe")"
fi
stop "$CLASSIFY" "classify"
stop "$SINK" "sink"
CLASSIFY= SINK=
read -r n distinct redelivered < <(sqlite3 -separator ' ' "$DB" \
  "SELECT COUNT(*), COUNT(DISTINCT image_id), COALESCE(SUM(deliveries-1),0) FROM predictions")
expected="$(sqlite3 "$DB" "SELECT COUNT(*) FROM predictions WHERE image_id GLOB 'img-*' AND CAST(substr(image_id,5) AS INTEGER) < $COUNT")"
lost=$((COUNT - distinct)); dup=$((n - distinct))
step "images $COUNT, rows $n (of the expected ids: $expected), lost $lost, duplicate rows $dup, redelivered predictions $redelivered"
[ "$lost" = 0 ] && [ "$dup" = 0 ] && [ "$expected" = "$COUNT" ] || fail "lost or duplicated images"
echo PASS
