#!/usr/bin/env bash
# Installs every Debian package unibus needs to build, test and run its demo.
# Idempotent: packages already present are skipped, apt-get update runs at most once.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  clang clang-format clang-tidy libclang-rt-14-dev
  libabsl-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  librdkafka-dev kcat maven openssl libssl-dev
  libgrpc++-dev libgrpc-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  libsqlite3-dev sqlite3 libpq-dev postgresql
  libtorch-dev libopenblas0-pthread
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libyaml-cpp-dev
  libzstd-dev zlib1g-dev libpng-dev gnuplot-nox
  dataset-fashion-mnist
  python3-venv python3-dev
  libcpp-httplib-dev
  prometheus
  chromium
)
# libcpp-httplib-dev: the --metrics HTTP server. prometheus: only for promtool, which
# checks the /metrics exposition in the tests (19 MB download; Debian 12 ships
# promtool in no smaller package). chromium: the browser of the --ui page test
# (tests/ui), driven by playwright-core from npm, which must never download its own.
# openssl: the CA and broker certificate of scripts/kafka.sh --security sasl_ssl.
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
# librdkafka 2.12.0, built once into ~/.cache/unibus (Debian 12's 2.0.2 fails SCRAM
# against Kafka 4: scripts/librdkafka.sh says why and how). librdkafka-dev above stays
# for kcat and for builds configured with -DUNIBUS_RDKAFKA=system, and for AUTO when
# this build fails (say, registry.npmjs.org is unreachable): setup goes on, and says so.
"$(dirname "${BASH_SOURCE[0]}")/librdkafka.sh" ||
  echo "setup: warning: librdkafka 2.12.0 was not built (above); builds will link the system librdkafka, which cannot do SCRAM against Kafka 4" >&2
# Apache Kafka's jars for the real-broker tests (scripts/kafka.sh), cached in
# ~/.cache/unibus; nothing is fetched once they are there.
"$(dirname "${BASH_SOURCE[0]}")/kafka.sh" fetch >/dev/null
# playwright-core for the --ui page test, pinned by tests/ui/package-lock.json; npm's
# cache in ~/.cache/unibus/npm, and nothing done when the pinned version is there.
ui_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/ui" && pwd)"
want="$(node -p "require('$ui_dir/package-lock.json').packages['node_modules/playwright-core'].version")"
have="$(node -p "try { require('$ui_dir/node_modules/playwright-core/package.json').version } catch (e) { '' }")"
if [ "$want" != "$have" ]; then
  (cd "$ui_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --prefer-offline \
    --cache "$HOME/.cache/unibus/npm" >/dev/null)
fi
echo "setup: ok"
