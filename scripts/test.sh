#!/usr/bin/env bash
# Installs what unibus needs, builds it, runs the whole test suite, then runs it
# again under AddressSanitizer + UndefinedBehaviorSanitizer.
#   SKIP_SANITIZE=1 scripts/test.sh   -> the normal build only
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/setup.sh
echo "== format"
scripts/check_format.sh
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

echo "== build (Release)"
BUILD_DIR=build scripts/build.sh
echo "== thread safety (clang -Wthread-safety)"
scripts/check_thread_safety.sh build
echo "== tidy (clang-tidy, the allow-list in .clang-tidy)"
tidy_start=$SECONDS
scripts/check_tidy.sh build
echo "tidy: $((SECONDS - tidy_start)) s"
echo "== test (Release)"
(cd build && ctest --output-on-failure -j "${CTEST_JOBS:-2}" --timeout 900)

echo "== python (pip install . into build/python-venv, pytest python/tests)"
python_start=$SECONDS
[ -x build/python-venv/bin/python ] || /usr/bin/python3 -m venv build/python-venv
build/python-venv/bin/pip install -q -r python/requirements-dev.txt
CMAKE_BUILD_PARALLEL_LEVEL="${JOBS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}" build/python-venv/bin/pip install -q --no-build-isolation .
UNIBUS_CLI="$ROOT/build/src/cli/unibus" build/python-venv/bin/python -m pytest -q -p no:cacheprovider python/tests
echo "python: $((SECONDS - python_start)) s"

echo "== fuzz (libFuzzer + ASan/UBSan, each decoder ${FUZZ_SECONDS:-15} s; SKIP_FUZZ=1 skips)"
[ "${SKIP_FUZZ:-0}" = 1 ] || scripts/fuzz.sh

if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== build (ASan+UBSan)"
  BUILD_DIR=build-asan scripts/build.sh -DUNIBUS_SANITIZE=ON -DUNIBUS_BUILD_EXAMPLES=OFF
  echo "== test (ASan+UBSan)"
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  (cd build-asan && ctest --output-on-failure -j "${CTEST_JOBS:-2}" --timeout 1500 -LE no-sanitize)
fi
