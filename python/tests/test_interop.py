"""Interop both ways: confluent-kafka on Kafka (keys, headers), google-cloud-pubsub on the
Pub/Sub emulator (attributes, ordering keys)."""

from __future__ import annotations

import time

import pytest

import unibus
from conftest import KAFKA_TOPICS, drain, unique

confluent_kafka = pytest.importorskip("confluent_kafka")
pubsub_v1 = pytest.importorskip("google.cloud.pubsub_v1")

# Topics of the mock's pool kept for this file (conftest hands out the low ones).
_interop_topics = iter(range(KAFKA_TOPICS - 1, KAFKA_TOPICS - 11, -1))


def bootstrap(url: str) -> str:
    return url[len("kafka://"):].split("?")[0]


@pytest.fixture(params=["kafka_mock", "kafka_real"])
def kafka_topic(request):
    """(URL, topic with 4 partitions) on the mock cluster and on a real Kafka broker."""
    url = request.getfixturevalue(request.param)
    if request.param == "kafka_mock":  # the mock makes its topics at its start
        return url, f"pool-{next(_interop_topics)}"
    topic = unique("interop")
    with unibus.open(url) as b:
        b.admin().create_topic(topic, partitions=4)
    return url, topic


def test_kafka_unibus_to_confluent(kafka_topic):
    url, topic = kafka_topic
    with unibus.open(url) as b:
        pub = b.publisher(topic)
        for i in range(3):
            pub.publish(f"v{i}", attributes={"trace": f"t{i}", "kind": "x"}, ordering_key="key-1")
        pub.flush()
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap(url),
                                         "group.id": unique("ck"),
                                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + 60
    while len(got) < 3 and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m)
    consumer.close()
    assert [m.value() for m in got] == [b"v0", b"v1", b"v2"]  # one key: one partition, in order
    assert all(m.key() == b"key-1" for m in got)
    headers = [dict(m.headers()) for m in got]
    assert [(h["trace"], h["kind"]) for h in headers] == [(f"t{i}".encode(), b"x")
                                                         for i in range(3)]


def test_kafka_confluent_to_unibus(kafka_topic):
    url, topic = kafka_topic
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap(url)})
    for i in range(3):
        producer.produce(topic, value=f"c{i}".encode(), key=b"img-9",
                         headers=[("source", b"confluent"), ("n", str(i).encode())])
    assert producer.flush(30) == 0
    with unibus.open(url) as b:
        sub = b.subscriber(unique("grp"), topic=topic, start="earliest")
        got = drain(sub, 3, timeout=30)
    assert [m.data for m in got] == [b"c0", b"c1", b"c2"]
    assert all(m.ordering_key == "img-9" for m in got)
    assert [m.attributes for m in got] == [{"source": "confluent", "n": str(i)} for i in range(3)]


@pytest.fixture
def pubsub(pubsub_emulator, monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    project = unique("interop")
    with unibus.open(f"pubsub://{project}?emulator={pubsub_emulator}") as b:
        yield project, b


def test_pubsub_unibus_to_google(pubsub):
    project, b = pubsub
    b.admin().create_topic("orders")
    google = pubsub_v1.SubscriberClient()
    sub_path = google.subscription_path(project, "client-reader")
    google.create_subscription(request={"name": sub_path,
                                        "topic": f"projects/{project}/topics/orders",
                                        "enable_message_ordering": True})
    pub = b.publisher("orders")
    for i in range(3):
        pub.publish(f"o{i}", attributes={"n": str(i)}, ordering_key="customer-7")
    pub.flush()
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 3 and time.monotonic() < deadline:
        r = google.pull(request={"subscription": sub_path, "max_messages": 10}, timeout=5)
        got += r.received_messages
        if r.received_messages:
            google.acknowledge(request={"subscription": sub_path,
                                        "ack_ids": [m.ack_id for m in r.received_messages]})
    google.close()
    assert [m.message.data for m in got] == [b"o0", b"o1", b"o2"]
    assert all(m.message.ordering_key == "customer-7" for m in got)
    assert [dict(m.message.attributes) for m in got] == [{"n": str(i)} for i in range(3)]


def test_pubsub_google_to_unibus(pubsub):
    project, b = pubsub
    b.admin().create_topic("events")
    sub = b.subscriber("unibus-reader", topic="events")
    google = pubsub_v1.PublisherClient(
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True))
    topic_path = google.topic_path(project, "events")
    for i in range(3):
        google.publish(topic_path, f"e{i}".encode(), ordering_key="device-3",
                       n=str(i)).result(timeout=30)
    got = drain(sub, 3, timeout=30)
    assert [m.data for m in got] == [b"e0", b"e1", b"e2"]
    assert all(m.ordering_key == "device-3" for m in got)
    assert [m.attributes for m in got] == [{"n": str(i)} for i in range(3)]


def test_bench_runs_and_prints_ratios(kafka_mock, pubsub_emulator):
    import os
    import re
    import subprocess
    import sys

    from conftest import ROOT

    env = dict(os.environ, UNIBUS_CLI=os.environ.get("UNIBUS_CLI") or
               str(ROOT / "build" / "src" / "cli" / "unibus"))
    r = subprocess.run([sys.executable, "-m", "unibus.bench", "--kafka-mock", "--pubsub-emulator",
                        pubsub_emulator, "-n", "300", "--pubsub-messages", "200", "-r", "2"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    # Kafka: 6 figures (publish and send against confluent-kafka's produce, publish
    # against produce with an on_delivery callback each; consume by pull(1), `for m in
    # sub`, pull(500)) and the CPU per message of each; Pub/Sub: 3 figures. Each with
    # min / median / spread per client.
    assert r.stdout.count("ratio (medians)") == 15, r.stdout
    assert "send, no result per message" in r.stdout, r.stdout
    assert "on_delivery" in r.stdout, r.stdout
    assert "`for m in sub`" in r.stdout, r.stdout
    rows = re.findall(r"^    (unibus|confluent-kafka|google-cloud-pubsub) +min +[\d,.]+ +median +"
                      r"[\d,.]+ +(msg/s|us) +spread +\d+ %$", r.stdout, re.MULTILINE)
    assert len(rows) == 30, r.stdout
    assert "CPU per message" in r.stdout and r.stdout.count("load average before") == 2, r.stdout
    assert "confluent-kafka" in r.stdout and "google-cloud-pubsub" in r.stdout
