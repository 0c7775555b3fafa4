"""The flagging callback interface: where rows go.

A flagging callback is Gradio's: ``setup(components, flagging_dir)`` once, then
``flag(flag_data, flag_option, username)`` per row, returning the row count.
asyncflag adds :meth:`FlaggingCallback.flag_batch`, which the writer calls with
every row it drained from the queue. Its default loops over ``flag`` in a single
worker thread (or awaits an async ``flag``); the CSV loggers override it to save
the batch's files concurrently and append all of its rows with one write.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio

from ..checks import is_async_callable
from ..components import Component
from ..events import FlagRow

__all__ = ["FlaggingCallback", "RowResult", "flag_rows"]

#: what a batch call returns per row: the row count, or why the row was not written
RowResult = int | Exception


class FlaggingCallback(ABC):
    """Base class of flagging callbacks, as in Gradio.

    ``setup`` and ``flag`` may each be sync or async: a sync one runs in a worker
    thread, never on the event loop. Override :meth:`flag_batch` to take all the rows
    the writer drained at once (one transaction, one write).
    """

    @abstractmethod
    def setup(self, components: Sequence[Component], flagging_dir: str) -> Awaitable[None] | None:
        """Prepare to receive rows; called once when the interface starts."""

    @abstractmethod
    def flag(
        self,
        flag_data: Sequence[Any],
        flag_option: str | None = None,
        username: str | None = None,
    ) -> int | Awaitable[int]:
        """Store one row (input values then output values).

        :return: the total number of rows stored so far
        """

    async def flag_batch(self, rows: Sequence[FlagRow]) -> list[RowResult]:
        """Store several rows, in order.

        :return: per row, its count, or the exception that kept it from being stored
        :raises Exception: when the whole batch failed
        """
        return await flag_rows(self, rows)

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release files and connections; called when the interface stops."""


async def flag_rows(callback: Any, rows: Sequence[FlagRow]) -> list[RowResult]:
    """Store ``rows`` through any Gradio-style callback's ``flag``, one row at a time.

    A sync ``flag`` is called for the whole batch from one worker thread. Cancelling
    the call (only a timed-out shutdown does) stops waiting for that thread: the rows
    it is writing may still be stored.
    """
    flag: Callable[..., Any] = callback.flag
    if is_async_callable(flag):
        results: list[RowResult] = []
        for row in rows:
            try:
                results.append(int(await flag(list(row.data), row.option, row.username)))
            except Exception as exc:
                results.append(exc)
        return results

    def flag_each() -> list[RowResult]:
        results: list[RowResult] = []
        for row in rows:
            try:
                results.append(int(flag(list(row.data), row.option, row.username)))
            except Exception as exc:
                results.append(exc)
        return results

    return await anyio.to_thread.run_sync(flag_each, abandon_on_cancel=True)
