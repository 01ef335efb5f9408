#!/usr/bin/env bash
# `unibus dead-letters list|show|replay` on a sqlite file: dead letters written as the
# library writes them, grouped by reason, shown, replayed by reason, id and all, each
# replay arriving on the source subscription with its original attributes and key.
set -euo pipefail
U="$1"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
export UNIBUS_URL="sqlite://$dir/t.db"
fail() { echo "FAIL: $*"; exit 1; }
expect() {  # expect NAME WANT GOT
  [[ "$3" == *"$2"* ]] || fail "$1: wanted '$2' in: $3"
}

"$U" topics create orders >/dev/null
"$U" subscriptions create billing --topic orders >/dev/null
dl=(-a unibus-source-topic=orders -a unibus-delivery-attempts=5 -a unibus-source-subscription=billing)
"$U" publish -t billing.dead-letter --create-topic --allow-reserved -k cust-1 -a color=red \
  -a "unibus-dead-letter-reason=cannot parse" "${dl[@]}" 'bad one' 'bad two' >/dev/null
"$U" publish -t billing.dead-letter --allow-reserved -a unibus-dead-letter-reason=timeout \
  "${dl[@]}" slow >/dev/null

out="$("$U" dead-letters list -s billing)"
expect list "3 dead letter(s) of subscription billing" "$out"
expect list "cannot parse: 2" "$out"
expect list "timeout: 1" "$out"
# Listing leaves them.
expect "list again" "3 dead letter(s)" "$("$U" dead-letters list -s billing)"
expect show "data (7 bytes): bad two" "$("$U" dead-letters show -s billing --id 2)"
set +e
"$U" dead-letters show -s billing --id 99 2>/dev/null; rc=$?
"$U" dead-letters replay -s billing 2>/dev/null; rc2=$?
set -e
[[ $rc == 3 ]] || fail "show of a missing id exits $rc, not 3 (NotFound)"
[[ $rc2 == 2 ]] || fail "replay without a selection exits $rc2, not 2 (InvalidArgument)"
# A name with neither a subscription nor a dead-letter topic is NotFound, not "0".
set +e
err="$("$U" dead-letters list -s billling 2>&1)"; rc=$?
set -e
[[ $rc == 3 ]] || fail "list of an unknown subscription exits $rc, not 3 (NotFound): $err"
expect "unknown subscription" "no subscription 'billling'" "$err"

expect "replay by reason" "replayed 1" "$("$U" dead-letters replay -s billing --reason timeout)"
expect "replay by id" "replayed 1" "$("$U" dead-letters replay -s billing --id 1)"
got="$("$U" consume -s billing --timeout 1s)"
[[ "$got" == $'slow\nbad one\t[key=cust-1 color=red]' ]] || fail "source got: $got"
expect "after two replays" "1 dead letter(s)" "$("$U" dead-letters list -s billing)"
expect "replay all" "replayed 1" "$("$U" dead-letters replay -s billing --all)"
got="$("$U" consume -s billing --timeout 1s)"
[[ "$got" == $'bad two\t[key=cust-1 color=red]' ]] || fail "source got: $got"
expect "all replayed" "0 dead letter(s)" "$("$U" dead-letters list -s billing)"
echo PASS
