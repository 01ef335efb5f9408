"""The contract subset from Python, on every backend of conftest.BACKENDS."""

from __future__ import annotations

import threading
import time

import pytest

import unibus
from conftest import drain, unique


def test_publish_receive_with_attributes_and_key(env):
    topic = env.topic()
    sub = env.broker.subscriber(unique("sub"), topic=topic, start="earliest")
    pub = env.broker.publisher(topic)
    ids = [pub.publish(f"m{i}", attributes={"i": str(i), "kind": "test"},
                       ordering_key="k").result(timeout=10) for i in range(3)]
    assert len(set(ids)) == 3
    got = drain(sub, 3)
    assert [m.data for m in got] == [b"m0", b"m1", b"m2"]
    assert [m.attributes for m in got] == [{"i": str(i), "kind": "test"} for i in range(3)]
    assert all(m.ordering_key == "k" and m.topic == topic for m in got)
    assert [m.id for m in got] == ids
    assert all(m.delivery_attempt == 1 for m in got)
    assert all(m.publish_time is not None and m.publish_time.tzinfo is not None for m in got)


def test_send_has_no_future_and_flush_reports_its_outcome(env):
    topic = env.topic()
    sub = env.broker.subscriber(unique("sub"), topic=topic, start="earliest")
    pub = env.broker.publisher(topic)
    for i in range(3):
        assert pub.send(f"s{i}", attributes={"i": str(i)}, ordering_key="k") is None
    pub.flush()  # every message sent before it is stored
    got = drain(sub, 3)
    assert [m.data for m in got] == [b"s0", b"s1", b"s2"]
    assert [m.attributes for m in got] == [{"i": str(i)} for i in range(3)]
    with pytest.raises(unibus.InvalidArgument, match="UTF-8"):
        pub.send(b"x", attributes={"k": b"\xff"})
    with pytest.raises(unibus.InvalidArgument):
        pub.send(b"x", attributes={"unibus-dead-letter-reason": "mine"})
    with pytest.raises(TypeError):
        pub.send(42)
    pub.flush()  # what was refused at once is not flush()'s failure
    pub.close()
    with pytest.raises(unibus.FailedPrecondition):
        pub.send(b"late")


def test_acked_message_is_not_redelivered(env):
    topic = env.topic()
    sub = env.broker.subscriber(unique("sub"), topic=topic, start="earliest", **env.FAST)
    env.broker.publisher(topic).publish(b"once").result(timeout=10)
    assert [m.data for m in drain(sub, 1)] == [b"once"]
    assert sub.pull(10, 0.5) == []
    assert sub.stats().acked == 1


def test_nack_redelivers_with_attempt_count(env):
    topic = env.topic()
    sub = env.broker.subscriber(unique("sub"), topic=topic, start="earliest", **env.FAST)
    env.broker.publisher(topic).publish(b"again").result(timeout=10)
    (first,) = drain(sub, 1, ack=False)
    assert first.delivery_attempt == 1
    first.nack("not yet")
    (second,) = drain(sub, 1, ack=False)
    assert (second.data, second.delivery_attempt) == (b"again", 2)
    second.ack()
    assert sub.stats().nacked == 1


def test_dead_letter_after_max_attempts_with_reason_attributes(env):
    topic = env.topic()
    dead_letter = env.topic("dead")
    dead = env.broker.subscriber(unique("dl"), topic=dead_letter, start="earliest")
    sub = env.broker.subscriber(unique("sub"), topic=topic, start="earliest",
                                max_delivery_attempts=2, dead_letter_topic=dead_letter,
                                **env.FAST)
    env.broker.publisher(topic).publish(b"poison", attributes={"a": "1"}).result(timeout=10)
    for attempt in (1, 2):
        (m,) = drain(sub, 1, ack=False)
        assert m.delivery_attempt == attempt
        m.nack(f"bad input {attempt}")
    (d,) = drain(dead, 1)
    assert d.data == b"poison"
    assert d.attributes[unibus.DEAD_LETTER_REASON] == "bad input 2"
    assert d.attributes[unibus.DEAD_LETTER_SOURCE_TOPIC] == topic
    assert d.attributes[unibus.DEAD_LETTER_ATTEMPTS] == "2"
    assert d.attributes["a"] == "1"
    assert sub.pull(10, 0.3) == []


def test_reject_dead_letters_at_once(env):
    topic = env.topic()
    dead_letter = env.topic("dead")
    dead = env.broker.subscriber(unique("dl"), topic=dead_letter, start="earliest")
    sub = env.broker.subscriber(unique("sub"), topic=topic, start="earliest",
                                dead_letter_topic=dead_letter, **env.FAST)
    env.broker.publisher(topic).publish(b"junk").result(timeout=10)
    (m,) = drain(sub, 1, ack=False)
    m.reject("cannot parse")
    (d,) = drain(dead, 1)
    assert d.attributes[unibus.DEAD_LETTER_REASON] == "cannot parse"
    assert d.attributes[unibus.DEAD_LETTER_ATTEMPTS] == "1"


def test_per_key_order_with_parallel_keys(env):
    topic = env.topic()
    sub = env.broker.subscriber(unique("sub"), topic=topic, start="earliest", concurrency=4)
    pub = env.broker.publisher(topic)
    keys = ["a", "b", "c"]
    for i in range(30):
        for k in keys:
            pub.publish(f"{k}{i}", ordering_key=k)
    pub.flush()
    seen = {k: [] for k in keys}
    lock = threading.Lock()
    done = threading.Event()

    def handle(m):
        with lock:
            seen[m.ordering_key].append(int(m.data[1:]))
            if sum(map(len, seen.values())) == 90:
                done.set()
        m.ack()

    with sub.subscribe(handle):
        assert done.wait(60)
    assert all(seen[k] == list(range(30)) for k in keys), seen


def test_fan_out_and_competing_consumers(env):
    topic = env.topic()
    shared = unique("shared")
    fan = env.broker.subscriber(unique("fan"), topic=topic, start="earliest")
    c1 = env.broker.subscriber(shared, topic=topic, start="earliest")
    c2 = env.broker.subscriber(shared, topic=topic, start="earliest")
    pub = env.broker.publisher(topic)
    for i in range(40):
        pub.publish(str(i))
    pub.flush()
    got1, got2 = [], []
    deadline = time.monotonic() + 60
    while len(got1) + len(got2) < 40 and time.monotonic() < deadline:
        for sub, got in ((c1, got1), (c2, got2)):
            for m in sub.pull(5, 0.05):
                got.append(m.data)
                m.ack()
    shared_all = got1 + got2
    assert sorted(shared_all, key=int) == [str(i).encode() for i in range(40)]
    assert len(set(shared_all)) == 40  # competing: each message to one consumer
    assert sorted((m.data for m in drain(fan, 40)), key=int) == [str(i).encode()
                                                                 for i in range(40)]


def test_flow_control_caps_outstanding_messages(env):
    topic = env.topic()
    sub = env.broker.subscriber(unique("sub"), topic=topic, start="earliest",
                                max_outstanding_messages=5)
    pub = env.broker.publisher(topic)
    for i in range(20):
        pub.publish(str(i))
    pub.flush()
    held = drain(sub, 5, ack=False)
    assert len(held) == 5
    assert drain(sub, 15, timeout=1.5, ack=False) == []  # no more while 5 are outstanding
    for m in held:
        m.ack()
    rest = drain(sub, 15, timeout=10)
    assert len(rest) == 15


def test_unacked_messages_come_back_after_restart(env):
    topic = env.topic()
    name = unique("sub")
    sub = env.broker.subscriber(name, topic=topic, start="earliest", **env.FAST)
    pub = env.broker.publisher(topic)
    for i in range(10):
        pub.publish(str(i))
    pub.flush()
    first = drain(sub, 10, ack=False)
    for m in first[:4]:
        m.ack()
    sub.close()  # the rest go back to the broker unsettled
    broker = env.reopen() if env.backend == "sqlite" else env.broker
    again = broker.subscriber(name, topic=topic, **env.FAST)
    rest = drain(again, 6)
    assert sorted(int(m.data) for m in rest) == sorted(int(m.data) for m in first[4:])
    assert again.pull(10, 0.3) == []
