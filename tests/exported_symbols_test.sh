#!/usr/bin/env bash
# libunibus.so exports the public API (UNIBUS_EXPORT) and nothing of the internals:
# no symbol of a unibus::*_internal namespace in its dynamic symbol table.
#   tests/exported_symbols_test.sh path/to/libunibus.so
set -euo pipefail
lib="$1"
symbols="$(nm -DC --defined-only "$lib")"
internal="$(grep -c '_internal' <<<"$symbols" || true)"
if [ "$internal" -ne 0 ]; then
  echo "FAIL: $lib exports $internal internal symbols (mark only the public API UNIBUS_EXPORT):"
  grep '_internal' <<<"$symbols" | head -20
  exit 1
fi
# The public API is there: what find_package(unibus) users call.
for f in 'unibus::Broker::Open(' 'unibus::ValidateForPublish(' 'unibus::Message::ByteSize(' \
         'typeinfo for unibus::PublisherConnection'; do
  if ! grep -qF "$f" <<<"$symbols"; then
    echo "FAIL: $lib does not export $f"
    exit 1
  fi
done
echo "PASS: $(grep -c 'unibus::' <<<"$symbols") unibus:: symbols exported, none internal"
