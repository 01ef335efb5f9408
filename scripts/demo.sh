#!/usr/bin/env bash
# Sets up, builds, and classifies the 10,000 Fashion-MNIST test images through the
# embedded default broker (sqlite://unibus.db): feed -> classify -> sink, then prints
# images, accuracy (read from the predictions database), throughput, latency, and
# lost / duplicated counts. The JSON report lands in pipeline-report.json.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/setup.sh
BUILD_DIR=build scripts/build.sh >/dev/null

# One intra-op thread per classifier worker: oversubscribing 2 cores is catastrophic.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
unset UNIBUS_URL
echo "== unibus pipeline on the embedded default broker"
build/src/cli/unibus pipeline --db sqlite:predictions.db --report pipeline-report.json "$@"
