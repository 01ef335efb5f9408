"""unibus: one messaging API over Kafka, Google Cloud Pub/Sub, SQLite and memory.

    import unibus
    with unibus.open("sqlite://unibus.db") as broker:
        pub = broker.publisher("images", create_topic_if_missing=True)
        pub.publish(b"hello", attributes={"k": "v"}, ordering_key="img-7").result()
        sub = broker.subscriber("classifier", topic="images", start="earliest")
        for msg in sub.pull(max_messages=16, timeout=1.0):
            msg.ack()

The same contract on every backend (at-least-once, nack and redelivery, dead letter,
per-key order, fan-out and competing consumers, flow control); the C++ core does the
work, with the GIL released whenever it waits.
"""

from __future__ import annotations

from . import _unibus
from ._admin import Admin, PartitionInfo, SubscriptionInfo, TopicInfo
from ._broker import Broker, Capabilities, check_portable_name, open
from ._errors import (Aborted, AlreadyExists, Cancelled, DataLoss, DeadlineExceeded, Error,
                      FailedPrecondition, Internal, InvalidArgument, NotFound, OutOfRange,
                      PermissionDenied, ResourceExhausted, Unauthenticated, Unavailable,
                      Unimplemented, Unknown)
from ._lifetime import track as _track  # noqa: F401 - registers the exit hook
from ._publisher import Publisher, PublishFuture
from ._subscriber import Message, Session, Subscriber, SubscriberStats
from ._vision import (FASHION_MNIST_CLASSES, ImageMessage, Prediction, decode_image,
                      encode_image, serve)

#: Attributes the library sets on a dead-lettered message.
DEAD_LETTER_REASON = "unibus-dead-letter-reason"
DEAD_LETTER_SOURCE_TOPIC = "unibus-source-topic"
DEAD_LETTER_SOURCE_SUBSCRIPTION = "unibus-source-subscription"
DEAD_LETTER_ATTEMPTS = "unibus-delivery-attempts"


def default_url() -> str:
    """$UNIBUS_URL, else sqlite://unibus.db: the URL unibus.open() uses by default."""
    return _unibus._default_url()


__all__ = [
    "Aborted", "Admin", "AlreadyExists", "Broker", "Cancelled", "Capabilities", "DataLoss",
    "DEAD_LETTER_ATTEMPTS", "DEAD_LETTER_REASON", "DEAD_LETTER_SOURCE_SUBSCRIPTION",
    "DEAD_LETTER_SOURCE_TOPIC", "DeadlineExceeded", "Error", "FASHION_MNIST_CLASSES",
    "FailedPrecondition", "ImageMessage", "Internal", "InvalidArgument", "Message",
    "NotFound", "OutOfRange", "PartitionInfo", "PermissionDenied", "Prediction",
    "PublishFuture", "Publisher", "ResourceExhausted", "Session", "Subscriber", "SubscriberStats",
    "SubscriptionInfo", "TopicInfo", "Unauthenticated", "Unavailable", "Unimplemented",
    "Unknown", "check_portable_name", "decode_image", "default_url", "encode_image", "open", "serve",
]
__version__ = "0.1.0"
