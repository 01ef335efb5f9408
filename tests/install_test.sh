#!/usr/bin/env bash
# unibus installed with `cmake --install` into a temporary prefix and run from an
# unrelated directory: classify finds the installed model (<prefix>/share/unibus/), and
# without it fails naming every place it searched (and not the source tree it was built
# from: an installed binary must not depend on the checkout).
#   tests/install_test.sh BUILD_DIR SOURCE_DIR
# Prints PASS at the end; any failed check prints FAIL and exits non-zero.
set -uo pipefail
BUILD="$1"; SRC="$2"
TMP="$(mktemp -d /tmp/unibus-install-XXXXXX)"
trap 'kill -9 ${CLASSIFY:-} 2>/dev/null; rm -rf "$TMP"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}
cmake --install "$BUILD" --prefix "$TMP/prefix" >/dev/null || fail "cmake --install"
U="$TMP/prefix/bin/unibus"
MODEL="$TMP/prefix/share/unibus/fashion_cnn.pt"
[ -f "$MODEL" ] || fail "cmake --install did not put the model at $MODEL"
mkdir "$TMP/work" && cd "$TMP/work" || fail "no work directory"
unset UNIBUS_MODEL
export UNIBUS_URL="sqlite://$TMP/work/broker.db" OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

"$U" feed --count 50 >/dev/null || fail "installed feed"
"$U" classify --workers 1 >"$TMP/classify.out" 2>"$TMP/classify.err" &
CLASSIFY=$!
got="$("$U" consume -s check --topic predictions --from-beginning --max 50 --timeout 120s --format json | wc -l)"
kill -TERM "$CLASSIFY"
rc=0; wait "$CLASSIFY" || rc=$?
CLASSIFY=
[ "$rc" = 0 ] || fail "installed classify ended with $rc: $(cat "$TMP/classify.err")"
grep -qx "classify: model $MODEL" "$TMP/classify.err" ||
  fail "classify did not use the installed model: $(cat "$TMP/classify.err")"
[ "$got" = 50 ] || fail "50 images fed, $got predictions"
echo "installed classify, run from $TMP/work, used $MODEL: 50 predictions"

rm "$MODEL"
err="$(UNIBUS_MODEL=/nowhere/m.pt "$U" classify --workers 1 2>&1)"
rc=$?
[ "$rc" = 3 ] || fail "classify without a model: exit $rc (expected 3, NotFound): $err"
for place in /nowhere/m.pt "$MODEL" models/fashion_cnn.pt; do
  case "$err" in *"$place"*) ;; *) fail "the missing-model error does not name $place: $err" ;; esac
done
case "$err" in *"$SRC/models"*) fail "the installed binary looks in its source tree: $err" ;; esac
echo "without a model: $err"
echo PASS
