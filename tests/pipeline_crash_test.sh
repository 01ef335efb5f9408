#!/usr/bin/env bash
# The classifier process is killed with SIGKILL mid-run and restarted: every image
# still ends up as exactly one row (0 lost, 0 duplicate rows).
#   tests/pipeline_crash_test.sh UNIBUS_BINARY MODEL_FILE
set -euo pipefail
UNIBUS="$1"; MODEL="$2"; COUNT="${COUNT:-3000}"
DIR="$(mktemp -d)"; trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$DIR"' EXIT
export UNIBUS_URL="sqlite://$DIR/broker.db" OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
DB="sqlite:$DIR/predictions.db"

"$UNIBUS" topics create images >/dev/null
"$UNIBUS" topics create predictions >/dev/null
"$UNIBUS" subscriptions create classifier --topic images --from-beginning --ack-deadline 2s >/dev/null
"$UNIBUS" subscriptions create sink --topic predictions --from-beginning >/dev/null
"$UNIBUS" feed --count "$COUNT" >/dev/null

"$UNIBUS" sink --db "$DB" 2>/dev/null &
SINK=$!
# A slow classifier (batches of 1) so the kill lands mid-run.
"$UNIBUS" classify --model "$MODEL" --workers 1 --max-batch 1 --ack-deadline 2s 2>/dev/null &
CLASSIFY=$!
rows() { sqlite3 "$DIR/predictions.db" "SELECT COUNT(*) FROM predictions" 2>/dev/null || echo 0; }
for _ in $(seq 1 600); do
  [ "$(rows)" -ge 300 ] && break
  sleep 0.05
done
kill -9 "$CLASSIFY"
wait "$CLASSIFY" 2>/dev/null || true
before=$(rows)
echo "classifier killed with SIGKILL after $before rows"
[ "$before" -lt "$COUNT" ] || { echo "FAIL: the kill came too late to test anything"; exit 1; }

"$UNIBUS" classify --model "$MODEL" --workers 2 2>/dev/null &
CLASSIFY=$!
for _ in $(seq 1 1200); do
  [ "$(rows)" -ge "$COUNT" ] && break
  sleep 0.1
done
sleep 1  # let any redelivered prediction arrive: it must update, not add, a row
kill -TERM "$CLASSIFY" "$SINK"; wait "$CLASSIFY" "$SINK" 2>/dev/null || true

read -r rows distinct redelivered < <(sqlite3 -separator ' ' "$DIR/predictions.db" \
  "SELECT COUNT(*), COUNT(DISTINCT image_id), COALESCE(SUM(deliveries-1),0) FROM predictions")
lost=$((COUNT - distinct)); dup=$((rows - distinct))
echo "images $COUNT, rows $rows, lost $lost, duplicate rows $dup, redelivered predictions $redelivered"
[ "$lost" = 0 ] && [ "$dup" = 0 ] && echo "PASS" || { echo "FAIL"; exit 1; }
