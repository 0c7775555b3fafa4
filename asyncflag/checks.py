"""The argument checks asyncflag repeats, one function each.

Each raises :class:`~asyncflag.errors.FlagValueError` with a message that names the
argument, the value given and what to pass instead, so every part of asyncflag
refuses the same mistake in the same words.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
from collections.abc import Collection
from typing import Any, TypeVar

from .errors import FlagValueError, MissingExtraError

__all__ = [
    "is_async_callable",
    "require_extra",
    "one_of",
    "positive_int",
    "positive_int_or_none",
    "utf8_problem",
    "writable_text",
]

T = TypeVar("T")


def require_extra(extra: str, needed_by: str, *modules: str) -> None:
    """Raise :class:`~asyncflag.MissingExtraError` in one line if a module of an
    optional extra is not installed: ``require_extra("web", "iface.app()", "starlette")``.

    Checked without importing the modules (``importlib.util.find_spec``).
    """
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    if missing:
        raise MissingExtraError(
            f"{needed_by} needs the {extra!r} extra ({', '.join(missing)} not installed): "
            f"pip install 'asyncflag[{extra}]'"
        )


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an int of at least 1 (not a bool).

    :param name: the argument's name, for the error message
    :raises FlagValueError: otherwise
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise FlagValueError(f"{name} must be a positive int, got {value!r}")
    return value


def positive_int_or_none(name: str, value: Any) -> int | None:
    """Return ``value`` if it is ``None`` (no limit) or a positive int.

    :raises FlagValueError: otherwise
    """
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise FlagValueError(f"{name} must be a positive int or None, got {value!r}")
    return value


def one_of(name: str, value: T, allowed: Collection[T]) -> T:
    """Return ``value`` if it is one of ``allowed``.

    :raises FlagValueError: otherwise, listing what is allowed
    """
    if value not in allowed:
        choices = " or ".join(repr(a) for a in allowed)
        raise FlagValueError(f"{name} must be {choices}, got {value!r}")
    return value


def is_async_callable(fn: Any) -> bool:
    """Whether calling ``fn`` returns a coroutine: an ``async def`` function or method,
    a :func:`functools.partial` of one, or an object with an ``async def __call__``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


def utf8_problem(text: str) -> str | None:
    """Why ``text`` cannot be written as UTF-8 (a lone surrogate, and where), or ``None``
    if it can. ASCII text is answered without encoding."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"{text[exc.start : exc.end]!r} at position {exc.start} cannot be written as "
            "UTF-8 (a lone surrogate)"
        )
    return None


def writable_text(what: str, text: str) -> str:
    """Return ``text`` if UTF-8 can encode it, for a label, an option or a username.

    :param what: what the text is, for the error message ("the option")
    :raises FlagValueError: for text with a lone surrogate, which no file can hold
    """
    problem = utf8_problem(text)
    if problem is not None:
        raise FlagValueError(f"{what} {text!r}: {problem}; pass text without lone surrogates")
    return text
