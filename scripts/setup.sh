#!/usr/bin/env bash
# Installs every Debian package unibus needs to build, test and run its demo.
# Idempotent: packages already present are skipped, apt-get update runs at most once.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  clang clang-format clang-tidy libclang-rt-14-dev
  libabsl-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  librdkafka-dev kcat maven
  libgrpc++-dev libgrpc-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  libsqlite3-dev sqlite3 libpq-dev postgresql
  libtorch-dev libopenblas0-pthread
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libyaml-cpp-dev
  libzstd-dev zlib1g-dev libpng-dev gnuplot-nox
  dataset-fashion-mnist
  python3-venv python3-dev
  libcpp-httplib-dev
  prometheus
)
# libcpp-httplib-dev: the --metrics HTTP server. prometheus: only for promtool, which
# checks the /metrics exposition in the tests (19 MB download; Debian 12 ships
# promtool in no smaller package).
OPTIONAL=(google-cloud-cli-pubsub-emulator)
# Tools some machines already have from elsewhere (a NodeSource node, a JDK): only
# install Debian's when the command is missing, so the two never conflict.
command -v java >/dev/null 2>&1 || PACKAGES+=(default-jre-headless)
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

updated=0
apt_update() {
  if [ "$updated" = 0 ]; then
    $SUDO apt-get update -qq
    updated=1
  fi
}

export DEBIAN_FRONTEND=noninteractive
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt_update
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Installed here for promtool only: stop the server Debian starts with it.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

# The Pub/Sub emulator: present on this machine image via gcloud; on a machine
# without it, install it when apt has it. Tests report clearly when it is absent.
if [ ! -x /usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator ]; then
  for p in "${OPTIONAL[@]}"; do
    apt_update
    if apt-cache show "$p" >/dev/null 2>&1; then
      $SUDO apt-get install -y -qq --no-install-recommends "$p" || echo "setup: could not install $p; Pub/Sub tests will be skipped"
    else
      echo "setup: $p not in apt; Pub/Sub emulator tests will be skipped"
    fi
  done
fi
# Apache Kafka's jars for the real-broker tests (scripts/kafka.sh), cached in
# ~/.cache/unibus; nothing is fetched once they are there.
"$(dirname "${BASH_SOURCE[0]}")/kafka.sh" fetch >/dev/null
echo "setup: ok"
