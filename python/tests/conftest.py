"""Fixtures: a fresh broker per test on each backend the suite can run here.

mem and sqlite always run. kafka runs on librdkafka's mock cluster, started once per
session with `unibus kafka-mock` (the CLI of the C++ build: $UNIBUS_CLI, else
build/src/cli/unibus). pubsub runs on Google's Pub/Sub emulator, started once per session
($UNIBUS_PUBSUB_EMULATOR, else the google-cloud-cli-pubsub-emulator package's script).
When either cannot start here, its tests are skipped with the reason (as in the C++
conformance suite).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

import unibus

_counter = itertools.count()
ROOT = Path(__file__).resolve().parents[2]

BACKENDS = ["mem", "sqlite", "kafka", "pubsub"]
KAFKA_TOPICS = 60  # made at the mock's start, handed out one per Env.topic()
_kafka_pool = iter(range(KAFKA_TOPICS))


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def kafka_mock():
    cli = os.environ.get("UNIBUS_CLI") or str(ROOT / "build" / "src" / "cli" / "unibus")
    if not os.access(cli, os.X_OK):
        pytest.skip(f"no unibus CLI at {cli} to start the Kafka mock cluster (build the C++ "
                    "tree with scripts/build.sh, or set UNIBUS_CLI)")
    # The mock has no CreateTopics: the topics the tests take are made at its start.
    topics = [arg for i in range(KAFKA_TOPICS) for arg in ("--topic", f"pool-{i}:4")]
    proc = subprocess.Popen([cli, "kafka-mock", "--brokers", "3", *topics],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = None
    for line in proc.stdout:
        m = re.search(r"url: (kafka://\S+)", line)
        if m:
            url = m.group(1)
            break
    if url is None:
        proc.kill()
        raise RuntimeError(f"`{cli} kafka-mock` did not print its URL")
    # Short group timeouts: a rebalance takes about a second, not 45.
    yield url + "&heartbeat.interval.ms=500&topic.metadata.refresh.interval.ms=1000"
    proc.terminate()
    proc.wait(30)


@pytest.fixture(scope="session")
def kafka_real(tmp_path_factory):
    """A real one-node Kafka cluster (scripts/kafka.sh, KRaft), started once per session.

    It stops when the session ends (and, through --owner-pid, if pytest dies).
    """
    script = ROOT / "scripts" / "kafka.sh"
    if shutil.which("java") is None:
        pytest.skip("no java to run a real Kafka broker (scripts/setup.sh installs it)")
    cluster = tmp_path_factory.mktemp("kafka-cluster")
    r = subprocess.run([str(script), "start", "--brokers", "1", "--dir", str(cluster),
                        "--owner-pid", str(os.getpid()), "--fresh"],
                       capture_output=True, text=True, timeout=300)
    m = re.search(r"bootstrap: (\S+)", r.stdout)
    if r.returncode != 0 or m is None:
        raise RuntimeError(f"scripts/kafka.sh start failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    yield f"kafka://{m.group(1)}?heartbeat.interval.ms=500&topic.metadata.refresh.interval.ms=1000"
    subprocess.run([str(script), "stop", "--dir", str(cluster)], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory):
    script = os.environ.get("UNIBUS_PUBSUB_EMULATOR",
                            "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/"
                            "cloud-pubsub-emulator")
    if not os.access(script, os.X_OK):
        pytest.skip(f"Pub/Sub emulator not installed: no executable {script}")
    if not shutil.which("java"):
        pytest.skip("Pub/Sub emulator cannot run: no `java` on PATH")
    port = _free_port()
    log = open(tmp_path_factory.mktemp("pubsub") / "emulator.log", "w")
    proc = subprocess.Popen([script, "--host=127.0.0.1", f"--port={port}"], stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the Pub/Sub emulator did not start; see {log.name}")
            time.sleep(0.2)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(30)
    log.close()


class Env:
    """One backend for one test: its URL, a broker, and helpers to make resources."""

    def __init__(self, backend: str, url: str) -> None:
        self.backend = backend
        self.url = url
        self.broker = unibus.open(self.url)

    def topic(self, prefix: str = "topic") -> str:
        """A new, empty topic (Kafka: one of the mock's, with 4 partitions)."""
        if self.backend == "kafka":
            return f"pool-{next(_kafka_pool)}"
        name = unique(prefix)
        if self.backend == "pubsub":  # retention makes start="earliest" reach the past
            self.broker.admin().create_topic(name, retention=600)
        else:
            self.broker.admin().create_topic(name)
        return name

    def reopen(self) -> unibus.Broker:
        """A new connection to the same broker (sqlite: a process restart's view)."""
        self.broker.close()
        self.broker = unibus.open(self.url)
        return self.broker

    # Short backoffs and deadlines, so redelivery tests take a second, not a minute.
    FAST = dict(min_backoff=0.02, max_backoff=0.1, ack_deadline=10.0)


@pytest.fixture(params=BACKENDS)
def env(request, tmp_path):
    if request.param == "mem":
        url = f"mem://{unique('py')}"
    elif request.param == "sqlite":
        url = f"sqlite://{tmp_path / 'unibus.db'}"
    elif request.param == "kafka":
        url = request.getfixturevalue("kafka_mock")
    else:
        url = f"pubsub://{unique('proj')}?emulator={request.getfixturevalue('pubsub_emulator')}"
    e = Env(request.param, url)
    yield e
    e.broker.close()


def drain(sub: unibus.Subscriber, want: int, timeout: float = 60.0, ack: bool = True):
    """Pulls until `want` messages came or `timeout` passed; acks each when `ack`."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        for m in sub.pull(100, 0.2):
            out.append(m)
            if ack:
                m.ack()
    return out
