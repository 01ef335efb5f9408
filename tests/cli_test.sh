#!/usr/bin/env bash
# The unibus CLI across processes on one sqlite file: publish (args, stdin, --key,
# --attr, --json), consume (text, json, --max), admin, and one-line errors with exit codes.
set -uo pipefail
U="$1"; DIR="$(mktemp -d)"; trap 'rm -rf "$DIR"' EXIT
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
expect_rc 2 "$U" topics list --url 'foo://x'             # unknown scheme
expect_rc 2 "$U" topics create 'bad name'               # invalid name
expect_rc 2 "$U" publish -t orders --attr novalue x      # malformed attribute
echo "not sqlite" > "$DIR/junk.db"
"$U" topics list --url "sqlite://$DIR/junk.db" >/dev/null 2>"$DIR/err" && fail "opened a non-database"
grep -q "$DIR/junk.db" "$DIR/err" || fail "error does not name the file"
[ "$(wc -l <"$DIR/err")" = 1 ] || fail "error is not one line"
echo "PASS"
