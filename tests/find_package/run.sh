#!/usr/bin/env bash
# Installs the built unibus into a temp prefix, builds tests/find_package against it
# with find_package(unibus), and runs it.
set -euo pipefail
BUILD="$1"; SRC="$(cd "$(dirname "$0")" && pwd)"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
cmake --install "$BUILD" --prefix "$TMP/prefix" >/dev/null
cmake -S "$SRC" -B "$TMP/build" -G Ninja -DCMAKE_PREFIX_PATH="$TMP/prefix" >/dev/null
ninja -C "$TMP/build" >/dev/null
LD_LIBRARY_PATH="$TMP/prefix/lib:${LD_LIBRARY_PATH:-}" "$TMP/build/consumer"
