"""Exceptions: one class per status code of the C++ API, all subclasses of unibus.Error.

The message is the C++ message, which says what failed, with what input, and what to do.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every error unibus raises.

    Attributes:
        code: the status code name, e.g. "NOT_FOUND".
        message: the message of the C++ status.
    """

    code = "UNKNOWN"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Cancelled(Error):
    """The operation was cancelled (for example by a shutdown)."""
    code = "CANCELLED"


class Unknown(Error):
    """An error the backend did not classify."""
    code = "UNKNOWN"


class InvalidArgument(Error, ValueError):
    """A bad URL, name, option or message (too large, not UTF-8, ...)."""
    code = "INVALID_ARGUMENT"


class DeadlineExceeded(Error, TimeoutError):
    """The broker did not answer in time."""
    code = "DEADLINE_EXCEEDED"


class NotFound(Error, LookupError):
    """A topic or subscription does not exist."""
    code = "NOT_FOUND"


class AlreadyExists(Error):
    """A topic or subscription of that name exists already."""
    code = "ALREADY_EXISTS"


class PermissionDenied(Error):
    """The broker refused the credentials or the ACLs forbid the call."""
    code = "PERMISSION_DENIED"


class ResourceExhausted(Error):
    """A quota or a buffer is full."""
    code = "RESOURCE_EXHAUSTED"


class FailedPrecondition(Error):
    """The call does not fit the state: a closed client, a settled message, ..."""
    code = "FAILED_PRECONDITION"


class Aborted(Error):
    code = "ABORTED"


class OutOfRange(Error):
    code = "OUT_OF_RANGE"


class Unimplemented(Error):
    """This backend or server cannot do it; see Broker.capabilities()."""
    code = "UNIMPLEMENTED"


class Internal(Error):
    code = "INTERNAL"


class Unavailable(Error):
    """The broker cannot be reached (is it running?)."""
    code = "UNAVAILABLE"


class DataLoss(Error):
    code = "DATA_LOSS"


class Unauthenticated(Error):
    """No or bad credentials."""
    code = "UNAUTHENTICATED"


_BY_CODE = {
    1: Cancelled,
    2: Unknown,
    3: InvalidArgument,
    4: DeadlineExceeded,
    5: NotFound,
    6: AlreadyExists,
    7: PermissionDenied,
    8: ResourceExhausted,
    9: FailedPrecondition,
    10: Aborted,
    11: OutOfRange,
    12: Unimplemented,
    13: Internal,
    14: Unavailable,
    15: DataLoss,
    16: Unauthenticated,
}


def from_status(code: int, message: str) -> Error:
    """The exception for an absl::StatusCode value and its message."""
    return _BY_CODE.get(code, Unknown)(message)


for _cls in [Error, *_BY_CODE.values()]:
    _cls.__module__ = "unibus"  # shown as unibus.NotFound, where users catch it
