"""Argument checks shared by the Pythonic layer: a TypeError names what was expected."""

from __future__ import annotations

import datetime
from typing import Any


def check_type(name: str, value: Any, expected: type | tuple[type, ...], what: str) -> Any:
    """Returns `value`, or raises TypeError("`name` must be `what`, not T")."""
    if isinstance(value, bool) and expected in (int, (int, float)):
        raise TypeError(f"{name} must be {what}, not bool")
    if not isinstance(value, expected):
        raise TypeError(f"{name} must be {what}, not {type(value).__name__}")
    return value


def seconds(name: str, value: Any) -> float:
    """A duration in seconds from a number of seconds or a datetime.timedelta."""
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    check_type(name, value, (int, float), "a number of seconds (float) or a datetime.timedelta")
    return float(value)


def count(name: str, value: Any) -> int:
    check_type(name, value, int, "an int")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def text(name: str, value: Any) -> str:
    return check_type(name, value, str, "a str")


def apply(target: Any, options: dict[str, Any], kinds: dict[str, str], owner: str) -> None:
    """Sets each option on a C++ options struct after checking its kind.

    kinds maps an option name to "seconds", "count", "bool", "text", "start" or "dict".
    Raises TypeError for an unknown option or a value of the wrong type.
    """
    for name, value in options.items():
        kind = kinds.get(name)
        if kind is None:
            raise TypeError(f"{owner} got an unexpected option {name!r}; "
                            f"known options: {', '.join(sorted(kinds))}")
        if kind == "seconds":
            value = seconds(name, value)
        elif kind == "count":
            value = count(name, value)
        elif kind == "bool":
            check_type(name, value, bool, "a bool")
        elif kind == "text":
            value = text(name, value)
        elif kind == "start":
            value = text(name, value)
            if value not in ("earliest", "latest"):
                raise ValueError(f"{name} must be 'earliest' or 'latest', not {value!r}")
        elif kind == "dict":
            check_type(name, value, dict, "a dict[str, str]")
            for k, v in value.items():
                check_type(f"{name} keys", k, str, "str")
                check_type(f"{name} values", v, str, "str")
        setattr(target, name, value)
