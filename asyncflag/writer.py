"""The writer: the one task that drains the flagging queue into the callback.

It takes everything queued (up to ``max_batch`` events) and hands it to the
callback's ``flag_batch`` in one call: group commit, so the cost per row does not
include a thread hop, a file open or a syscall. Rows reach the callback in the
order their events were accepted. Whatever happens to a batch, every receipt in
it is resolved or failed, and the writer goes on with the next batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
from anyio.abc import TaskStatus

from .bus import Subscription, _Counters
from .errors import FlaggingError, FlagWriteError, as_write_error
from .events import FlagEvent, FlagRow, Prediction, in_writer
from .loggers import RowResult

__all__ = ["FlagWriter", "fail_events"]

logger = logging.getLogger("asyncflag")

BatchFlagger = Callable[[Sequence[FlagRow]], Awaitable[list[RowResult]]]


class FlagWriter:
    """Drains one subscription into a batch flagger.

    :param subscription: the queue to drain
    :param flag_batch: stores a batch of rows (a callback's ``flag_batch``)
    :param max_batch: the most rows handed over in one call
    """

    def __init__(
        self, subscription: Subscription, flag_batch: BatchFlagger, *, max_batch: int = 4096
    ) -> None:
        self._subscription = subscription
        self._flag_batch = flag_batch
        self._max_batch = max_batch
        self._in_flight: list[Any] = []
        self._counters = subscription.counters

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Write batches until the subscription is closed and drained."""
        token = in_writer.set(True)  # a callback awaiting a flag would wait for itself
        try:
            task_status.started()
            while True:
                try:
                    batch = await self._subscription.get_batch(self._max_batch)
                except anyio.EndOfStream:
                    return
                self._in_flight = batch
                await self._write(batch)
                self._in_flight = []
        finally:
            in_writer.reset(token)

    async def _write(self, batch: list[Any]) -> None:
        rows = [_as_row(event) for event in batch]
        try:
            results = await self._flag_batch(rows)
            if len(results) != len(rows):
                raise FlaggingError(
                    f"flag_batch returned {len(results)} results for {len(rows)} rows"
                )
        except Exception as exc:
            logger.warning("a batch of %d rows was not written: %r", len(rows), exc)
            results = [as_write_error(exc)] * len(rows)
        counters = self._counters
        written_at = time.perf_counter()
        for event, result in zip(batch, results, strict=True):
            receipt = event.receipt if type(event) is FlagEvent else None
            if isinstance(result, Exception):
                counters.failed += 1
                if receipt is not None:
                    receipt.set_error(as_write_error(result))
            else:
                counters.written += 1
                if receipt is not None:
                    receipt.set_result(result, written_at)

    def abandon(self, reason: str) -> int:
        """Fail every event not written yet (a shutdown that timed out).

        The batch being written may still reach the disk (a sync callback's thread
        cannot be stopped), and its receipts say so; the queued events never will.

        :return: how many events were failed
        """
        in_flight, self._in_flight = self._in_flight, []
        writing = fail_events(
            in_flight,
            f"{reason}: the flagging callback was still writing its batch when the "
            "shutdown gave up waiting, so the row may still be written",
            self._counters,
            error=FlagWriteError,
        )
        queued = fail_events(
            self._subscription.take_all(),
            f"{reason}: the shutdown gave up before the row reached the flagging callback",
            self._counters,
            error=FlagWriteError,
        )
        return writing + queued


def fail_events(
    events: Sequence[Any],
    reason: str,
    counters: _Counters,
    *,
    error: type[FlaggingError] = FlaggingError,
) -> int:
    """Fail events that will never be written (their receipts too); return how many."""
    for event in events:
        receipt = event.receipt if type(event) is FlagEvent else None
        if receipt is not None and not receipt.done():
            receipt.set_error(error(reason))
        counters.failed += 1
    return len(events)


def _as_row(event: Any) -> FlagRow:
    if type(event) is Prediction:
        return FlagRow(event.inputs + event.outputs, None, None, event.created_at)
    assert isinstance(event, FlagRow)
    return event
