#!/usr/bin/env bash
# The unibus CLI across processes on one sqlite file: publish (args, stdin, --key,
# --attr, --json), consume (text, json, --max; JSON output lossless for any bytes),
# admin, one-line errors with exit codes, UNIBUS_LOG_LEVEL reaching the library, and
# the pipeline leaving what it did not create (topics, subscriptions, messages, rows,
# another application's database) as it was.
set -uo pipefail
U="$1"; DIR="$(mktemp -d)"; ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$DIR"' EXIT
export UNIBUS_URL="sqlite://$DIR/cli.db"
fail() { echo "FAIL: $*"; exit 1; }
expect_rc() { local want=$1; shift; "$@" >"$DIR/out" 2>"$DIR/err"; local rc=$?; [ "$rc" = "$want" ] || fail "$* exited $rc, want $want: $(cat "$DIR/err")"; }

expect_rc 0 "$U" topics create orders
expect_rc 4 "$U" topics create orders                      # AlreadyExists
grep -q "ALREADY_EXISTS" "$DIR/err" || fail "no clear AlreadyExists message"
expect_rc 0 "$U" subscriptions create billing --topic orders
expect_rc 0 "$U" publish -t orders --key cust-1 --attr a=b --attr c=d first second
printf 'third\nfourth\n' | "$U" publish -t orders >/dev/null || fail "stdin publish"
expect_rc 2 "$U" publish -t orders --json '{"ok":1}' '{broken'   # nothing published
grep -q "message 2 is not valid JSON" "$DIR/err" || fail "no line number for bad JSON"
expect_rc 0 "$U" publish -t orders --json '{"n":5}'

# Another process consumes: text with attributes, then JSON.
"$U" consume -s billing --max 2 >"$DIR/c1" || fail "consume"
[ "$(cat "$DIR/c1")" = "$(printf 'first\t[key=cust-1 a=b c=d]\nsecond\t[key=cust-1 a=b c=d]')" ] || fail "text output: $(cat "$DIR/c1")"
"$U" consume -s billing --max 3 --format json >"$DIR/c2" || fail "consume json"
grep -q '"data":"third"' "$DIR/c2" && grep -q '"content-type":"application/json"' "$DIR/c2" || fail "json output: $(cat "$DIR/c2")"
expect_rc 0 "$U" consume -s billing --timeout 1s         # everything was acked: nothing left
[ ! -s "$DIR/out" ] || fail "acked messages came back: $(cat "$DIR/out")"

expect_rc 3 "$U" publish -t nosuch x                     # NotFound
grep -q "topics create nosuch" "$DIR/err" || fail "NotFound does not say what to do"
grep -q -- "--create-topic" "$DIR/err" || fail "NotFound does not name publish --create-topic: $(cat "$DIR/err")"
expect_rc 3 "$U" subscriptions create nosuch-readers --topic nosuch
grep -q "topics create nosuch" "$DIR/err" || fail "NotFound does not say what to do"
grep -q "create_topic_if_missing" "$DIR/err" && fail "a subscription is told about a publisher option: $(cat "$DIR/err")"
expect_rc 2 "$U" topics list --url 'foo://x'             # unknown scheme
expect_rc 2 "$U" topics create 'bad name'               # invalid name
grep -q -- "--any-names" "$DIR/err" || fail "the name rule does not say how to use any name: $(cat "$DIR/err")"
expect_rc 2 "$U" topics create ab                       # too short for the portable rule
expect_rc 0 "$U" topics create ab --any-names           # sqlite itself accepts it
expect_rc 0 "$U" topics list
grep -qx ab "$DIR/out" || fail "topic 'ab' made with --any-names is not listed: $(cat "$DIR/out")"
expect_rc 0 "$U" topics delete ab
expect_rc 2 "$U" publish -t orders --attr novalue x      # malformed attribute
# Flag validators name the rule and the value (not CLI11's "Value 0 not in range 0.000000 to 1.8e308").
# An empty --retention used to mean the default without a word.
"$U" topics create empty-ret --retention "" >"$DIR/out" 2>"$DIR/err" && fail "--retention '' was accepted"
grep -qF -- "--retention: '' is not a duration" "$DIR/err" || fail "--retention '': $(cat "$DIR/err")"
for args in "bench -n 0:--messages: must be a positive whole number (>= 1), got 0" \
            "topics create t --partitions -3:--partitions: must be a positive whole number (>= 1), got -3" \
            "topics create t --retention-messages -5:--retention-messages: must be a whole number >= 0, got -5" \
            "topics create t --retention 0:--retention must be above 0 (leave it out for the backend's default), got '0'" \
            "topics create t --retention -1d:--retention must be above 0 (leave it out for the backend's default), got '-1d'" \
            "topics create t --retention -1x:--retention: '-1x' is not a duration" \
            "subscriptions create s --topic t --ack-deadline -1s:--ack-deadline: duration '-1s' is negative" \
            "consume -s billing --max -1:--max: must be a whole number >= 0, got -1"; do
  read -ra argv <<<"${args%%:--*}"
  "$U" "${argv[@]}" >"$DIR/out" 2>"$DIR/err" && fail "${args%%:--*} was accepted"
  grep -qF -- "--${args#*:--}" "$DIR/err" || fail "${args%%:--*}: $(cat "$DIR/err")"
  ! grep -q "not in range" "$DIR/err" || fail "${args%%:--*}: CLI11's range message: $(cat "$DIR/err")"
done
# What CLI11 refuses is one "unibus: INVALID_ARGUMENT:" line, exit 2, naming the --help to read.
for args in "consume -s billing --max abc:--max: must be a whole number >= 0, got abc; see unibus consume --help" \
            "consume:--subscription is required; see unibus consume --help" \
            "consume -s billing --bogus:--bogus; see unibus consume --help" \
            "topics lst:'lst' is not a subcommand of 'unibus topics': one of create, delete, list, describe" \
            "topics:'unibus topics' needs a subcommand: one of create"; do
  read -ra argv <<<"${args%%:*}"
  expect_rc 2 "$U" "${argv[@]}"
  grep -qF -- "unibus: INVALID_ARGUMENT: " "$DIR/err" || fail "${args%%:*}: not one line: $(cat "$DIR/err")"
  grep -qF -- "${args#*:}" "$DIR/err" || fail "${args%%:*}: $(cat "$DIR/err")"
  [ "$(wc -l <"$DIR/err")" = 1 ] || fail "${args%%:*}: more than one line: $(cat "$DIR/err")"
done
expect_rc 2 "$U" topics list --url ""                     # not the default broker, silently
grep -qF -- "--url: is empty; give a broker URL" "$DIR/err" || fail "--url '': $(cat "$DIR/err")"
expect_rc 0 "$U" consume --help
grep -q "^Usage: .* consume" "$DIR/out" || fail "consume --help printed no usage: $(cat "$DIR/out")"
expect_rc 0 "$U" --version
grep -qx "unibus 0.1.0" "$DIR/out" || fail "--version: $(cat "$DIR/out")"
if "$U" train --help >/dev/null 2>&1; then
  "$U" train --lr 0 >"$DIR/out" 2>"$DIR/err" && fail "train --lr 0 was accepted"
  grep -qF -- "--lr: must be a positive number (> 0), got 0" "$DIR/err" || fail "train --lr 0: $(cat "$DIR/err")"
  for args in "--weight-decay 1:--weight-decay: must be a number in [0, 1), got 1" \
              "--label-smoothing -0.1:--label-smoothing: must be a number in [0, 1), got -0.1" \
              "--random-erasing 1.5:--random-erasing: must be a number in [0, 1], got 1.5" \
              "--optimizer adam:--optimizer: adam not in {adamw,sgd}" \
              "--optimizer sgd --momentum 1:--momentum: must be a number in [0, 1), got 1" \
              "--momentum 0.5 --data /nonexistent:--momentum applies to SGD only; add --optimizer sgd"; do
    read -ra argv <<<"${args%%:--*}"
    "$U" train "${argv[@]}" >"$DIR/out" 2>"$DIR/err" && fail "train ${args%%:--*} was accepted"
    grep -qF -- "--${args#*:--}" "$DIR/err" || fail "train ${args%%:--*}: $(cat "$DIR/err")"
  done
fi
echo "not sqlite" > "$DIR/junk.db"
"$U" topics list --url "sqlite://$DIR/junk.db" >/dev/null 2>"$DIR/err" && fail "opened a non-database"
grep -q "$DIR/junk.db" "$DIR/err" || fail "error does not name the file"
[ "$(wc -l <"$DIR/err")" = 1 ] || fail "error is not one line"

# JSON output is lossless: valid UTF-8 as "data", anything else as "data_base64".
printf '\xff\xfe\x80 not utf-8 \x01' >"$DIR/binary"
expect_rc 0 "$U" publish -t orders "$(cat "$DIR/binary")" "héllo ✓"
"$U" consume -s billing --max 2 --format json >"$DIR/raw.json" || fail "consume raw json"
python3 - "$DIR/raw.json" "$DIR/binary" <<'PY' || fail "JSON output is not lossless: $(cat "$DIR/raw.json")"
import base64, json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert "data" not in lines[0], lines[0]
assert base64.b64decode(lines[0]["data_base64"]) == open(sys.argv[2], "rb").read(), lines[0]
assert lines[1]["data"] == "héllo ✓" and "data_base64" not in lines[1], lines[1]
PY

# UNIBUS_LOG_LEVEL sets the level of the logger the CLI gives the library.
UNIBUS_LOG_LEVEL=debug "$U" topics list >/dev/null 2>"$DIR/log" || fail "topics list"
grep -q '\[debug\] opened sqlite://' "$DIR/log" || fail "no debug line at debug: $(cat "$DIR/log")"
"$U" topics list >/dev/null 2>"$DIR/log"
[ ! -s "$DIR/log" ] || fail "debug lines at the default level: $(cat "$DIR/log")"
UNIBUS_LOG_LEVEL=loud "$U" topics list >/dev/null 2>"$DIR/log"
grep -q "UNIBUS_LOG_LEVEL='loud' is not a level" "$DIR/log" || fail "bad level not reported"
if "$U" kafka-mock --help >/dev/null 2>&1; then
  # The library's own lines (librdkafka's, through its log callback) reach the user.
  "$U" kafka-mock >"$DIR/mock.out" 2>&1 &
  for _ in $(seq 1 100); do grep -q 'url: ' "$DIR/mock.out" && break; sleep 0.1; done
  KURL="$(sed -n 's/^  url: //p' "$DIR/mock.out")"
  [ -n "$KURL" ] || fail "kafka-mock did not start: $(cat "$DIR/mock.out")"
  UNIBUS_LOG_LEVEL=debug "$U" publish --url "$KURL&debug=broker" -t logs x >/dev/null 2>"$DIR/log"
  grep -q '\[debug\] librdkafka' "$DIR/log" || fail "no librdkafka debug line: $(head -c 2000 "$DIR/log")"
  UNIBUS_LOG_LEVEL=info "$U" publish --url "$KURL&debug=broker" -t logs x >/dev/null 2>"$DIR/log"
  ! grep -q '\[debug\]' "$DIR/log" || fail "debug lines at info: $(head -c 2000 "$DIR/log")"
  kill %1 2>/dev/null; wait 2>/dev/null
fi

# The messaging subcommands start without LibTorch (about 1 s of loading and static
# initialisers); the model ones run in unibus-vision, which `unibus` execs
# (src/cli/vision_binary.h).
LD_DEBUG=libs "$U" topics list >/dev/null 2>"$DIR/ld" || fail "topics list under LD_DEBUG"
grep -q "init: .*libsqlite3" "$DIR/ld" || fail "LD_DEBUG shows no library loading: $(head -c 500 "$DIR/ld")"
! grep -q "libtorch" "$DIR/ld" || fail "a messaging subcommand loaded LibTorch: $(grep -m1 libtorch "$DIR/ld")"
# Without unibus-vision beside it (a build without LibTorch, or only bin/unibus
# installed): messaging works, a model subcommand fails naming what is missing, and the
# help says so.
mkdir "$DIR/solo" && cp "$U" "$DIR/solo/unibus"
expect_rc 0 "$DIR/solo/unibus" topics list
expect_rc 1 "$DIR/solo/unibus" train --epochs 1
SOLO="$(cd "$DIR/solo" && pwd -P)"  # as /proc/self/exe names it
grep -q "'train' is not a subcommand of this unibus (topics, .*cannot run unibus-vision (looked at $SOLO/unibus-vision (absent)" "$DIR/err" ||
  fail "no clear error for a missing unibus-vision: $(cat "$DIR/err")"
expect_rc 0 "$DIR/solo/unibus" --help
grep -q "model and pipeline subcommands.*not available" "$DIR/out" || fail "help without unibus-vision: $(cat "$DIR/out")"

if "$U" pipeline --help >/dev/null 2>&1; then
  # `unibus --help` lists both kinds (it is unibus-vision's help).
  expect_rc 0 "$U" --help
  grep -q "^  topics " "$DIR/out" && grep -q "^  train " "$DIR/out" || fail "the full help lacks a subcommand: $(cat "$DIR/out")"
  P=("$U" pipeline --model "$ROOT/models/fashion_cnn.pt" --workers 1 --report '')
  # Another application's database: refused on one line, left byte-for-byte as it was.
  sqlite3 "$DIR/other.db" "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'ada');"
  before="$(sha256sum <"$DIR/other.db")"
  expect_rc 1 "${P[@]}" --count 5 --db "sqlite:$DIR/other.db"
  grep -q "FAILED_PRECONDITION: .*other.db.*tables: users" "$DIR/err" || fail "foreign db: $(cat "$DIR/err")"
  [ "$(wc -l <"$DIR/err")" = 1 ] || fail "foreign db error is not one line: $(cat "$DIR/err")"
  [ "$(sha256sum <"$DIR/other.db")" = "$before" ] || fail "the foreign database was changed"
  [ ! -e "$DIR/other.db-wal" ] || fail "the foreign database was switched to WAL"

  # A broker with another service's images topic, audit subscription and messages,
  # and a predictions database with an earlier run's rows: all survive a run.
  expect_rc 0 "$U" topics create images
  expect_rc 0 "$U" subscriptions create audit --topic images --from-beginning
  expect_rc 0 "$U" publish -t images keep-1 keep-2
  expect_rc 0 "${P[@]}" --count 10 --db "sqlite:$DIR/pred.db"
  expect_rc 0 "${P[@]}" --count 10 --db "sqlite:$DIR/pred.db"
  grep -q "predictions stored   10$" "$DIR/out" || fail "the report counts other runs' rows: $(cat "$DIR/out")"
  [ "$(sqlite3 "$DIR/pred.db" 'SELECT COUNT(*) FROM predictions')" = 20 ] || fail "earlier rows are gone"
  "$U" consume -s audit --timeout 1s >"$DIR/audit" || fail "consume audit"
  [ "$(cat "$DIR/audit")" = "$(printf 'keep-1\nkeep-2')" ] || fail "audit lost its messages: $(cat "$DIR/audit")"
  "$U" topics list >"$DIR/topics" || fail "topics list"
  [ "$(cat "$DIR/topics")" = "$(printf 'images\norders')" ] || fail "run topics left behind: $(cat "$DIR/topics")"
else
  echo "pipeline checks skipped: this build has no vision (UNIBUS_WITH_VISION=OFF)"
fi
echo "PASS"
