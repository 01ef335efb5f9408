#!/usr/bin/env bash
# --metrics on the pipeline stages: feed, classify and sink as services on one sqlite
# broker, each serving /metrics (checked by promtool) whose figures follow the images:
# published, delivered, acked, dead-lettered by reason class, end-to-end latency, batch
# size and inference time histograms, the model as an info metric, the backlog; and
# `pipeline --metrics` while it runs. A port in use and a non-loopback address are
# clear errors on the new commands too.
#   tests/stage_metrics_test.sh UNIBUS MODEL
set -uo pipefail
U="$1"; MODEL="$2"; N=200
DIR="$(mktemp -d /tmp/unibus-stage-metrics-XXXXXX)"
cleanup() {
  for p in ${SINK:-} ${CLASSIFY:-} ${PIPE:-}; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
command -v promtool >/dev/null || fail "promtool missing; scripts/setup.sh installs it (package prometheus)"
export UNIBUS_URL="sqlite://$DIR/broker.db" OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
served_at() {  # served_at LOG: the URL a stage says it serves metrics on
  local url=""
  for _ in $(seq 200); do
    url="$(grep -o 'http://127.0.0.1:[0-9]*' "$1" | head -1)"
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || fail "no metrics address in $1: $(cat "$1")"
  echo "$url"
}
scrape() {  # scrape URL FILE: /metrics, which promtool must accept
  curl -fsS "$1/metrics" >"$2" || fail "GET $1/metrics"
  promtool check metrics <"$2" || fail "promtool rejects $1/metrics: $(cat "$2")"
}
has() {  # has FILE LINE
  grep -qF -- "$2" "$1" || fail "no '$2' in: $(grep -v '^#' "$1")"
}
settle() {  # settle URL LINE...: wait (up to 30 s) until /metrics shows every LINE
  local url="$1"; shift
  for _ in $(seq 300); do
    local m; m="$(curl -fsS "$url/metrics" 2>/dev/null)"
    local all=1
    for l in "$@"; do grep -qF -- "$l" <<<"$m" || all=0; done
    [ "$all" = 1 ] && return 0
    sleep 0.1
  done
}
value() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

"$U" sink --db "sqlite:$DIR/p.db" --metrics 127.0.0.1:0 >"$DIR/sink.log" 2>&1 &
SINK=$!
"$U" classify --model "$MODEL" --workers 1 --metrics 127.0.0.1:0 >"$DIR/classify.log" 2>&1 &
CLASSIFY=$!
SINK_URL="$(served_at "$DIR/sink.log")"; CLASSIFY_URL="$(served_at "$DIR/classify.log")"
for _ in $(seq 300); do curl -fsS "$CLASSIFY_URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$CLASSIFY_URL/readyz" >/dev/null || fail "classify never ready: $(cat "$DIR/classify.log")"
scrape "$CLASSIFY_URL" "$DIR/c0"
has "$DIR/c0" 'unibus_messages_acked_total{subscription="classifier"} 0'

"$U" feed --count "$N" --metrics 127.0.0.1:0 >"$DIR/feed.out" 2>"$DIR/feed.log" ||
  fail "feed --metrics: $(cat "$DIR/feed.log")"
grep -q 'serving /metrics' "$DIR/feed.log" || fail "feed did not serve metrics: $(cat "$DIR/feed.log")"
"$U" publish -t images "not an image" >/dev/null || fail "publish a bad image"
for _ in $(seq 600); do
  [ "$(sqlite3 "$DIR/p.db" 'SELECT COUNT(*) FROM predictions' 2>/dev/null || echo 0)" -ge "$N" ] && break
  sleep 0.1
done
settle "$CLASSIFY_URL" "unibus_messages_acked_total{subscription=\"classifier\"} $N" \
  'unibus_messages_dead_lettered_total{reason="rejected",subscription="classifier"} 1' \
  "unibus_end_to_end_latency_seconds_count{subscription=\"classifier\"} $N"
settle "$SINK_URL" "unibus_end_to_end_latency_seconds_count{subscription=\"sink\"} $N"
scrape "$CLASSIFY_URL" "$DIR/c1"
has "$DIR/c1" "unibus_messages_acked_total{subscription=\"classifier\"} $N"
has "$DIR/c1" 'unibus_messages_dead_lettered_total{reason="rejected",subscription="classifier"} 1'
has "$DIR/c1" 'unibus_messages_dead_lettered_total{reason="max_delivery_attempts",subscription="classifier"} 0'
has "$DIR/c1" "unibus_end_to_end_latency_seconds_count{subscription=\"classifier\"} $N"
has "$DIR/c1" "unibus_classify_batch_size_sum{subscription=\"classifier\"} $N"
has "$DIR/c1" 'unibus_model_info{version="'
has "$DIR/c1" "unibus_messages_published_total{topic=\"predictions\"} $N"
has "$DIR/c1" 'unibus_subscription_backlog{subscription="classifier"} 0'
calls="$(value "$DIR/c1" 'unibus_classify_inference_seconds_count{subscription="classifier"}')"
batches="$(value "$DIR/c1" 'unibus_classify_batches_total{stage="classify"}')"
[ -n "$calls" ] && [ "$calls" = "$batches" ] && [ "$calls" -ge 1 ] ||
  fail "inference_seconds_count '$calls' is not the number of batches '$batches'"
scrape "$SINK_URL" "$DIR/s1"
has "$DIR/s1" "unibus_sink_rows_total{stage=\"sink\"} $N"
has "$DIR/s1" "unibus_end_to_end_latency_seconds_count{subscription=\"sink\"} $N"
has "$DIR/s1" "unibus_messages_acked_total{subscription=\"sink\"} $N"
for p in "$SINK" "$CLASSIFY"; do
  kill -TERM "$p"; wait "$p" || fail "a stage did not exit 0 on SIGTERM"
done
SINK= CLASSIFY=
echo "feed, classify, sink: promtool accepts /metrics; $N images counted through"

# A port in use, named; a non-loopback address refused without the flag.
python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$DIR/port" &
HOLDER=$!
for _ in $(seq 50); do [ -s "$DIR/port" ] && break; sleep 0.1; done
port="$(cat "$DIR/port")"
err="$("$U" feed --count 1 --metrics "127.0.0.1:$port" 2>&1)"; rc=$?
kill "$HOLDER"
[ "$rc" = 5 ] && [[ "$err" == *"port $port is already in use"* ]] || fail "feed, port in use: rc $rc: $err"
err="$("$U" pipeline --count 1 --metrics 0.0.0.0:9464 2>&1)"; rc=$?
[ "$rc" = 2 ] && [[ "$err" == *"--metrics-allow-remote"* ]] || fail "pipeline, non-loopback: rc $rc: $err"

# pipeline --metrics, scraped while it runs.
"$U" pipeline --model "$MODEL" --workers 1 --count 1500 --rate 500 --report '' --db "sqlite:$DIR/pipe.db" \
  --metrics 127.0.0.1:0 >"$DIR/pipe.out" 2>"$DIR/pipe.log" &
PIPE=$!
PIPE_URL="$(served_at "$DIR/pipe.log")"
for _ in $(seq 100); do
  curl -fsS "$PIPE_URL/metrics" 2>/dev/null | grep -q '^unibus_messages_published_total{topic="images' && break
  sleep 0.1
done
scrape "$PIPE_URL" "$DIR/p1"
has "$DIR/p1" 'unibus_classify_batch_size_count'
grep -q '^unibus_messages_published_total{topic="images' "$DIR/p1" || fail "pipeline: no images published_total"
wait "$PIPE" || fail "pipeline --metrics failed: $(tail -5 "$DIR/pipe.log")"
PIPE=
echo PASS
