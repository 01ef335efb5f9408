#!/usr/bin/env bash
# scripts/librdkafka.sh without building or downloading anything: what it prints for
# CMake, its usage errors, a prefix stamped before the current patches (built again),
# and a corrupt cached tarball with no network (a clear error, nothing left behind
# that CMake would take). The dead proxy stands for "no network" (no_proxy unset). Prints PASS at the end; a failed check
# prints FAIL and exits non-zero.
set -uo pipefail
SCRIPT="$1"
WORK="$(mktemp -d /tmp/unibus-librdkafka-script-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=../testing/check.sh
source "$(dirname "${BASH_SOURCE[0]}")/../testing/check.sh"
export UNIBUS_CACHE="$WORK/cache"

# describe: prefix, version, stamp name; prefix alone.
mapfile -t d < <("$SCRIPT" describe) || fail "describe"
[ "${#d[@]}" = 3 ] || fail "describe printed ${#d[@]} lines: ${d[*]}"
[[ "${d[1]}" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "describe: version '${d[1]}'"
[ "${d[0]}" = "$UNIBUS_CACHE/librdkafka-${d[1]}" ] || fail "describe: prefix '${d[0]}' ignores UNIBUS_CACHE"
# The tarball's sha256, then the digest of scripts/patches/librdkafka-*.patch.
[[ "${d[2]}" =~ ^\.unibus-built-[0-9a-f]{64}-[0-9a-f]{16}$ ]] || fail "describe: stamp name '${d[2]}'"
[ "$("$SCRIPT" prefix)" = "${d[0]}" ] || fail "prefix differs from describe"
[ ! -e "$UNIBUS_CACHE" ] || fail "describe created $UNIBUS_CACHE"

# Usage errors: exit 2 with the usage line.
for args in "bogus" "build extra"; do
  # shellcheck disable=SC2086
  out="$("$SCRIPT" $args 2>&1)"
  rc=$?
  [ "$rc" = 2 ] || fail "'$args' exited $rc"
  expect_in "$out" "usage:" "'$args'"
done

# A stamped prefix is trusted without any work (no network needed).
mkdir -p "${d[0]}" && touch "${d[0]}/${d[2]}"
out="$(env -u no_proxy -u NO_PROXY https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 "$SCRIPT" 2>&1)" ||
  fail "a stamped prefix was not taken as built: $out"
rm -rf "$UNIBUS_CACHE"

# A prefix stamped before the current patches (no digest in its stamp) is built again:
# with no network, that fails clearly instead of linking the unpatched library.
mkdir -p "${d[0]}" && touch "${d[0]}/${d[2]%-*}"
out="$(env -u no_proxy -u NO_PROXY https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 "$SCRIPT" 2>&1)"
rc=$?
[ "$rc" = 1 ] || fail "a prefix built without the patches was taken as built (exit $rc): $out"
expect_in "$out" "could not download" "stamp without the patches' digest"
rm -rf "$UNIBUS_CACHE"

# A corrupt cached tarball and no network: refetch announced, a clear error, no prefix.
mkdir -p "$UNIBUS_CACHE"
echo "not a tarball" >"$UNIBUS_CACHE/node-rdkafka-3.6.1.tgz"
out="$(env -u no_proxy -u NO_PROXY https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 "$SCRIPT" 2>&1)"
rc=$?
[ "$rc" = 1 ] || fail "no network exited $rc: $out"
expect_in "$out" "does not match the pinned sha256" "corrupt tarball"
expect_in "$out" "could not download" "no network"
expect_in "$out" "-DUNIBUS_RDKAFKA=system" "no network"
[ ! -e "${d[0]}" ] || fail "a failed fetch left ${d[0]}"
ls "$UNIBUS_CACHE"/librdkafka-build.* >/dev/null 2>&1 && fail "a failed fetch left its work dir"
echo PASS
