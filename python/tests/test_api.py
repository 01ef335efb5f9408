"""The Python surface: errors, types, closing, asyncio, the GIL and threads, exit."""

from __future__ import annotations

import _thread
import asyncio
import datetime
import re
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import unibus
from conftest import drain, unique


@pytest.fixture
def mem():
    with unibus.open(f"mem://{unique('api')}") as broker:
        yield broker


def test_errors_map_status_codes_with_the_cpp_message(mem):
    with pytest.raises(unibus.NotFound, match="topic 'missing' does not exist") as e:
        mem.publisher("missing")
    assert isinstance(e.value, unibus.Error) and isinstance(e.value, LookupError)
    assert e.value.code == "NOT_FOUND"
    mem.admin().create_topic("twice")
    with pytest.raises(unibus.AlreadyExists):
        mem.admin().create_topic("twice")
    with pytest.raises(unibus.InvalidArgument):
        unibus.open("nosuch://x")
    with pytest.raises(unibus.InvalidArgument):
        mem.admin().create_topic("9 bad name")
    with pytest.raises(unibus.NotFound):
        mem.subscriber("no-such-subscription")


def test_wrong_types_name_the_expected_type(mem):
    mem.admin().create_topic("t-types")
    pub = mem.publisher("t-types")
    with pytest.raises(TypeError, match="data must be str or bytes, not int"):
        pub.publish(42)
    with pytest.raises(TypeError, match=r"attributes must be a dict\[str, str\], not list"):
        pub.publish(b"x", attributes=[("a", "b")])
    with pytest.raises(TypeError, match="attribute values must be str or bytes, not int"):
        pub.publish(b"x", attributes={"a": 1})
    with pytest.raises(TypeError, match="ordering_key must be str or bytes, not float"):
        pub.publish(b"x", ordering_key=1.5)
    with pytest.raises(TypeError, match="max_outstanding_messages must be an int, not str"):
        mem.subscriber("s-types", topic="t-types", max_outstanding_messages="10")
    with pytest.raises(TypeError, match="ack_deadline must be a number of seconds"):
        mem.subscriber("s-types", topic="t-types", ack_deadline="30s")
    with pytest.raises(TypeError, match="unexpected option 'max_outstanding'"):
        mem.subscriber("s-types", topic="t-types", max_outstanding=3)
    with pytest.raises(ValueError, match="start must be 'earliest' or 'latest'"):
        mem.subscriber("s-types", topic="t-types", start="beginning")
    with pytest.raises(TypeError, match="topic must be a str, not bytes"):
        mem.publisher(b"t-types")
    sub = mem.subscriber("s-types", topic="t-types")
    with pytest.raises(TypeError, match="callback must be callable, not int"):
        sub.subscribe(3)
    with pytest.raises(TypeError, match="max_messages must be an int, not str"):
        sub.pull("10")
    with pytest.raises(TypeError, match="max_messages must be an int, not bool"):
        sub.pull(True)
    with pytest.raises(TypeError, match=r"timeout must be a number of seconds \(float\) or a "
                       r"datetime.timedelta, not str"):
        sub.pull(1, "1")
    with pytest.raises(unibus.InvalidArgument, match="max_messages must be at least 1"):
        sub.pull(0, 0)
    assert sub.pull(1, datetime.timedelta(milliseconds=1)) == []
    assert sub.pull(1, 0) == [] and sub.pull(timeout=0.001) == []


def test_non_utf8_attributes_follow_the_cpp_rule(mem):
    mem.admin().create_topic("t-utf8")
    pub = mem.publisher("t-utf8")
    with pytest.raises(unibus.InvalidArgument, match="UTF-8"):
        pub.publish(b"x", attributes={"k": b"\xff\xfe"}).result(timeout=5)
    with pytest.raises(unibus.InvalidArgument, match="UTF-8"):
        pub.publish(b"x", ordering_key=b"\xc3").result(timeout=5)
    # bytes that are valid UTF-8 are fine, and so is non-ASCII text
    assert pub.publish(b"x", attributes={"k": "h\u00e9", "b": b"ok"}).result(timeout=5)


def test_use_after_close_is_a_clear_error(mem):
    mem.admin().create_topic("t-close")
    pub = mem.publisher("t-close")
    sub = mem.subscriber("s-close", topic="t-close")
    with pub, sub:
        pass
    assert pub.closed and sub.closed
    with pytest.raises(unibus.FailedPrecondition, match="publisher for topic 't-close' is closed"):
        pub.publish(b"x")
    with pytest.raises(unibus.FailedPrecondition, match="subscription 's-close' is closed"):
        sub.pull(1, 0)
    pub.close()  # idempotent


def test_a_message_settles_once(mem):
    mem.admin().create_topic("t-once")
    sub = mem.subscriber("s-once", topic="t-once")
    mem.publisher("t-once").publish(b"x").result(timeout=5)
    (m,) = drain(sub, 1, ack=False)
    m.ack()
    assert m.settled
    with pytest.raises(unibus.FailedPrecondition, match=r"already settled \(ack\)"):
        m.nack("late")


def test_racing_settles_settle_a_message_once(mem):
    mem.admin().create_topic("t-race")
    sub = mem.subscriber("s-race", topic="t-race")
    pub = mem.publisher("t-race")
    for i in range(50):
        pub.publish(str(i))
    pub.flush()
    msgs = drain(sub, 50, ack=False)
    assert not any(m.settled for m in msgs)
    wins, errors, start = [], [], threading.Barrier(4)

    def settle(how):
        start.wait()
        for m in msgs:
            try:
                m.ack() if how == "ack" else m.nack("raced")
                wins.append((m.id, how))
            except unibus.FailedPrecondition as e:
                errors.append(str(e))

    threads = [threading.Thread(target=settle, args=(h,)) for h in ("ack", "nack") * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(i for i, _ in wins) == sorted(m.id for m in msgs)  # one winner each
    assert len(errors) == 3 * 50
    assert all(re.search(r"already settled \((ack|nack)\)", e) for e in errors)
    nacked = {i for i, how in wins if how == "nack"}
    stats = sub.stats()
    assert (stats.acked, stats.nacked) == (50 - len(nacked), len(nacked))


def test_asyncio_publish_and_async_for(mem):
    mem.admin().create_topic("t-async")
    sub = mem.subscriber("s-async", topic="t-async")
    pub = mem.publisher("t-async")

    async def main():
        ids = await asyncio.gather(*(pub.publish_async(f"a{i}") for i in range(5)))
        assert len(set(ids)) == 5
        got = []
        async for m in sub:
            got.append(m.data)
            m.ack()
            if len(got) == 5:
                break
        return got

    assert sorted(asyncio.run(main())) == [f"a{i}".encode() for i in range(5)]
    with pytest.raises(unibus.NotFound):
        asyncio.run(_publish_missing(mem))


async def _publish_missing(mem):
    mem.admin().create_topic("t-gone")
    pub = mem.publisher("t-gone")
    mem.admin().delete_topic("t-gone")
    await pub.publish_async(b"x")


def test_iterating_a_subscriber(mem):
    mem.admin().create_topic("t-iter")
    sub = mem.subscriber("s-iter", topic="t-iter")
    pub = mem.publisher("t-iter")
    for i in range(3):
        pub.publish(str(i))
    got = []
    for m in sub:
        got.append(m.data)
        m.ack()
        if len(got) == 3:
            break
    assert sorted(got) == [b"0", b"1", b"2"]


def test_callback_that_raises_nacks_and_the_message_comes_back(mem):
    mem.admin().create_topic("t-raise")
    sub = mem.subscriber("s-raise", topic="t-raise", min_backoff=0.02, max_backoff=0.05)
    attempts = []
    done = threading.Event()

    def handle(m):
        attempts.append(m.delivery_attempt)
        if m.delivery_attempt < 3:
            raise RuntimeError("flaky")
        m.ack()
        done.set()

    with sub.subscribe(handle):
        mem.publisher("t-raise").publish(b"x").result(timeout=5)
        assert done.wait(10)
    assert attempts == [1, 2, 3]
    assert sub.stats().nacked == 2


def test_callback_exception_reason_reaches_the_dead_letter(mem):
    mem.admin().create_topic("t-raise-dl")
    mem.admin().create_topic("s-raise-dl.dead-letter")
    dead = mem.subscriber("dead", topic="s-raise-dl.dead-letter")
    sub = mem.subscriber("s-raise-dl", topic="t-raise-dl", max_delivery_attempts=1)

    def handle(m):
        raise ValueError("cannot handle it")

    with sub.subscribe(handle):
        mem.publisher("t-raise-dl").publish(b"x").result(timeout=5)
        (d,) = drain(dead, 1)
    assert d.attributes[unibus.DEAD_LETTER_REASON] == "callback raised ValueError: cannot handle it"


def test_slow_callback_does_not_block_other_keys(mem):
    mem.admin().create_topic("t-slow")
    sub = mem.subscriber("s-slow", topic="t-slow", concurrency=4)
    fast_done = threading.Event()
    release = threading.Event()
    fast = []

    def handle(m):
        if m.ordering_key == "slow":
            release.wait(10)  # holds its thread (not the GIL) until the fast key is done
        else:
            fast.append(m.data)
            if len(fast) == 10:
                fast_done.set()
        m.ack()

    pub = mem.publisher("t-slow")
    with sub.subscribe(handle):
        pub.publish(b"s", ordering_key="slow")
        for i in range(10):
            pub.publish(str(i), ordering_key="fast")
        assert fast_done.wait(10)
        release.set()
    assert fast == [str(i).encode() for i in range(10)]


def test_blocking_pull_releases_the_gil(mem):
    mem.admin().create_topic("t-gil")
    sub = mem.subscriber("s-gil", topic="t-gil")
    counted = []

    def count():
        n, end = 0, time.monotonic() + 0.5
        while time.monotonic() < end:
            n += 1
        counted.append(n)

    t = threading.Thread(target=count)
    t.start()
    assert sub.pull(1, 1.0) == []  # waits 1 s; the counting thread runs meanwhile
    t.join()
    assert counted[0] > 10000


def test_ctrl_c_interrupts_a_blocking_pull(mem):
    mem.admin().create_topic("t-sigint")
    sub = mem.subscriber("s-sigint", topic="t-sigint")
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        sub.pull(1, None)
    assert time.monotonic() - start < 5


def test_interpreter_exit_with_live_clients_neither_hangs_nor_crashes(tmp_path):
    script = textwrap.dedent(f"""
        import os, threading, unibus
        b = unibus.open("sqlite://{tmp_path}/exit-" + str(os.getpid()) + ".db")
        b.admin().create_topic("top")
        sub = b.subscriber("sub", topic="top", concurrency=2)
        pub = b.publisher("top")
        started = threading.Event()
        def handle(m):
            started.set()
            # a busy callback holding the GIL now and then, acking some
            sum(range(1000))
            if m.data.endswith(b"0"):
                m.ack()
        session = sub.subscribe(handle)
        futures = [pub.publish(str(i)) for i in range(2000)]
        started.wait(10)
        pub.publish(b"last").add_done_callback(lambda f: None)
        print("exiting", flush=True)
        # no stop(), no close(): the exit hook must do it
    """)
    for _ in range(3):  # a crash at exit is a race: give it a few chances to show
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        assert "exiting" in r.stdout


def test_importing_unibus_does_not_load_numpy():
    # numpy's import takes ~0.2 s of CPU and starts OpenBLAS's pool thread, which spins
    # ~60 ms of CPU at once; only the image helpers need numpy.
    script = ("import sys, unibus; print('numpy' in sys.modules); "
              "unibus.encode_image('a', [0] * 784); print('numpy' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True"]


def test_publish_future_is_a_concurrent_future(mem):
    import concurrent.futures as cf

    mem.admin().create_topic("t-future")
    pub = mem.publisher("t-future")
    futures = [pub.publish(str(i)) for i in range(50)]
    assert all(isinstance(f, cf.Future) for f in futures)
    done, not_done = cf.wait(futures, timeout=10)
    assert len(done) == 50 and not not_done
    assert sorted(f.result() for f in cf.as_completed(futures, timeout=10)) == \
        sorted(f.result() for f in futures)
    called = threading.Event()
    seen = []
    f = pub.publish(b"cb")
    f.add_done_callback(lambda fut: (seen.append(fut.result()), called.set()))
    assert called.wait(10) and seen == [f.result()]
    late = []
    f.add_done_callback(late.append)  # already done: runs at once, on this thread
    assert late == [f]
    assert not f.cancel() and not f.cancelled() and f.done()
    mem.admin().delete_topic("t-future")
    failed = pub.publish(b"x")
    assert isinstance(failed.exception(10), unibus.NotFound)
    assert cf.wait([failed], timeout=10).done == {failed}
    with pytest.raises(unibus.NotFound):
        pub.flush()  # the failed publish's error, once
    pub.flush()
    pub.send(b"y")  # no future: its failure is the next flush()'s
    with pytest.raises(unibus.NotFound, match="t-future"):
        pub.flush()


def test_close_raises_what_send_failed(mem):
    """A send() has no future: close() (and leaving a with block) raises its failure."""
    mem.admin().create_topic("t-close")
    pub = mem.publisher("t-close")
    mem.admin().delete_topic("t-close")
    pub.send(b"lost")
    with pytest.raises(unibus.NotFound, match="t-close"):
        pub.close()
    assert pub.closed
    pub.close()  # idempotent; nothing left to raise
    mem.admin().create_topic("t-close")
    with pytest.raises(unibus.NotFound):
        with mem.publisher("t-close") as pub:
            mem.admin().delete_topic("t-close")
            pub.send(b"lost")
    mem.admin().create_topic("t-close")
    with pytest.raises(KeyError):  # the block's own exception is the one raised
        with mem.publisher("t-close") as pub:
            mem.admin().delete_topic("t-close")
            pub.send(b"lost")
            raise KeyError("mine")
    mem.admin().create_topic("t-close")
    pub = mem.publisher("t-close")
    mem.admin().delete_topic("t-close")
    failed = pub.publish(b"x")
    assert isinstance(failed.exception(10), unibus.NotFound)
    pub.close()  # a publish's failure is its future's, not close()'s


def test_open_resolves_the_url_like_the_cli(tmp_path, monkeypatch):
    (tmp_path / "unibus.yaml").write_text(
        "default: local\nbrokers:\n  local: mem://from-yaml\n  other: mem://other\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("UNIBUS_URL", raising=False)
    assert unibus.open().url == "mem://from-yaml"
    assert unibus.open(broker="other").url == "mem://other"
    with pytest.raises(unibus.NotFound, match="broker 'nope' is not listed"):
        unibus.open(broker="nope")
    monkeypatch.setenv("UNIBUS_URL", "mem://from-env")
    assert unibus.open().url == "mem://from-env"
    assert unibus.open("mem://given").url == "mem://given"


def test_iteration_ends_when_another_thread_closes_the_subscriber(mem):
    mem.admin().create_topic("t-iter-close")
    sub = mem.subscriber("s-iter-close", topic="t-iter-close")
    threading.Timer(0.3, sub.close).start()
    assert list(sub) == []


def test_capabilities_give_the_publish_limits():
    with unibus.open(f"mem://{unique('caps')}", max_message_bytes=1000) as broker:
        caps = broker.capabilities()
        assert caps.backend == "mem"
        assert caps.max_message_bytes == 1000  # capped by max_message_bytes
        for limit in ("max_attributes", "max_attribute_key_bytes", "max_attribute_value_bytes",
                      "max_ordering_key_bytes"):
            assert isinstance(getattr(caps, limit), int) and getattr(caps, limit) > 0, limit
        assert "max_message_bytes=1000" in repr(caps)
        broker.admin().create_topic("t-caps")
        pub = broker.publisher("t-caps")
        assert pub.publish(b"x" * caps.max_message_bytes).result(timeout=5)
        with pytest.raises(unibus.InvalidArgument, match="1001 bytes"):
            pub.publish(b"x" * (caps.max_message_bytes + 1)).result(timeout=5)


def test_portable_name_rules():
    unibus.check_portable_name("images.v2_raw-1")
    unibus.check_portable_name("classifier", kind="subscription")
    with pytest.raises(unibus.InvalidArgument, match="too short"):
        unibus.check_portable_name("ab")
    with pytest.raises(unibus.InvalidArgument, match="subscription"):
        unibus.check_portable_name("9lives", kind="subscription")
    with pytest.raises(unibus.InvalidArgument, match="goog"):
        unibus.check_portable_name("google-topic")
    with pytest.raises(unibus.InvalidArgument, match="kind must be"):
        unibus.check_portable_name("images", kind="queue")
    with pytest.raises(TypeError, match="name must be a str"):
        unibus.check_portable_name(7)
    # What unibus creates follows the rule unless the broker is opened without it.
    name = unique("np")
    with unibus.open(f"mem://{name}") as broker:
        with pytest.raises(unibus.InvalidArgument, match="too short"):
            broker.admin().create_topic("t1")
    with unibus.open(f"mem://{name}-any", portable_names=False) as broker:
        broker.admin().create_topic("t1")
        assert "t1" in broker.admin().list_topics()
    with pytest.raises(TypeError, match="portable_names must be a bool"):
        unibus.open("mem://", portable_names="no")


def test_session_wait_raises_a_dead_letter_failure():
    # The dead-letter copy carries the reason attributes, so a message at the size limit
    # cannot be dead-lettered: Session.wait raises that, and the session goes on.
    with unibus.open(f"mem://{unique('dlf')}", max_message_bytes=300) as broker:
        broker.admin().create_topic("t-dlf")
        broker.admin().create_topic("s-dlf.dead-letter")
        sub = broker.subscriber("s-dlf", topic="t-dlf")
        seen = threading.Event()

        def handle(m):
            seen.set()
            m.reject("cannot use it")

        with sub.subscribe(handle) as session:
            broker.publisher("t-dlf").publish(b"x" * 300).result(timeout=5)
            assert seen.wait(10)
            with pytest.raises(unibus.InvalidArgument, match="s-dlf.dead-letter"):
                session.wait(10)
            assert not session.stopped
            assert session.wait(0.2) is False  # each failure is raised once
            assert sub.stats().dead_letter_failed == 1
            assert sub.stats().dead_lettered == 0


def test_options_out_of_range_are_refused(mem):
    mem.admin().create_topic("t-range")
    # 0 would block every publish for good (found by a review: it hung, deaf to Ctrl-C).
    with pytest.raises(unibus.InvalidArgument, match="max_pending_messages must be at least 1"):
        mem.publisher("t-range", max_pending_messages=0)
    with pytest.raises(unibus.InvalidArgument, match="max_batch_delay must be >= 0"):
        mem.publisher("t-range", max_batch_delay=-1)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(unibus.InvalidArgument, match="max_batch_delay must be"):
            mem.publisher("t-range", max_batch_delay=bad)
        with pytest.raises(unibus.InvalidArgument, match="ack_deadline must be"):
            mem.subscriber("s-range", topic="t-range", ack_deadline=bad)
    with pytest.raises(unibus.InvalidArgument, match="shutdown_timeout must be >= 0"):
        mem.subscriber("s-range", topic="t-range", shutdown_timeout=-1)
    with pytest.raises(unibus.InvalidArgument, match="connect_timeout must be > 0"):
        unibus.open("mem://range", connect_timeout=-1)
    # The core refuses these for every backend (mem and Kafka took them without a word).
    for bad in (-1, float("inf")):
        with pytest.raises(
            unibus.InvalidArgument, match=r"retention must be (finite|>= 0) \(0: the backend's default\)"
        ):
            mem.admin().create_topic("t-range-2", retention=bad)
    # Under 1 ms would be stored as 0: "no age limit" on sqlite, "keep nothing" on Kafka.
    with pytest.raises(unibus.InvalidArgument, match="retention must be at least 1ms"):
        mem.admin().create_topic("t-range-2", retention=0.0005)
    assert "t-range-2" not in mem.admin().list_topics()


def _pull_one_unsettled(broker: unibus.Broker, name: str, data: bytes):
    """Publishes `data` to topic t-NAME and pulls it, unsettled, from subscription
    s-NAME; returns the subscriber and the message."""
    broker.admin().create_topic(f"t-{name}")
    broker.admin().create_subscription(f"s-{name}", topic=f"t-{name}", start="earliest")
    broker.publisher(f"t-{name}").publish(data).result(timeout=5)
    sub = broker.subscriber(f"s-{name}")
    (m,) = drain(sub, 1, ack=False)
    return sub, m


def test_settling_after_close_raises_and_the_message_comes_back(tmp_path):
    # Close releases unsettled messages to the broker: an ack after it used to do
    # nothing without a word (the message came again) and report settled.
    with unibus.open(f"sqlite://{tmp_path}/late.db") as broker:
        sub, m = _pull_one_unsettled(broker, "late", b"x")
        sub.close()
        with pytest.raises(unibus.FailedPrecondition, match="subscriber is closed"):
            m.ack()
        assert not m.settled
        with broker.subscriber("s-late") as again:
            (m2,) = drain(again, 1)
        assert m2.data == b"x" and m2.delivery_attempt == 2


def test_a_reject_right_before_close_is_dead_lettered(tmp_path):
    # The dead-letter write used to be dropped when close() came at once after the
    # reject, and the message came back on the next start instead.
    with unibus.open(f"sqlite://{tmp_path}/rej.db") as broker:
        sub, m = _pull_one_unsettled(broker, "rej", b"bad")
        m.reject("cannot parse")
        sub.close()
        assert sub.stats().dead_lettered == 1
        with broker.subscriber("s-rej") as again:
            assert again.pull(10, 1.0) == []
