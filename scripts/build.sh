#!/usr/bin/env bash
# Configures and builds unibus with Ninja and ccache.
#   scripts/build.sh                 -> build/ (Release)
#   BUILD_DIR=build-asan scripts/build.sh -DUNIBUS_SANITIZE=ON
# Extra arguments go to cmake's configure step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

# ccache keyed on paths relative to the checkout, so a fresh clone elsewhere (CI)
# reuses the objects of an earlier build.
export CCACHE_BASEDIR="$ROOT"
export CCACHE_NOHASHDIR=true
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-10G}"

# nproc alone obeys OMP_NUM_THREADS, which test.sh sets to 1 for LibTorch: without
# the unset, every build ran one compiler at a time.
JOBS="${JOBS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@" >/dev/null
ninja -C "$BUILD_DIR" -j "$JOBS"
