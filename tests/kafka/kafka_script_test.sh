#!/usr/bin/env bash
# scripts/kafka.sh by hand: start a 1-node cluster, use it with kcat, stop it, start it
# again with its data, and the clear errors (jars not fetchable, port in use, never
# ready). Prints PASS at the end; any failed check prints FAIL and exits non-zero.
set -uo pipefail
SECONDS=0; step() { echo "[$SECONDS s] $*"; }
SCRIPT="$1"
WORK="$(mktemp -d /tmp/unibus-kafka-script-XXXXXX)"
DIR="$WORK/cluster"
trap '"$SCRIPT" stop --dir "$DIR" --kill >/dev/null 2>&1; kill "${LISTENER:-0}" 2>/dev/null; rm -rf "$WORK"' EXIT

# shellcheck source=../testing/check.sh
source "$(dirname "${BASH_SOURCE[0]}")/../testing/check.sh"

# Cluster ids: 22 URL-safe base64 characters, never a leading '-' (Kafka's StorageTool
# reads `-t -Abc...` as an option; 1 random id in 64 used to fail format). 640 ids: a
# generator that allowed a leading '-' passes this with probability (63/64)^640 < 0.00004.
for _ in $(seq 640); do
  id="$("$SCRIPT" random-uuid)" || fail "random-uuid"
  [[ "$id" =~ ^[A-Za-z0-9_][A-Za-z0-9_-]{21}$ ]] || fail "random-uuid printed '$id'"
done
step random-uuid

out="$("$SCRIPT" start --dir "$DIR" --owner-pid $$ 2>&1)" || fail "start: $out"
echo "$out"
bootstrap="$(sed -n 's/^bootstrap: //p' <<<"$out")"
[ -n "$bootstrap" ] || fail "start printed no bootstrap address: $out"
"$SCRIPT" status --dir "$DIR" >/dev/null || fail "status of a running cluster is not 0"
"$SCRIPT" tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --create \
  --topic script-test --partitions 2 >/dev/null 2>&1 || fail "TopicCommand --create"
printf 'one\ntwo\nthree\n' | kcat -b "$bootstrap" -t script-test -P || fail "kcat produce"
got="$(kcat -b "$bootstrap" -t script-test -C -e -q | sort | tr '\n' ' ')"
[ "$got" = "one three two " ] || fail "kcat read back '$got'"

step stop; "$SCRIPT" stop --dir "$DIR" >/dev/null || fail "stop"
"$SCRIPT" status --dir "$DIR" >/dev/null && fail "status of a stopped cluster is 0"
out="$("$SCRIPT" start --dir "$DIR" 2>&1)" || fail "restart: $out"
[ "$(sed -n 's/^bootstrap: //p' <<<"$out")" = "$bootstrap" ] || fail "restart moved the ports: $out"
got="$(kcat -b "$bootstrap" -t script-test -C -e -q | sort | tr '\n' ' ')"
[ "$got" = "one three two " ] || fail "after a restart kcat read back '$got'"
step stop; "$SCRIPT" stop --dir "$DIR" >/dev/null || fail "stop"

step stopped
# stop and status of a cluster that is not there say so and create nothing.
out="$("$SCRIPT" status --dir "$WORK/none/cluster" 2>&1)" && fail "status of no cluster is 0"
expect_in "$out" "no cluster in $WORK/none/cluster" "status of no cluster"
"$SCRIPT" stop --dir "$WORK/none/cluster" >/dev/null || fail "stop of no cluster"
[ -e "$WORK/none" ] && fail "stop or status created $WORK/none"

# A taken --port.
python3 -c 'import socket,time;s=socket.socket();s.bind(("127.0.0.1",0));s.listen();print(s.getsockname()[1],flush=True);time.sleep(60)' >"$WORK/port" &
LISTENER=$!
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
port="$(cat "$WORK/port")"
out="$("$SCRIPT" start --dir "$WORK/busy" --port "$port" 2>&1)" && fail "start on a taken port succeeded"
expect_in "$out" "port $port on 127.0.0.1 is in use" "taken port"

step port
# Never ready: the message names the log file, and nothing is left running.
out="$(UNIBUS_KAFKA_START_TIMEOUT=1 "$SCRIPT" start --dir "$WORK/slow" 2>&1)" && fail "a 1 s start succeeded"
expect_in "$out" "not ready within 1s" "timeout"
expect_in "$out" "$WORK/slow/node-1/kafka.log" "timeout"
pgrep -f "kafka.Kafka $WORK/slow/" >/dev/null && fail "a node of the timed-out cluster still runs"

step timeout
# Jars not fetchable: a Maven that cannot reach Central, and an empty cache.
mkdir -p "$WORK/bin"
printf '#!/bin/sh\necho "[ERROR] Could not transfer artifact: Network is unreachable"\nexit 1\n' >"$WORK/bin/mvn"
chmod +x "$WORK/bin/mvn"
out="$(PATH="$WORK/bin:$PATH" UNIBUS_CACHE="$WORK/cache" "$SCRIPT" start --dir "$WORK/nojars" 2>&1)" &&
  fail "start without jars succeeded"
expect_in "$out" "could not fetch the Apache Kafka" "no jars"
expect_in "$out" "Maven Central" "no jars"
[ -e "$WORK/cache/kafka-"*/libs ] && fail "a failed fetch left a libs directory"

echo "PASS"
