"""Fixtures: a fresh broker per test on each backend the suite runs here."""

from __future__ import annotations

import itertools
import os

import pytest

import unibus

_counter = itertools.count()

BACKENDS = ["mem", "sqlite"]


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


class Env:
    """One backend for one test: its URL, a broker, and helpers to make resources."""

    def __init__(self, backend: str, tmp_path) -> None:
        self.backend = backend
        if backend == "mem":
            self.url = f"mem://{unique('py')}"
        else:
            self.url = f"sqlite://{tmp_path / 'unibus.db'}"
        self.broker = unibus.open(self.url)

    def topic(self, prefix: str = "topic") -> str:
        name = unique(prefix)
        self.broker.admin().create_topic(name)
        return name

    def reopen(self) -> unibus.Broker:
        """A new connection to the same broker (sqlite: a process restart's view)."""
        self.broker.close()
        self.broker = unibus.open(self.url)
        return self.broker

    # Short backoffs and deadlines, so redelivery tests take a second, not a minute.
    FAST = dict(min_backoff=0.02, max_backoff=0.1, ack_deadline=5.0)


@pytest.fixture(params=BACKENDS)
def env(request, tmp_path):
    e = Env(request.param, tmp_path)
    yield e
    e.broker.close()


def drain(sub: unibus.Subscriber, want: int, timeout: float = 10.0, ack: bool = True):
    """Pulls until `want` messages came or `timeout` passed; acks each when `ack`."""
    import time

    out = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        for m in sub.pull(100, 0.2):
            out.append(m)
            if ack:
                m.ack()
    return out
