"""Subscriber: pull batches, iterate, or subscribe a callback run on library threads."""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator, Callable, Iterator, List, Optional

from . import _errors as unibus_errors
from . import _unibus
from ._checks import seconds
from ._lifetime import track

Message = _unibus.Message
SubscriberStats = _unibus.SubscriberStats

_log = logging.getLogger("unibus")


class Session:
    """A running Subscriber.subscribe(): callbacks run until stop().

    Use it as a context manager, or call stop(). Also stopped at interpreter exit.
    """

    def __init__(self, impl: _unibus._Session) -> None:
        self._impl = impl
        track(self)

    def stop(self) -> None:
        """Stops fetching, lets running callbacks finish (up to shutdown_timeout), commits
        what was acked, returns unsettled messages to the broker and joins the library's
        threads. Idempotent; the GIL is released while it waits."""
        self._impl.stop()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks until something needs the caller's attention or `timeout` seconds pass.

        Returns True once stop() was called, False on timeout. Raises a unibus.Error:
          - when a message could not be dead-lettered (its copy is too large for the
            dead-letter topic, or another permanent publish error; counted in
            SubscriberStats.dead_letter_failed): the error names the message and the
            dead-letter topic. The session keeps running and the message stays
            unacked (it goes back to the broker when the subscriber stops); each such
            failure is raised by one wait() call, so call wait() again to go on;
          - when the session ended by itself (the broker went away for good).
        Ctrl-C interrupts it (KeyboardInterrupt).
        """
        return self._impl.wait(-1.0 if timeout is None else seconds("timeout", timeout))

    @property
    def stopped(self) -> bool:
        return self._impl.stopped

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _run_callback(callback: Callable[[Message], object]) -> Callable[[Message], None]:
    def run(message: Message) -> None:
        try:
            callback(message)
        except BaseException as e:  # noqa: BLE001 - a callback's error nacks its message
            if not message.settled:
                message.nack(f"callback raised {type(e).__name__}: {e}")
            _log.exception("unibus: subscriber callback raised; message %s nacked", message.id)
    return run


class Subscriber:
    """Receives from one subscription. Made by Broker.subscriber(); thread-safe.

    Use either subscribe() or pull()/iteration on one Subscriber, not both at once.
    Every message must be settled with ack(), nack(reason) or reject(reason).
    """

    def __init__(self, impl: _unibus._Subscriber) -> None:
        self._impl = impl
        # pull() straight to the extension, which checks the arguments as the method
        # below does: no Python frame per call. The method documents it
        # (help(Subscriber.pull)).
        self.pull = impl.pull  # type: ignore[method-assign]
        track(self)

    @property
    def subscription(self) -> str:
        """str: the subscription's name."""
        return self._impl.name

    def pull(self, max_messages: int = 100, timeout: Optional[float] = None) -> List[Message]:
        """Returns up to `max_messages` messages, waiting up to `timeout` seconds for the
        first (None: until one comes); an empty list when none came in time.

        Per-key order holds: a key's next message comes only once the previous one is
        settled. The GIL is released while waiting; Ctrl-C raises KeyboardInterrupt.

        Raises:
            TypeError: max_messages not an int, timeout not a number.
            unibus.FailedPrecondition: the subscriber is closed.
            unibus.Error: the broker failed (Unavailable, NotFound, ...).
        """
        return self._impl.pull(max_messages, timeout)

    def __iter__(self) -> Iterator[Message]:
        """Yields messages as they come, until close() (from any thread) or Ctrl-C."""
        while not self._impl.closed:
            try:
                batch = self._impl.pull(100, 1.0)
            except unibus_errors.FailedPrecondition:
                if self._impl.closed:  # closed by another thread while we waited
                    return
                raise
            yield from batch

    def __aiter__(self) -> AsyncIterator[Message]:
        """`async for message in subscriber`: pulls on the loop's default executor."""
        return self._aiter()

    async def _aiter(self) -> AsyncIterator[Message]:
        loop = asyncio.get_running_loop()
        while not self._impl.closed:
            try:
                batch = await loop.run_in_executor(None, self._impl.pull, 100, 0.2)
            except unibus_errors.FailedPrecondition:
                if self._impl.closed:
                    return
                raise
            for message in batch:
                yield message

    def subscribe(self, callback: Callable[[Message], object]) -> Session:
        """Calls `callback(message)` on library threads as messages come.

        Messages with the same ordering key are handed over one at a time, in publish
        order; others in parallel (the subscriber's `concurrency` threads). The GIL is
        taken only around the callback. The callback settles the message (now, or later
        from any thread); if it raises, the message is nacked with the exception as the
        reason and the error is logged on the "unibus" logger. Returns at once.
        """
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        return Session(self._impl.subscribe(_run_callback(callback)))

    def stats(self) -> SubscriberStats:
        """Counters since the subscriber started (delivered, acked, nacked, ...)."""
        return self._impl.stats()

    def close(self) -> None:
        """Stops fetching; unsettled messages go back to the broker. Idempotent."""
        self._impl.close()

    @property
    def closed(self) -> bool:
        return self._impl.closed

    def __enter__(self) -> "Subscriber":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<unibus.Subscriber subscription={self.subscription!r}"
                f"{' closed' if self.closed else ''}>")
