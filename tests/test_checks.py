"""The shared argument checks: one message per mistake, wherever it is made."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from asyncflag import CSVLogger, FlagValueError
from asyncflag.checks import (
    is_async_callable,
    one_of,
    positive_int,
    positive_int_or_none,
    utf8_problem,
    writable_text,
)


@pytest.mark.parametrize("value", [0, -1, 1.5, "3", True, None])
def test_positive_int_refuses(value: Any) -> None:
    with pytest.raises(FlagValueError, match=r"^limit must be a positive int, got "):
        positive_int("limit", value)


def test_positive_int_accepts() -> None:
    assert positive_int("limit", 1) == 1
    assert positive_int_or_none("limit", None) is None
    assert positive_int_or_none("limit", 5) == 5
    with pytest.raises(FlagValueError, match="positive int or None, got False"):
        positive_int_or_none("limit", False)


def test_one_of_lists_what_is_allowed() -> None:
    assert one_of("durability", "flush", ("flush", "fsync")) == "flush"
    with pytest.raises(FlagValueError, match="durability must be 'flush' or 'fsync', got 'x'"):
        one_of("durability", "x", ("flush", "fsync"))


async def _coroutine_function(x: int) -> int:
    return x


class _AsyncCallable:
    async def __call__(self) -> None:
        pass


def test_is_async_callable() -> None:
    assert is_async_callable(_coroutine_function)
    assert is_async_callable(functools.partial(functools.partial(_coroutine_function), 1))
    assert is_async_callable(_AsyncCallable())
    assert not is_async_callable(print)
    assert not is_async_callable(lambda: None)
    assert not is_async_callable(None)


def test_utf8_writability() -> None:
    assert utf8_problem("plain") is None and utf8_problem("caf\u00e9 \U0001f600") is None
    assert (
        utf8_problem("ab\ud800")
        == "'\\ud800' at position 2 cannot be written as UTF-8 (a lone surrogate)"
    )
    assert writable_text("the option", "ok") == "ok"
    with pytest.raises(FlagValueError, match=r"the option 'x\\udc80': .* lone surrogate"):
        writable_text("the option", "x\udc80")


@pytest.mark.parametrize("value", [0, -2, "8", 2.0])
def test_the_csv_logger_refuses_a_bad_max_concurrent_saves(value: Any) -> None:
    with pytest.raises(FlagValueError, match="max_concurrent_saves must be a positive int"):
        CSVLogger(max_concurrent_saves=value)
