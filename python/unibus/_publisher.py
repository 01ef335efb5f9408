"""Publisher: publish to one topic, with concurrent.futures / asyncio results."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Mapping, Optional, Union

from . import _unibus
from ._lifetime import track

Data = Union[bytes, bytearray, memoryview, str]


class Publisher:
    """Publishes to one topic. Made by Broker.publisher(); thread-safe.

    Messages are batched (max_batch_messages, max_batch_bytes, max_batch_delay) and
    sent by library threads. Use it as a context manager, or call close().
    """

    def __init__(self, impl: _unibus._Publisher) -> None:
        self._impl = impl
        track(self)

    @property
    def topic(self) -> str:
        """str: the topic this publisher writes to."""
        return self._impl.topic

    def publish(self, data: Data, *, attributes: Optional[Mapping[str, str]] = None,
                ordering_key: Optional[str] = None) -> "concurrent.futures.Future[str]":
        """Queues one message for the next batch.

        Args:
            data: the payload; str is sent as UTF-8.
            attributes: string key/value metadata (Kafka: headers). Keys starting with
                "unibus-" belong to the library.
            ordering_key: messages with the same key are delivered one at a time, in
                publish order (Kafka: the record key, so also the partition).

        Returns:
            A concurrent.futures.Future resolving to the broker-assigned message id once
            the broker has the message, or failing with a unibus.Error: NotFound (topic
            missing), InvalidArgument (too large, not UTF-8, reserved attribute, ...),
            Unavailable, ...

        Raises:
            TypeError: data is not bytes or str, attributes not a dict of str, ...
            unibus.FailedPrecondition: the publisher is closed.

        Blocks (without the GIL) only while max_pending_messages are unsent.
        """
        future: concurrent.futures.Future[str] = concurrent.futures.Future()
        if attributes is not None and not isinstance(attributes, dict) \
                and isinstance(attributes, Mapping):
            attributes = dict(attributes)
        self._impl.publish(data, attributes, ordering_key, future)
        return future

    async def publish_async(self, data: Data, *, attributes: Optional[Mapping[str, str]] = None,
                            ordering_key: Optional[str] = None) -> str:
        """Like publish(), awaited: returns the message id or raises its unibus.Error."""
        return await asyncio.wrap_future(
            self.publish(data, attributes=attributes, ordering_key=ordering_key))

    def flush(self) -> None:
        """Blocks until every message published before the call has its result.

        Raises the first publish error among them (a unibus.Error).
        """
        self._impl.flush()

    def close(self) -> None:
        """Sends what is pending, then stops the publisher's threads. Idempotent."""
        self._impl.close()

    @property
    def closed(self) -> bool:
        return self._impl.closed

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<unibus.Publisher topic={self.topic!r}{' closed' if self.closed else ''}>"
