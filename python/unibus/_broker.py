"""Broker: a connection to one broker picked by URL; makes publishers, subscribers, admins."""

from __future__ import annotations

from typing import Any, Optional

from . import _unibus
from ._admin import Admin
from ._checks import apply, check_type
from ._publisher import Publisher
from ._subscriber import Subscriber

Capabilities = _unibus.Capabilities

_BROKER_OPTIONS = {"properties": "dict", "max_message_bytes": "count",
                   "connect_timeout": "seconds", "portable_names": "bool"}
_PUBLISHER_OPTIONS = {"max_batch_messages": "count", "max_batch_bytes": "count",
                      "max_batch_delay": "seconds", "max_pending_messages": "count",
                      "create_topic_if_missing": "bool"}
_SUBSCRIBER_OPTIONS = {"topic": "text", "start": "start", "max_outstanding_messages": "count",
                       "max_outstanding_bytes": "count", "concurrency": "count",
                       "ack_deadline": "seconds", "min_backoff": "seconds",
                       "max_backoff": "seconds", "max_delivery_attempts": "count",
                       "dead_letter_topic": "text", "shutdown_timeout": "seconds"}


def check_portable_name(name: str, *, kind: str = "topic") -> None:
    """Checks that `name` is a portable topic or subscription name.

    Portable: 3-249 characters of ASCII letters, digits, '.', '_' and '-', starting
    with a letter and not with "goog" (the names valid on Kafka and on Pub/Sub alike).
    The topics and subscriptions unibus creates (Admin, create_topic_if_missing, the
    dead-letter topic "<subscription>.dead-letter") must have such names unless the
    broker was opened with portable_names=False; existing ones are reachable by any
    name their backend accepts.

    Args:
        name: the name to check.
        kind: "topic" or "subscription" (only changes the error message).

    Raises:
        unibus.InvalidArgument: the name breaks a rule; the message says which.
        TypeError: name or kind is not a str.
    """
    check_type("name", name, str, "a str")
    check_type("kind", kind, str, "a str")
    _unibus.check_portable_name(name, kind)


def open(url: Optional[str] = None, *, broker: Optional[str] = None,  # noqa: A001
         config: Optional[str] = None, **options: Any) -> "Broker":
    """Opens a broker by URL.

    Args:
        url: mem://[NAME] (in-process), sqlite://PATH (embedded, durable),
            kafka://HOST:PORT[,HOST:PORT...][?librdkafka.property=value],
            pubsub://PROJECT (PUBSUB_EMULATOR_HOST honoured). None: `broker` from the
            config file, else $UNIBUS_URL, else the config file's `default`, else
            sqlite://unibus.db (the same rule as the unibus command).
        broker: a broker named under `brokers:` in the config file.
        config: the config file (default ./unibus.yaml when it exists).
        **options: properties (dict[str, str], merged over the URL's query; Kafka:
            librdkafka properties), max_message_bytes (int, default 10 MiB),
            connect_timeout (seconds, default 10), portable_names (bool, default True:
            topics and subscriptions unibus creates must have names valid on every
            backend, see unibus.check_portable_name; False: any name the backend takes).

    Raises:
        unibus.InvalidArgument: unknown scheme, malformed URL, bad option value.
        unibus.Unavailable: the broker cannot be reached.
        unibus.NotFound: `broker` is not in the config file.
        TypeError: an option of the wrong type, or an unknown option.
    """
    if url is not None:
        check_type("url", url, str, "a str")
    if broker is not None:
        check_type("broker", broker, str, "a str")
    if config is not None:
        check_type("config", config, str, "a str")
    resolved = _unibus._resolve_url(url or "", broker or "", config or "")
    opts = _unibus._BrokerOptions()
    apply(opts, options, _BROKER_OPTIONS, "unibus.open()")
    return Broker(_unibus._Broker.open(resolved, opts))


class Broker:
    """A connection to one broker. Made by unibus.open(); thread-safe.

    Publishers and subscribers made from it are closed by their own close() (or their
    context manager); closing the broker closes those made from it that are still open.
    """

    def __init__(self, impl: _unibus._Broker) -> None:
        self._impl = impl
        self._clients: list = []

    @property
    def url(self) -> str:
        """str: the URL it was opened with, secrets removed."""
        return self._impl.url

    def capabilities(self) -> Capabilities:
        """What this backend really supports (ordering, partitions, retention, ...) and the
        limits a publish is checked against: max_message_bytes (data + attribute keys
        and values + ordering key), max_attributes, max_attribute_key_bytes,
        max_attribute_value_bytes, max_ordering_key_bytes (int, bytes of UTF-8). A
        publish past one fails with unibus.InvalidArgument naming the limit."""
        return self._impl.capabilities()

    def publisher(self, topic: str, **options: Any) -> Publisher:
        """A publisher for `topic`.

        Options: max_batch_messages (int, 1000), max_batch_bytes (int, 1 MiB),
        max_batch_delay (seconds, 0.001), max_pending_messages (int, 100000: publish()
        blocks past it), create_topic_if_missing (bool, False).

        Raises:
            unibus.NotFound: the topic does not exist (and create_topic_if_missing is
                False).
            unibus.InvalidArgument: a bad topic name.
            TypeError: an option of the wrong type, or an unknown option.
        """
        check_type("topic", topic, str, "a str")
        opts = _unibus._PublisherOptions()
        apply(opts, options, _PUBLISHER_OPTIONS, "Broker.publisher()")
        p = Publisher(self._impl.publisher(topic, opts))
        self._clients.append(p)
        return p

    def subscriber(self, subscription: str, *, topic: Optional[str] = None,
                   start: str = "latest", **options: Any) -> Subscriber:
        """A subscriber for `subscription`.

        Args:
            subscription: its name (Kafka: the consumer group).
            topic: the topic to read; needed on Kafka. Elsewhere, when the subscription
                does not exist it is created on this topic.
            start: "latest" (messages published from now on) or "earliest" (the
                topic's retained history), for a subscription created now.
            **options: max_outstanding_messages (int, 1000) and max_outstanding_bytes
                (int, 100 MiB): flow control; concurrency (int, 4): callback threads;
                ack_deadline (seconds, 30); min_backoff (0.1) and max_backoff (10):
                redelivery backoff in seconds; max_delivery_attempts (int, 5);
                dead_letter_topic (str, "<subscription>.dead-letter");
                shutdown_timeout (seconds, 10).

        Raises:
            unibus.NotFound: the subscription does not exist and no topic was given.
            unibus.InvalidArgument: a bad name or option value.
            TypeError: an option of the wrong type, or an unknown option.
        """
        check_type("subscription", subscription, str, "a str")
        opts = _unibus._SubscriberOptions()
        all_options = dict(options, start=start)
        if topic is not None:
            all_options["topic"] = topic
        apply(opts, all_options, _SUBSCRIBER_OPTIONS, "Broker.subscriber()")
        s = Subscriber(self._impl.subscriber(subscription, opts))
        self._clients.append(s)
        return s

    def admin(self) -> Admin:
        """The admin client: topics and subscriptions."""
        return Admin(self._impl.admin())

    def close(self) -> None:
        """Closes the publishers and subscribers made from this broker. Idempotent."""
        clients, self._clients = self._clients, []
        for c in sorted(clients, key=lambda c: isinstance(c, Publisher)):
            c.close()

    def __enter__(self) -> "Broker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<unibus.Broker {self.url}>"
