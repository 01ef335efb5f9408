"""Admin: create, delete, list and describe topics and subscriptions."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from . import _unibus
from ._checks import apply, check_type

TopicInfo = _unibus.TopicInfo
SubscriptionInfo = _unibus.SubscriptionInfo
PartitionInfo = _unibus.PartitionInfo

_TOPIC = {"partitions": "count", "retention": "seconds",
          "retention_messages": "count", "configs": "dict"}
_SUBSCRIPTION = {"topic": "text", "start": "start", "ack_deadline": "seconds",
                 "message_ordering": "bool", "dead_letter_topic": "text",
                 "max_delivery_attempts": "count"}


class Admin:
    """Topics and subscriptions of one broker. Made by Broker.admin().

    Every call blocks (without the GIL) until the broker answers or the broker's
    connect_timeout passes. Errors mean the same on every backend: unibus.NotFound,
    unibus.AlreadyExists, unibus.InvalidArgument (bad name or config),
    unibus.Unimplemented (this server cannot; see Broker.capabilities()),
    unibus.Unavailable.
    """

    def __init__(self, impl: _unibus._Admin) -> None:
        self._impl = impl

    def create_topic(self, name: str, *, partitions: int = 1, replication_factor: int = -1,
                     retention: Optional[float] = None, retention_messages: int = 0,
                     configs: Optional[Dict[str, str]] = None) -> None:
        """Creates topic `name`. partitions and replication_factor are Kafka's (-1: the
        broker's default); retention in seconds (None: the backend's default);
        retention_messages (sqlite: keep at most this many; 0: no limit); configs:
        backend-specific topic configs."""
        check_type("name", name, str, "a str")
        c = _unibus._TopicConfig()
        c.name = name
        options: Dict[str, Any] = {"partitions": partitions, "retention_messages": retention_messages}
        check_type("replication_factor", replication_factor, int, "an int")
        c.replication_factor = replication_factor
        if retention is not None:
            options["retention"] = retention
        if configs is not None:
            options["configs"] = configs
        apply(c, options, _TOPIC, "Admin.create_topic()")
        self._impl.create_topic(c)

    def delete_topic(self, name: str) -> None:
        """Deletes topic `name` and its messages."""
        self._impl.delete_topic(check_type("name", name, str, "a str"))

    def list_topics(self) -> List[str]:
        return self._impl.list_topics()

    def describe_topic(self, name: str) -> TopicInfo:
        return self._impl.describe_topic(check_type("name", name, str, "a str"))

    def create_subscription(self, name: str, *, topic: str, start: str = "latest",
                            ack_deadline: float = 30.0, message_ordering: bool = True,
                            dead_letter_topic: str = "", max_delivery_attempts: int = 5) -> None:
        """Creates subscription `name` on `topic`, starting at "latest" or "earliest";
        ack_deadline in seconds."""
        check_type("name", name, str, "a str")
        c = _unibus._SubscriptionConfig()
        c.name = name
        apply(c, {"topic": topic, "start": start, "ack_deadline": ack_deadline,
                  "message_ordering": message_ordering, "dead_letter_topic": dead_letter_topic,
                  "max_delivery_attempts": max_delivery_attempts},
              _SUBSCRIPTION, "Admin.create_subscription()")
        self._impl.create_subscription(c)

    def delete_subscription(self, name: str) -> None:
        self._impl.delete_subscription(check_type("name", name, str, "a str"))

    def list_subscriptions(self) -> List[str]:
        return self._impl.list_subscriptions()

    def describe_subscription(self, name: str) -> SubscriptionInfo:
        return self._impl.describe_subscription(check_type("name", name, str, "a str"))
