"""Publisher: publish to one topic, with concurrent.futures / asyncio results."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Mapping, Optional, Union

from . import _unibus
from ._errors import Error
from ._lifetime import track

Data = Union[bytes, bytearray, memoryview, str]


class PublishFuture(concurrent.futures.Future):
    """The result of one publish: a concurrent.futures.Future[str] of the message id.

    Its state lives in C++: a publish whose future nobody looks at costs Python nothing
    when it completes. result() and exception() wait with the GIL released (Ctrl-C
    interrupts them); add_done_callback() callbacks run on a library thread (at once if
    the result is already there). A publish cannot be cancelled: cancel() returns False.
    concurrent.futures.wait() and as_completed() work too (the standard machinery is
    set up on first use).
    """

    # Made by the extension without running __init__ (see _set_publish_future_type):
    # `_impl` is the only state until the standard machinery is asked for.
    __slots__ = ("_impl",)

    def __init__(self, impl: "_unibus._PublishResult") -> None:  # noqa: D107
        # The base class's lock, condition and waiter list are made only if wait() or
        # as_completed() ask for them (see __getattr__).
        self._impl = impl

    def __getattr__(self, name: str):
        if name in ("_condition", "_state", "_waiters", "_result", "_exception",
                    "_done_callbacks"):
            concurrent.futures.Future.__init__(self)
            self._impl.add_done_callback(self._mirror)
            return object.__getattribute__(self, name)
        raise AttributeError(name)

    def _mirror(self) -> None:
        error = self._impl.exception(0)
        if error is None:
            concurrent.futures.Future.set_result(self, self._impl.result(0))
        else:
            concurrent.futures.Future.set_exception(self, error)

    def result(self, timeout: Optional[float] = None) -> str:
        """The message id. Raises the publish's unibus.Error, or TimeoutError."""
        return self._impl.result(-1.0 if timeout is None else timeout)

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        """The publish's unibus.Error, or None. TimeoutError if not done in time."""
        return self._impl.exception(-1.0 if timeout is None else timeout)

    def done(self) -> bool:
        return self._impl.done()

    def running(self) -> bool:
        return not self._impl.done()

    def cancelled(self) -> bool:
        return False

    def cancel(self) -> bool:
        return False

    def add_done_callback(self, fn) -> None:
        self._impl.add_done_callback(lambda: fn(self))

    def set_running_or_notify_cancel(self) -> bool:
        raise RuntimeError("a unibus publish future is set by the library")

    def set_result(self, result) -> None:
        raise RuntimeError("a unibus publish future is set by the library")

    def set_exception(self, exception) -> None:
        raise RuntimeError("a unibus publish future is set by the library")

    def __repr__(self) -> str:
        if not self._impl.done():
            return "<unibus.PublishFuture pending>"
        error = self._impl.exception(0)
        return (f"<unibus.PublishFuture error={error!r}>" if error is not None
                else f"<unibus.PublishFuture id={self._impl.result(0)!r}>")


_unibus._set_publish_future_type(PublishFuture)


class Publisher:
    """Publishes to one topic. Made by Broker.publisher(); thread-safe.

    Messages are batched (max_batch_messages, max_batch_bytes, max_batch_delay) and
    sent by library threads. Use it as a context manager, or call close().
    """

    def __init__(self, impl: _unibus._Publisher) -> None:
        self._impl = impl
        # publish() straight to the extension, which checks the arguments, converts a
        # Mapping and makes the PublishFuture: no Python frame per message. The method
        # below documents it (help(Publisher.publish)).
        self.publish = impl.publish
        self.send = impl.send
        track(self)

    @property
    def topic(self) -> str:
        """str: the topic this publisher writes to."""
        return self._impl.topic

    def publish(self, data: Data, *, attributes: Optional[Mapping[str, str]] = None,
                ordering_key: Optional[str] = None) -> PublishFuture:
        """Queues one message for the next batch.

        Args:
            data: the payload; str is sent as UTF-8.
            attributes: string key/value metadata (Kafka: headers). Keys starting with
                "unibus-" belong to the library.
            ordering_key: messages with the same key are delivered one at a time, in
                publish order (Kafka: the record key, so also the partition).

        Returns:
            A PublishFuture (a concurrent.futures.Future[str]) resolving to the broker-assigned message id once
            the broker has the message, or failing with a unibus.Error: NotFound (topic
            missing), InvalidArgument (too large, not UTF-8, reserved attribute, ...),
            Unavailable, ...

        Raises:
            TypeError: data is not bytes or str, attributes not a dict of str, ...
            unibus.FailedPrecondition: the publisher is closed.

        Blocks (without the GIL) only while max_pending_messages are unsent.
        """
        return self._impl.publish(data, attributes=attributes, ordering_key=ordering_key)

    def send(self, data: Data, *, attributes: Optional[Mapping[str, str]] = None,
             ordering_key: Optional[str] = None) -> None:
        """Queues one message with no result of its own (no future).

        As confluent-kafka's produce() without on_delivery, or librdkafka's produce():
        for streams where only "everything sent is stored" matters. flush() raises the
        first failure of any message sent (or published) before it; when flush()
        returns, every message sent before it is stored. On Kafka this skips the
        future's allocation and completion per message (README, Python).

        Args: as publish().

        Raises:
            TypeError: data is not bytes or str, attributes not a dict of str, ...
            unibus.InvalidArgument: refused at once (too large, not UTF-8, reserved
                attribute, empty message); nothing was queued.
            unibus.FailedPrecondition: the publisher is closed.

        Blocks (without the GIL) only while max_pending_messages are unsent.
        """
        self._impl.send(data, attributes=attributes, ordering_key=ordering_key)

    async def publish_async(self, data: Data, *, attributes: Optional[Mapping[str, str]] = None,
                            ordering_key: Optional[str] = None) -> str:
        """Like publish(), awaited: returns the message id or raises its unibus.Error."""
        future = self.publish(data, attributes=attributes, ordering_key=ordering_key)
        if future.done():
            return future.result()
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()

        def wake() -> None:
            if not waiter.done():
                error = future.exception(0)
                if error is None:
                    waiter.set_result(future.result(0))
                else:
                    waiter.set_exception(error)

        future._impl.add_done_callback(lambda: loop.call_soon_threadsafe(wake))
        return await waiter

    def flush(self) -> None:
        """Blocks until every message published or sent before the call has its result.

        Raises the first error among them (a unibus.Error), publish()'s and send()'s.
        """
        self._impl.flush()

    def close(self) -> None:
        """Sends what is pending, then stops the publisher's threads. Idempotent.

        Raises:
            unibus.Error: the first failure since the last flush(), when send() was
                called since then (a send() has no future to report it); the
                publisher is closed all the same. A publish()'s failure is its
                future's, not close()'s.
        """
        self._impl.close()

    @property
    def closed(self) -> bool:
        return self._impl.closed

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()  # raises a send() failure
            return
        try:
            self.close()
        except Error:
            pass  # the exception leaving the block is the one to see

    def __repr__(self) -> str:
        return f"<unibus.Publisher topic={self.topic!r}{' closed' if self.closed else ''}>"
