"""Closes what is still open when the interpreter exits.

Library threads call into Python (subscribe callbacks, publish results); they must be
stopped while the interpreter can still run them, so an atexit hook closes every live
session, subscriber and publisher (sessions first), then the publish-result thread.
"""

from __future__ import annotations

import atexit
import weakref
from typing import Any

from . import _unibus

_live: "weakref.WeakSet[Any]" = weakref.WeakSet()


def track(obj: Any) -> None:
    """Closes `obj` (its close() or stop()) at interpreter exit if it is still open."""
    _live.add(obj)


def _close_all() -> None:
    objs = list(_live)
    # serve() loops and sessions first: they run Python code on library threads; then
    # subscribers, then publishers.
    order = {"_Serving": 0, "Session": 1, "Subscriber": 2, "Publisher": 3}
    objs.sort(key=lambda o: order.get(type(o).__name__, 4))
    for obj in objs:
        try:
            if type(obj).__name__ == "Publisher":
                # No flush: on Kafka it waits up to message.timeout.ms (5 min by default)
                # for a broker that is gone, deaf to Ctrl-C. Shutdown sends what it can
                # within its own bound and fails the rest.
                obj._impl.close(False)
            else:
                (getattr(obj, "stop", None) or obj.close)()
        except Exception:  # noqa: BLE001 - exit goes on whatever one client says
            pass
    _unibus._shutdown()
    _unibus._set_publish_future_type(None)


atexit.register(_close_all)
