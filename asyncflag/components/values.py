"""Checks the built-in components share: JSON plainness, UTF-8 writability, limits, reprs.

Public names so that every module of the package (and a user's own component) can use
them; :mod:`asyncflag.components` does not re-export them.
"""

from __future__ import annotations

import math
import reprlib
import sys
from typing import TYPE_CHECKING, Any

from ..checks import utf8_problem
from ..errors import FlagValueError

if TYPE_CHECKING:
    from .base import Component

__all__ = [
    "LONG_INT_BITS",
    "MAX_INT_DIGITS",
    "MAX_JSON_DEPTH",
    "check_encodable",
    "check_int_digits",
    "fits_digits",
    "is_numpy_bool",
    "parse_number",
    "plain_json",
    "short_repr",
]

#: How deeply a JSON value (or a multiselect Dropdown's list) may nest lists and objects:
#: ``[[1]]`` is 2 deep. Past it the call raises :class:`FlagValueError` instead of Python
#: running out of stack, and a stream consumer dead-letters such an entry. Real data
#: rarely goes past a dozen; the limit keeps every check, encoder and decoder far from
#: Python's own recursion limit (1000).
MAX_JSON_DEPTH = 64

#: Python refuses to turn longer ints into text (sys.set_int_max_str_digits)
MAX_INT_DIGITS = sys.get_int_max_str_digits() or 100_000
#: ints shorter than this many bits have fewer digits than any limit: no check needed
LONG_INT_BITS = 3_000


def fits_digits(value: int, digits: int) -> bool:
    return bool(-(10**digits) < value < 10**digits)


def check_int_digits(value: int, digits: int, component: Component) -> None:
    if not fits_digits(value, digits):
        raise FlagValueError(
            f"{type(component).__name__} {component.label!r}: an int of more than {digits} "
            "digits cannot be written as text"
        )


def check_encodable(text: str, component: Component) -> None:
    """Refuse a value's text UTF-8 cannot encode (lone surrogates): it would fail in the
    writer. The message names the component.

    :raises FlagValueError: for such text
    """
    problem = utf8_problem(text)
    if problem is not None:
        raise FlagValueError(f"{type(component).__name__} {component.label!r}: {problem}")


def parse_number(text: str) -> int | float | None:
    """The number a cell holds, if it holds one (the inverse of writing an int or a float)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def is_numpy_bool(value: Any) -> bool:
    return getattr(getattr(value, "dtype", None), "kind", None) == "b"


def plain_json(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON reads it back (tuples become lists), or TypeError saying why not.

    ``depth`` is how many lists and objects enclose ``value``; past :data:`MAX_JSON_DEPTH`
    the value is refused, so the recursion stays that shallow whatever the input.
    """
    if isinstance(value, str):
        problem = utf8_problem(value)
        if problem is not None:
            raise TypeError(problem)
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > LONG_INT_BITS and not (
            -(10 ** (MAX_INT_DIGITS - 1)) < value < 10**MAX_INT_DIGITS
        ):  # msgspec reads back a negative int of one digit fewer than Python writes
            digits = int(value.bit_length() * math.log10(2))
            raise TypeError(f"an int of about {digits} digits is too long")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{value!r} is not a JSON number")
        return value
    if isinstance(value, list | tuple | dict) and depth >= MAX_JSON_DEPTH:
        raise TypeError(
            f"it nests lists and objects more than {MAX_JSON_DEPTH} deep (the limit, "
            "asyncflag.components.MAX_JSON_DEPTH); flatten it or store it as a string"
        )
    if isinstance(value, list | tuple):
        return [plain_json(item, depth + 1) for item in value]
    if isinstance(value, dict):
        plain = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"the key {short_repr(key)} is not a string")
            plain[plain_json(key)] = plain_json(item, depth + 1)
        return plain
    raise TypeError(f"{type(value).__name__} is not a JSON type")


#: shows a few items of a few levels of containers, so that any value prints quickly
_CONTAINER_REPR = reprlib.Repr()
_CONTAINER_REPR.maxlevel = 3
_CONTAINER_REPR.maxlist = _CONTAINER_REPR.maxtuple = 8
_CONTAINER_REPR.maxdict = _CONTAINER_REPR.maxset = 6
_CONTAINER_REPR.maxstring = _CONTAINER_REPR.maxother = 60


def short_repr(value: Any) -> str:
    """At most 60 characters showing ``value``, for error messages; never fails.

    Lists, tuples, dicts and sets are shown a few levels deep only: one nested
    thousands deep (or containing itself) has no full repr.
    """
    try:
        if isinstance(value, list | tuple | dict | set | frozenset):
            text = _CONTAINER_REPR.repr(value)
        else:
            text = repr(value)
    except (ValueError, RecursionError):  # an int too long to turn into text
        return f"<{type(value).__name__} too long to show>"
    return text if len(text) <= 60 else text[:57] + "..."
