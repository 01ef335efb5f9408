#!/usr/bin/env bash
# Builds the librdkafka that unibus links, into ~/.cache/unibus/librdkafka-VERSION.
#
# Why not Debian's: Debian 12 ships librdkafka 2.0.2, whose SCRAM client proof Kafka 4
# brokers refuse even with the right password (the client nonce is appended twice;
# fixed in librdkafka 2.6.1, confluentinc/librdkafka#4895). The machines this project
# runs on reach npm, whose node-rdkafka package carries librdkafka's source tree
# (deps/librdkafka), so that is where the pinned source comes from: fetched once,
# checked against its sha256, built as a static library (linked into libunibus.so,
# the CLI and the Python extension, so nothing at run time depends on this cache),
# offline afterwards.
#
# Usage: scripts/librdkafka.sh [build|prefix|describe]
#   build (default): fetch and build unless the cache already holds this version.
#   prefix: print the install prefix.
#   describe: print the prefix, the version and the name of the stamp file a finished
#     build leaves in the prefix, one per line (what src/kafka/CMakeLists.txt reads).
# Environment: UNIBUS_CACHE (default ~/.cache/unibus).
#
# Patched: each scripts/patches/librdkafka-*.patch is applied (patch -p1) before the
# build, and their digest is part of the stamp, so changing one rebuilds. Each says in
# its own comment which upstream issue it is for; drop it when the pinned version has
# the fix.
#
# Left out of this build: GSSAPI/Kerberos (needs Cyrus SASL) and OIDC token fetching
# (needs libcurl). A build that needs them can configure with
# -DUNIBUS_RDKAFKA=system to link the distribution's librdkafka instead.
set -euo pipefail

VERSION=2.12.0
NODE_RDKAFKA=3.6.1  # the node-rdkafka release whose deps/librdkafka is librdkafka $VERSION
URL="https://registry.npmjs.org/node-rdkafka/-/node-rdkafka-$NODE_RDKAFKA.tgz"
SHA256=148f7e7b65c510314c70762d8f1be052c8fe1fdf03a128e6c78083a729a57a30
CACHE="${UNIBUS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/unibus}"
PREFIX="$CACHE/librdkafka-$VERSION"
# Globbed in C collation order, so that the digest and the order they are applied in
# do not depend on the caller's locale.
LC_COLLATE=C
shopt -s nullglob
PATCHES=("$(CDPATH='' cd -- "$(dirname "${BASH_SOURCE[0]}")" && pwd)"/patches/librdkafka-*.patch)
shopt -u nullglob
PATCH_DIGEST=$(cat "${PATCHES[@]}" /dev/null | sha256sum | cut -c1-16)
STAMP="$PREFIX/.unibus-built-$SHA256-$PATCH_DIGEST"

usage() {
  echo "usage: $0 [build|prefix|describe]" >&2
  exit 2
}
[ $# -le 1 ] || usage
case "${1:-build}" in
  prefix)
    echo "$PREFIX"
    exit 0
    ;;
  describe)
    printf '%s\n' "$PREFIX" "$VERSION" "${STAMP##*/}"
    exit 0
    ;;
  build) ;;
  *) usage ;;
esac

[ -f "$STAMP" ] && exit 0

die() {
  echo "librdkafka.sh: $*" >&2
  exit 1
}

mkdir -p "$CACHE"
# One build at a time (two setups at once would share the download and the prefix).
exec 9>"$CACHE/librdkafka.lock"
flock -w 900 9 || die "another librdkafka.sh has held $CACHE/librdkafka.lock for 15 minutes"
[ -f "$STAMP" ] && exit 0  # the other one built it
rm -rf "$CACHE"/librdkafka-build.*  # left by a run that was killed

work="$(mktemp -d "$CACHE/librdkafka-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tarball="$CACHE/node-rdkafka-$NODE_RDKAFKA.tgz"
if [ -f "$tarball" ] && ! echo "$SHA256  $tarball" | sha256sum -c --status; then
  echo "librdkafka.sh: $tarball does not match the pinned sha256; fetching it again" >&2
fi
if [ ! -f "$tarball" ] || ! echo "$SHA256  $tarball" | sha256sum -c --status; then
  echo "librdkafka.sh: fetching librdkafka $VERSION source ($URL)" >&2
  curl -fsSL --retry 3 -o "$work/download.tgz" "$URL" ||
    die "could not download $URL; check that registry.npmjs.org is reachable (proxy settings), or configure with -DUNIBUS_RDKAFKA=system to use the distribution's librdkafka"
  echo "$SHA256  $work/download.tgz" | sha256sum -c --status ||
    die "$URL does not have the pinned sha256 $SHA256; refusing to build it"
  mv "$work/download.tgz" "$tarball"
fi

tar xzf "$tarball" -C "$work" package/deps/librdkafka
src="$work/package/deps/librdkafka"
for p in "${PATCHES[@]}"; do
  # No fuzz: a patch that only roughly fits another version must fail, not half-apply.
  patch --batch --forward --fuzz=0 -s -p1 -d "$src" <"$p" || die "$p does not apply to librdkafka $VERSION"
done
cc="${CC:-cc}"
command -v ccache >/dev/null 2>&1 && cc="ccache $cc"
echo "librdkafka.sh: building librdkafka $VERSION (${#PATCHES[@]} patch(es)) into $PREFIX" >&2
# Installed into a staging directory (DESTDIR) and checked there; the prefix is
# replaced and stamped only when everything is right, so a failed or interrupted build
# never leaves a prefix that CMake (which requires the stamp) would take.
stage="$work/stage"
(
  cd "$src"
  ./configure --cc="$cc" --prefix="$PREFIX" --disable-curl --disable-gssapi --disable-lz4-ext \
    >"$work/configure.log" 2>&1 || { tail -30 "$work/configure.log" >&2; exit 1; }
  make -j"$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)" libs >"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; exit 1; }
  make install DESTDIR="$stage" >"$work/install.log" 2>&1 || { tail -30 "$work/install.log" >&2; exit 1; }
) || die "building librdkafka $VERSION failed (log above)"
grep -q '^#define WITH_SASL_SCRAM 1' "$src/config.h" || die "librdkafka was configured without SCRAM (is libssl-dev installed?)"
[ -f "$stage$PREFIX/lib/librdkafka.a" ] && [ -f "$stage$PREFIX/lib/pkgconfig/rdkafka-static.pc" ] ||
  die "the build left no lib/librdkafka.a or lib/pkgconfig/rdkafka-static.pc"
rm -rf "$PREFIX"
mv "$stage$PREFIX" "$PREFIX"
touch "$STAMP"
