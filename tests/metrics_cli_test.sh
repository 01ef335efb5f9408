#!/usr/bin/env bash
# `unibus consume --metrics`: /healthz, /readyz, /metrics (checked by promtool) with
# counters that follow the messages; a port in use and a non-loopback address are
# clear errors.
set -euo pipefail
U="$1"
dir="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
export UNIBUS_URL="sqlite://$dir/t.db"
fail() { echo "FAIL: $*"; exit 1; }
command -v promtool >/dev/null || fail "promtool missing; scripts/setup.sh installs it (package prometheus)"

"$U" topics create orders >/dev/null
"$U" consume -s billing -t orders --from-beginning --metrics 127.0.0.1:0 >"$dir/out" 2>"$dir/err" &
pid=$!
url=""
for _ in $(seq 100); do
  url="$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/err" || true)"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || fail "consume did not say where it serves metrics: $(cat "$dir/err")"
port="${url##*:}"
[ "$(curl -fsS "$url/healthz")" = ok ] || fail "/healthz"
for _ in $(seq 100); do curl -fsS "$url/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
[ "$(curl -fsS "$url/readyz")" = ready ] || fail "/readyz not ready once subscribed"
before="$(curl -fsS "$url/metrics")"
grep -q '^unibus_messages_acked_total{subscription="billing"} 0$' <<<"$before" ||
  fail "acked_total is not 0 before any message: $before"

"$U" publish -t orders one two three four five >/dev/null
for _ in $(seq 100); do [ "$(wc -l <"$dir/out")" -ge 5 ] && break; sleep 0.1; done
[ "$(wc -l <"$dir/out")" = 5 ] || fail "consume printed $(wc -l <"$dir/out") lines, not 5"
curl -fsS "$url/metrics" >"$dir/metrics"
promtool check metrics <"$dir/metrics" || fail "promtool rejects /metrics: $(cat "$dir/metrics")"
for line in 'unibus_messages_delivered_total{subscription="billing"} 5' \
            'unibus_messages_acked_total{subscription="billing"} 5' \
            'unibus_messages_outstanding{subscription="billing"} 0' \
            'unibus_end_to_end_latency_seconds_count{subscription="billing"} 5'; do
  grep -qF "$line" "$dir/metrics" || fail "no '$line' in: $(cat "$dir/metrics")"
done

set +e
err="$("$U" consume -s other -t orders --metrics "127.0.0.1:$port" 2>&1)"; rc=$?
set -e
[ "$rc" = 5 ] || fail "a port in use exits $rc, not 5: $err"
[[ "$err" == *"port $port is already in use"* ]] || fail "port in use: $err"
set +e
err="$("$U" consume -s other -t orders --metrics 0.0.0.0:0 2>&1)"; rc=$?
set -e
[ "$rc" = 2 ] || fail "a non-loopback address exits $rc, not 2: $err"
[[ "$err" == *"--metrics-allow-remote"* ]] || fail "non-loopback: $err"

kill -TERM "$pid"
wait "$pid" || fail "consume did not exit 0 on SIGTERM"
pid=""
echo PASS
