"""python -m unibus.bench: unibus from Python against the usual Python clients, same run.

Kafka: unibus-Python vs confluent-kafka (produce + flush, idempotent with acks=all as
unibus's publisher, against unibus's publish() and its no-future send(); then again
with an on_delivery callback per message, served by poll(0) after each produce, the
closest thing confluent-kafka has to the future each unibus publish returns; poll +
store_offsets per message,
committed by the auto-commit timer: confluent-kafka's documented at-least-once pattern.
A commit(asynchronous=True) per message is not used: on a real broker it floods the group
coordinator with one OffsetCommit request per message; 40,000 of them on Kafka 4.1 left
1,565 still in flight after 60 s and close() timed out).
Pub/Sub: unibus-Python vs google-cloud-pubsub (publisher futures; streaming pull with ack).
Each round both clients publish N messages of S bytes to one fresh topic (each publisher
warmed by one untimed message first; on Kafka unibus and confluent-kafka each publish
it both ways, so the topic gets 4N), then a subscription of each reads them all back,
acking each (unibus on Kafka three ways, each with its own subscription: pull(1),
`for m in sub`, which pulls 100 at a time inside, and pull(500)); throughput is timed
from the first message received to the last (a consumer group's join is not counted). unibus's
subscribers allow 5000 outstanding messages (max_outstanding_messages, as `unibus bench`);
confluent-kafka has no such limit. Prints, per figure, the min and median over the rounds
(5 by default) and their spread ((max - min) / median) for each client, and the ratio of
the medians, unibus / baseline (above 1: unibus is faster), or "noisy" when the
baseline's rounds spread over 25 %, plus the per-round ratios. For publishing and
consuming on Kafka it also prints the CPU time of the whole process (every thread, the
client library's too) per message, steadier than throughput on a busy machine. The
load average before and after is printed; at 1 or more the run is not quiet and its
figures are not to be quoted.

    python -m unibus.bench --kafka-mock               # librdkafka's mock cluster (unibus CLI)
    python -m unibus.bench --kafka kafka://HOST:PORT  # a real cluster
    python -m unibus.bench --pubsub                   # starts the Pub/Sub emulator
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import threading
import time
import uuid
from typing import Callable, Dict, List

import unibus


# The subscribers' flow-control limit, as `unibus bench` (src/cli/bench.cc) sets it.
MAX_OUTSTANDING = 5000


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def _cpu_us(n: int, cpu_start: float) -> float:
    """CPU time of the whole process (every thread, the client library's too) per message
    since `cpu_start`, in microseconds: steadier than throughput on a busy machine."""
    return (time.process_time() - cpu_start) / n * 1e6


def _unibus_publish(broker: unibus.Broker, topic: str, n: int, payload: bytes,
                    cpu: "List[float] | None" = None, send: bool = False) -> float:
    """Publishes n messages, each with its future (publish) or with none (send), then
    flush(); returns msg/s and appends CPU us per message to `cpu`."""
    pub = broker.publisher(topic, max_batch_delay=0.001)
    pub.publish(payload).result(timeout=60)  # connected, producer id assigned: not timed
    publish = pub.send if send else pub.publish
    cpu_start = time.process_time()
    start = time.perf_counter()
    for _ in range(n):
        publish(payload)
    pub.flush()
    elapsed = time.perf_counter() - start
    if cpu is not None:
        cpu.append(_cpu_us(n, cpu_start))
    pub.close()
    return _rate(n, elapsed)


def _unibus_consume(broker: unibus.Broker, topic: str, n: int, batch: int,
                    cpu: "List[float] | None" = None) -> float:
    """Reads n messages from the topic's start with pull(batch), or with `for m in sub`
    when batch is 0, acking each; msg/s from the first message on."""
    sub = broker.subscriber(f"u-{uuid.uuid4().hex[:8]}", topic=topic, start="earliest",
                            max_outstanding_messages=max(MAX_OUTSTANDING, 2 * batch))
    got, start = 0, None
    deadline = time.monotonic() + 300
    if batch == 0:  # `for m in sub`: the user's code sees one message at a time
        timer = threading.Timer(300, sub.close)  # ends the loop if messages stop coming
        timer.start()
        for m in sub:
            if start is None:
                start, cpu_start = time.perf_counter(), time.process_time()
            m.ack()
            got += 1
            if got == n:
                break
        timer.cancel()
    while batch > 0 and got < n and time.monotonic() < deadline:
        msgs = sub.pull(batch, 1.0)
        if msgs and start is None:
            start, cpu_start = time.perf_counter(), time.process_time()
        for m in msgs:
            m.ack()
        got += len(msgs)
    elapsed = time.perf_counter() - (start or time.perf_counter())
    if cpu is not None and start is not None:
        cpu.append(_cpu_us(n - 1, cpu_start))
    sub.close()
    if got < n:
        raise RuntimeError(f"unibus consumed {got} of {n}")
    return _rate(n - 1, elapsed)  # timed from the first message on


def _confluent_publish(confluent_kafka, bootstrap: str, topic: str, n: int, payload: bytes,
                       results: Dict[str, list], key: str, on_delivery=None) -> None:
    """Publishes n messages with confluent-kafka, idempotent with acks=all (the delivery
    guarantee of unibus's publisher), and appends msg/s to results[key] and CPU us per
    message to results[key + "_cpu"]. With `on_delivery`, each produce() passes it and
    is followed by poll(0), which serves the callbacks due."""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "linger.ms": 1,
                                         "enable.idempotence": True, "acks": "all"})
    # Warmed as unibus's publisher: a fresh idempotent producer first waits for its
    # producer id, which on a 200,000-message round cut its rate to ~250k msg/s.
    producer.produce(topic, payload)
    producer.flush()
    produce, poll = producer.produce, producer.poll
    cpu_start = time.process_time()
    start = time.perf_counter()
    for _ in range(n):
        while True:  # queue.buffering.max.messages (100,000) reached: wait for room
            try:
                if on_delivery is None:
                    produce(topic, payload)
                else:
                    produce(topic, payload, on_delivery=on_delivery)
                break
            except BufferError:
                poll(0.01)
        if on_delivery is not None:
            poll(0)
    producer.flush()
    results[key].append(_rate(n, time.perf_counter() - start))
    results[f"{key}_cpu"].append(_cpu_us(n, cpu_start))


def bench_kafka(url: str, n: int, size: int, rounds: int, topics: List[str]) -> Dict[str, list]:
    import confluent_kafka

    bootstrap = url[len("kafka://"):].split("?")[0]
    payload = os.urandom(size)
    broker = unibus.open(url)
    results: Dict[str, list] = {k: [] for k in ("pub", "send", "ck_pub", "ck_pub_cb", "sub1",
                                                "sub_batch", "sub_iter", "ck_sub", "pub_cpu",
                                                "send_cpu", "ck_pub_cpu", "ck_pub_cb_cpu",
                                                "sub1_cpu", "sub_batch_cpu", "sub_iter_cpu",
                                                "ck_sub_cpu")}
    for r in range(rounds):
        topic = topics[r]
        results["pub"].append(_unibus_publish(broker, topic, n, payload, results["pub_cpu"]))
        # send(): no future, as confluent-kafka's bare produce() (next).
        results["send"].append(_unibus_publish(broker, topic, n, payload, results["send_cpu"],
                                               send=True))
        _confluent_publish(confluent_kafka, bootstrap, topic, n, payload, results, "ck_pub")
        # confluent-kafka with what unibus's publish returns: a result per message. Its
        # way is an on_delivery callback, served by poll(0) after each produce (its
        # documented pattern); flush() serves the rest.
        failed: List[object] = []

        def on_delivery(err, msg) -> None:
            if err is not None:
                failed.append(err)

        _confluent_publish(confluent_kafka, bootstrap, topic, n, payload, results, "ck_pub_cb",
                           on_delivery)
        if failed:
            raise RuntimeError(f"confluent-kafka: {len(failed)} deliveries failed: {failed[0]}")
        total = 4 * n
        results["sub1"].append(_unibus_consume(broker, topic, total, 1, results["sub1_cpu"]))
        results["sub_batch"].append(_unibus_consume(broker, topic, total, 500,
                                                    results["sub_batch_cpu"]))
        results["sub_iter"].append(_unibus_consume(broker, topic, total, 0,
                                                   results["sub_iter_cpu"]))
        consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap,
                                             "group.id": f"ck-{uuid.uuid4().hex[:8]}",
                                             "auto.offset.reset": "earliest",
                                             "enable.auto.commit": True,
                                             "enable.auto.offset.store": False,
                                             # as unibus's consumers (src/kafka/
                                             # consumer_group.cc): without it librdkafka
                                             # pauses fetching fetch.queue.backoff.ms (1 s)
                                             # each time 100,000 messages are queued, and
                                             # a 400,000-message backlog reads at ~180k/s
                                             "queued.min.messages": 1000000})
        consumer.subscribe([topic])
        got, start = 0, None
        deadline = time.monotonic() + 300
        while got < total:
            if time.monotonic() > deadline:
                raise RuntimeError(f"confluent-kafka consumer: {got} of {total} messages in 300 s")
            m = consumer.poll(1.0)
            if m is None or m.error() is not None:
                continue
            if start is None:
                start, cpu_start = time.perf_counter(), time.process_time()
            consumer.store_offsets(message=m)  # the ack: committed by the auto-commit timer
            got += 1
        results["ck_sub"].append(_rate(total - 1, time.perf_counter() - start))
        results["ck_sub_cpu"].append(_cpu_us(total - 1, cpu_start))
        consumer.close()
    broker.close()
    return results


def bench_pubsub(emulator: str, n: int, size: int, rounds: int) -> Dict[str, list]:
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator
    from google.cloud import pubsub_v1

    project = f"bench-{uuid.uuid4().hex[:8]}"
    payload = os.urandom(size)
    broker = unibus.open(f"pubsub://{project}?emulator={emulator}")
    gpub = pubsub_v1.PublisherClient()
    gsub = pubsub_v1.SubscriberClient()
    results: Dict[str, list] = {k: [] for k in ("pub", "g_pub", "sub1", "sub_batch", "g_sub")}
    for r in range(rounds):
        topic = f"bench-{r}"
        broker.admin().create_topic(topic, retention=3600)
        for name in ("u1", "ub", "g"):
            broker.admin().create_subscription(f"{topic}-{name}", topic=topic,
                                               message_ordering=False)
        results["pub"].append(_unibus_publish(broker, topic, n, payload))
        topic_path = gpub.topic_path(project, topic)
        start = time.perf_counter()
        futures = [gpub.publish(topic_path, payload) for _ in range(n)]
        for f in futures:
            f.result()
        results["g_pub"].append(_rate(n, time.perf_counter() - start))
        total = 2 * n
        for key, name, batch in (("sub1", "u1", 1), ("sub_batch", "ub", 500)):
            sub = broker.subscriber(f"{topic}-{name}",
                                    max_outstanding_messages=MAX_OUTSTANDING)
            got, start = 0, None
            while got < total:
                msgs = sub.pull(batch, 1.0)
                if msgs and start is None:
                    start = time.perf_counter()
                for m in msgs:
                    m.ack()
                got += len(msgs)
            results[key].append(_rate(total - 1, time.perf_counter() - start))
            sub.close()
        lock, done = threading.Lock(), threading.Event()
        state = {"got": 0, "start": None, "end": None}

        def callback(message) -> None:
            message.ack()
            with lock:
                if state["start"] is None:
                    state["start"] = time.perf_counter()
                state["got"] += 1
                if state["got"] == total:
                    state["end"] = time.perf_counter()
                    done.set()

        future = gsub.subscribe(gsub.subscription_path(project, f"{topic}-g"), callback)
        done.wait(600)
        future.cancel()
        results["g_sub"].append(_rate(total - 1, state["end"] - state["start"]))
    broker.close()
    return results


# A baseline whose rounds scatter more than this was disturbed by other load; a ratio
# against it says more about the machine than about unibus (as `unibus bench`).
NOISY_SPREAD = 0.25


def _spread(values: List[float]) -> float:
    """How far the rounds scatter: (max - min) / median, 0 for one round."""
    med = statistics.median(values)
    return (max(values) - min(values)) / med if med > 0 else 0.0


def _row(name: str, values: List[float], unit: str, fmt: str) -> str:
    return (f"    {name:<20} min {format(min(values), fmt):>10}  median "
            f"{format(statistics.median(values), fmt):>10} {unit:<5} spread "
            f"{100 * _spread(values):3.0f} %")


def _ratio(ours: List[float], base: List[float], higher_is_better: bool = True) -> str:
    """The ratio of medians (unibus / baseline for rates, baseline / unibus for costs),
    or "noisy" when the baseline's rounds spread over NOISY_SPREAD; plus per-round ratios
    (each round runs both clients seconds apart, so the machine's drift cancels out)."""
    per_round = [(o / b if higher_is_better else b / o) for o, b in zip(ours, base)]
    medians = statistics.median(ours) / statistics.median(base)
    if not higher_is_better:
        medians = 1 / medians
    head = (f"noisy (baseline rounds spread {100 * _spread(base):.0f} % > "
            f"{100 * NOISY_SPREAD:.0f} %), medians give {medians:.2f}x"
            if _spread(base) > NOISY_SPREAD else f"{medians:.2f}x")
    return (f"    ratio (medians) {head}; per-round ratios min {min(per_round):.2f}x "
            f"median {statistics.median(per_round):.2f}x")


def _load() -> float:
    return os.getloadavg()[0]


def _report(title: str, results: Dict[str, list], baseline: str, pairs,
            load_before: float) -> None:
    """Prints, per figure, min / median over the rounds and their spread for unibus and
    the baseline, then the ratio of medians ("noisy" if the baseline spread > 25 %)."""
    print(f"\n{title}, {len(results['pub'])} rounds, load average {load_before:.2f}")
    for label, key, base_key in pairs:
        print(f"  {label}")
        print(_row("unibus", results[key], "msg/s", ",.0f"))
        print(_row(baseline, results[base_key], "msg/s", ",.0f"))
        print(_ratio(results[key], results[base_key]))
        if results.get(f"{key}_cpu"):
            print("  CPU per message, all threads of the process (us; lower is better;"
                  " ratio = baseline / unibus)")
            print(_row("unibus", results[f"{key}_cpu"], "us", ".2f"))
            print(_row(baseline, results[f"{base_key}_cpu"], "us", ".2f"))
            print(_ratio(results[f"{key}_cpu"], results[f"{base_key}_cpu"],
                         higher_is_better=False))
    load_after = _load()
    quiet = max(load_before, load_after) < 1
    note = "" if quiet else (" (noisy: not quiet, do not quote these figures; a quiet machine"
                             " has load < 1)")
    print(f"  load average before {load_before:.2f}, after {load_after:.2f}{note}")


def _start_kafka_mock(cli: str, topics: List[str]) -> "tuple[subprocess.Popen, str]":
    args = [cli, "kafka-mock", "--brokers", "3"]
    for t in topics:
        args += ["--topic", f"{t}:4"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        m = re.search(r"url: (kafka://\S+)", line)
        if m:
            return proc, m.group(1) + "&heartbeat.interval.ms=500"
    raise RuntimeError("unibus kafka-mock did not print its URL")


def _start_emulator() -> "tuple[subprocess.Popen, str]":
    script = os.environ.get("UNIBUS_PUBSUB_EMULATOR", "/usr/lib/google-cloud-sdk/platform/"
                            "pubsub-emulator/bin/cloud-pubsub-emulator")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([script, "--host=127.0.0.1", f"--port={port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the Pub/Sub emulator did not start")


def main(argv: "list[str] | None" = None) -> None:
    p = argparse.ArgumentParser(prog="python -m unibus.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kafka", help="kafka:// URL of a running cluster")
    p.add_argument("--kafka-mock", action="store_true",
                   help="start librdkafka's mock cluster with `unibus kafka-mock` ($UNIBUS_CLI)")
    p.add_argument("--pubsub", action="store_true", help="start the Pub/Sub emulator")
    p.add_argument("--pubsub-emulator", help="HOST:PORT of a running Pub/Sub emulator")
    p.add_argument("-n", "--messages", type=int, default=20000, help="per client per round")
    p.add_argument("--pubsub-messages", type=int, default=5000, help="per client per round")
    p.add_argument("-s", "--size", type=int, default=100, help="payload bytes")
    p.add_argument("-r", "--rounds", type=int, default=5,
                   help="rounds; min, median and spread over them are printed")
    a = p.parse_args(argv)
    procs: List[subprocess.Popen] = []
    try:
        if a.kafka or a.kafka_mock:
            topics = [f"pybench-{uuid.uuid4().hex[:6]}-{r}" for r in range(a.rounds)]
            url = a.kafka
            if a.kafka_mock:
                cli = os.environ.get("UNIBUS_CLI") or shutil.which("unibus") or "build/src/cli/unibus"
                proc, url = _start_kafka_mock(cli, topics)
                procs.append(proc)
            else:
                admin = unibus.open(url).admin()
                for t in topics:
                    admin.create_topic(t, partitions=4)
            load = _load()
            res = bench_kafka(url, a.messages, a.size, a.rounds, topics)
            _report(f"Kafka {'mock cluster' if a.kafka_mock else url}, {a.messages} x {a.size} B"
                    " per client", res, "confluent-kafka", [
                        ("publish (futures / produce) + flush", "pub", "ck_pub"),
                        ("send, no result per message (send / produce) + flush", "send",
                         "ck_pub"),
                        ("publish with a result per message (futures / produce with "
                         "on_delivery, poll(0) each) + flush", "pub", "ck_pub_cb"),
                        ("consume + ack, one message per call", "sub1", "ck_sub"),
                        ("consume + ack, `for m in sub` (batches of 100 inside)", "sub_iter",
                         "ck_sub"),
                        ("consume + ack, pull(500)", "sub_batch", "ck_sub")], load)
        if a.pubsub or a.pubsub_emulator:
            emulator = a.pubsub_emulator
            if not emulator:
                proc, emulator = _start_emulator()
                procs.append(proc)
            load = _load()
            res = bench_pubsub(emulator, a.pubsub_messages, a.size, a.rounds)
            _report(f"Pub/Sub emulator, {a.pubsub_messages} x {a.size} B per client", res,
                    "google-cloud-pubsub", [
                        ("publish futures, all resolved", "pub", "g_pub"),
                        ("consume + ack, one message per call", "sub1", "g_sub"),
                        ("consume + ack, pull(500)", "sub_batch", "g_sub")], load)
        if not (a.kafka or a.kafka_mock or a.pubsub or a.pubsub_emulator):
            p.error("choose --kafka URL, --kafka-mock, --pubsub or --pubsub-emulator HOST:PORT")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
