"""What travels from an interface to its writer: predictions, flag rows and receipts."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime
from threading import get_ident
from typing import Any

import anyio
import msgspec
from anyio.lowlevel import checkpoint

from .errors import FlaggingError, WrongThreadError

__all__ = [
    "AWAITED_IN_WRITER",
    "FlagEvent",
    "FlagReceipt",
    "FlagRow",
    "Prediction",
    "in_writer",
    "set_results",
]

#: ``True`` in the writer's task (and the worker threads it starts): a flag awaited
#: there would wait for the writer, that is for itself
in_writer: ContextVar[bool] = ContextVar("asyncflag_in_writer", default=False)

#: why a wait inside the writer's task is refused
AWAITED_IN_WRITER = (
    "a flag was awaited inside the flagging callback (in the writer's task, or a worker "
    "thread it started), where it would wait for the writer, that is for itself: the "
    "writer would never go on. Inside a callback, call flag_nowait() (through "
    "anyio.from_thread.run_sync in a worker thread) and do not await its receipt there"
)


class Prediction(msgspec.Struct, frozen=True, gc=False):
    """One call of an interface's function: what went in and what came out.

    In ``auto`` mode every prediction is published for logging as it is made;
    in ``manual`` mode it can be flagged later by passing it, or its ``id``, to
    :meth:`~asyncflag.Interface.flag`.
    """

    id: str
    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]
    created_at: datetime


class _RowFields(msgspec.Struct, frozen=True, gc=False):
    """The positional fields of a :class:`FlagRow` (its ``event_id`` is keyword-only,
    so that :class:`FlagEvent` keeps taking its ``receipt`` fifth)."""

    data: tuple[Any, ...]
    option: str | None = None
    username: str | None = None
    timestamp: datetime | None = None


class FlagRow(_RowFields, frozen=True, gc=False, kw_only=True):
    """One row for a flagging callback: Gradio's ``flag_data`` plus the row's metadata.

    ``data`` holds the input values then the output values, in component order.

    Rows, events and predictions are not tracked by Python's cycle collector
    (``gc=False``): they are made per call and queued by the thousand, and leaving them
    out of every collection makes each cheaper. A value never refers back to its row;
    the one way a cycle could pass through a row, the error a failed row's receipt
    keeps, holds no frames (:func:`~asyncflag.errors.without_frames`).

    ``event_id`` (keyword-only) names the row for a sink that writes each row once
    (the SQL sinks): the same id handed over again, say by a transport redelivering a
    batch, is not written twice. ``None``: the sink names the row itself.
    """

    event_id: str | None = None


class FlagEvent(FlagRow, frozen=True):
    """A :class:`FlagRow` on its way to the writer, with the receipt to resolve."""

    receipt: FlagReceipt | None = None


class FlagReceipt(msgspec.Struct, eq=False, weakref=True):
    """The promise of a row: resolved by the writer once the row is written, or failed.

    Returned by :meth:`~asyncflag.Interface.flag_nowait`; ``await receipt.wait()``
    returns what :meth:`~asyncflag.Interface.flag` returns. It is awaited in the event
    loop thread that made it (:meth:`result` and :meth:`done` may be called anywhere).

    A receipt is made per flag and callers keep them by the thousand, so it is a
    :class:`msgspec.Struct`: while it holds only its count, thread and time it is not
    tracked by Python's cycle collector (the collections a big list of pending
    receipts would cost), and it is tracked from the moment it holds an object that
    could be part of a cycle (the error that failed it, or the event a waiter sleeps on).
    Receipts compare and hash by identity.
    """

    _count: int | None = None
    _error: BaseException | None = None
    _event: anyio.Event | None = None
    _thread: int = msgspec.field(default_factory=get_ident)
    #: :func:`time.perf_counter` when the writer saw the row written (for latency
    #: measurements: no waiting task needed); ``None`` until then
    written_at: float | None = None

    def done(self) -> bool:
        """Return ``True`` once the row was written or has failed."""
        return self._count is not None or self._error is not None

    def result(self) -> int:
        """Return the row count without waiting.

        :raises FlaggingError: if the row is not written yet, or the error that failed it
        """
        if self._error is not None:
            raise self._error
        if self._count is None:
            raise FlaggingError("the row has not been written yet")
        return self._count

    async def wait(self) -> int:
        """Wait until the row is written.

        Cancelling the wait does not withdraw the row: it is still written.

        :return: the number of data rows in the dataset file once this row was added
        :raises FlagWriteError: if the row could not be written
        :raises FlagDroppedError: if the row was dropped because the queue was full
        :raises WrongThreadError: outside the event loop thread that made the receipt
        """
        if get_ident() != self._thread:
            raise WrongThreadError(
                "a receipt is awaited in the event loop thread that made it, where the "
                "writer can wake it; from a worker thread call "
                "anyio.from_thread.run(receipt.wait) (with token=, the loop's "
                "anyio.lowlevel.current_token(), from any other thread), or poll "
                "receipt.done() and receipt.result()"
            )
        if not self.done():
            if in_writer.get():
                raise FlaggingError(AWAITED_IN_WRITER)
            if self._event is None:
                self._event = anyio.Event()
            await self._event.wait()
        else:
            await checkpoint()
        return self.result()

    def set_result(self, count: int, written_at: float | None = None) -> None:
        """Settle the receipt as written (called by whoever wrote the row: the writer,
        or the Redis publisher once the consumer confirmed it).

        :param count: the number of data rows in the dataset file once the row was added
        :param written_at: :func:`time.perf_counter` when the row was seen written
        """
        self._count = count
        self.written_at = written_at
        if self._event is not None:
            self._event.set()

    def set_error(self, error: BaseException) -> None:
        """Settle the receipt as failed: :meth:`wait` and :meth:`result` raise ``error``.

        :param error: why the row was not written (a :class:`FlaggingError` subclass)
        """
        self._error = error
        if self._event is not None:
            self._event.set()

    def __repr__(self) -> str:
        if self._error is not None:
            return f"<FlagReceipt failed: {self._error!r}>"
        if self._count is not None:
            return f"<FlagReceipt count={self._count}>"
        return "<FlagReceipt pending>"


def set_results(events: Sequence[Any], counts: Sequence[int], written_at: float | None) -> None:
    """Settle the receipt of each event (those that have one) as written with its count:
    :meth:`FlagReceipt.set_result` for a whole batch, in one loop (the writer's per-row
    cost: a method call per row was a tenth of it)."""
    for event, count in zip(events, counts, strict=True):
        if type(event) is FlagEvent and (receipt := event.receipt) is not None:
            receipt._count = count
            receipt.written_at = written_at
            if receipt._event is not None:
                receipt._event.set()
