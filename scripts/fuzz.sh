#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang + ASan + UBSan in build-fuzz and runs
# each for a short time from its seed corpus (fuzz/corpus/<name>/).
#   scripts/fuzz.sh                      -> every fuzzer, FUZZ_SECONDS (default 15) each
#   FUZZ_SECONDS=300 scripts/fuzz.sh url -> one fuzzer, longer
# A crash, a sanitizer report, a single allocation over 128 MB or a resident size over
# 512 MB (an allocation bomb), or over 10 s on one input fails the run; the input is saved under
# build-fuzz/artifacts/ and printed. Make it a regression test beside the decoder and
# copy it into fuzz/corpus/<name>/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
SECONDS_EACH="${FUZZ_SECONDS:-15}"
ALL=(url duration properties config idx typed kafka_token pubsub)
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=("${ALL[@]}")

export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=true
CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DUNIBUS_BUILD_FUZZERS=ON -DUNIBUS_BUILD_BENCH=OFF \
  -DUNIBUS_BUILD_EXAMPLES=OFF -DUNIBUS_WITH_VISION=OFF -DUNIBUS_WITH_PUBSUB=OFF >/dev/null
ninja -C "$BUILD_DIR" -j "${JOBS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}" $(printf 'fuzz_%s ' "${TARGETS[@]}")

mkdir -p "$BUILD_DIR/artifacts"
# ASan's own bookkeeping counts toward -rss_limit_mb. With its defaults (256 MB quarantine,
# 30-frame stacks kept forever in the stack depot) fuzz_config's RSS grew by ~0.6 KB per input
# through yaml-cpp's recursive parser (960 MB after 40 s; live heap 24 MB; the same inputs
# parsed 82,000 times without ASan stay at 4 MB) and CI failed on "out-of-memory" with no fault
# in the target. A 64 MB quarantine and 8-frame allocation stacks keep use-after-free and leak
# detection and leave the RSS limit to catch real allocation bombs (286 MB after 60 s).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:quarantine_size_mb=64:malloc_context_size=8" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=()
for t in "${TARGETS[@]}"; do
  # New inputs go to a scratch corpus; the seeds in the repository are only read.
  work="$BUILD_DIR/corpus/$t"
  mkdir -p "$work" "fuzz/corpus/$t"
  echo "== fuzz $t (${SECONDS_EACH}s)"
  if ! "$BUILD_DIR/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=512 -malloc_limit_mb=128 \
      -timeout=10 -max_len=65536 -print_final_stats=1 -artifact_prefix="$BUILD_DIR/artifacts/$t-" \
      "$work" "fuzz/corpus/$t" >"$BUILD_DIR/fuzz-$t.log" 2>&1; then
    failed+=("$t")
    tail -n 40 "$BUILD_DIR/fuzz-$t.log"
  else
    grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$BUILD_DIR/fuzz-$t.log" | tr -s " \n" " "
    echo
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $BUILD_DIR/artifacts/; logs in $BUILD_DIR/fuzz-*.log)"
  exit 1
fi
echo "fuzz: ok (${#TARGETS[@]} targets, ${SECONDS_EACH}s each)"
