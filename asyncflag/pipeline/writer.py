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

from ..errors import FlaggingError, FlagWriteError, as_write_error
from ..events import FlagRow, Prediction
from ..sinks import RowResult
from .bus import Subscription
from .drain import Drain, fail_events, settle

__all__ = ["BatchFlagger", "FlagWriter", "write_batch"]

logger = logging.getLogger("asyncflag")

BatchFlagger = Callable[[Sequence[FlagRow]], Awaitable[list[RowResult]]]


async def write_batch(flag_batch: BatchFlagger, rows: Sequence[FlagRow]) -> list[RowResult]:
    """Hand ``rows`` to ``flag_batch`` in one call; return a result per row.

    Whatever the call does, the answer has one result per row: a batch that raised,
    or returned a wrong number of results, fails every row with the error.
    """
    try:
        results = await flag_batch(rows)
        if len(results) != len(rows):
            raise FlaggingError(f"flag_batch returned {len(results)} results for {len(rows)} rows")
    except Exception as exc:
        logger.warning("a batch of %d rows was not written: %r", len(rows), exc)
        return [as_write_error(exc)] * len(rows)
    return results


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
        self._counters = subscription.counters
        self._drain: Drain[Any] = Drain(subscription, self._write, max_batch=max_batch)
        #: every event this subscription gets is a row already (not a Prediction)
        self._rows_only = all(issubclass(kind, FlagRow) for kind in subscription.kinds)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Write batches until the subscription is closed and drained."""
        await self._drain.run(task_status=task_status)

    async def _write(self, batch: list[Any]) -> None:
        rows = batch if self._rows_only else [_as_row(event) for event in batch]
        results = await write_batch(self._flag_batch, rows)
        settle(batch, results, self._counters, time.perf_counter())

    def abandon(self, reason: str) -> int:
        """Fail every event not written yet (a shutdown that timed out).

        The batch being written may still reach the disk (a sync callback's thread
        cannot be stopped), and its receipts say so; the queued events never will.

        :return: how many events were failed
        """
        writing = fail_events(
            self._drain.take_in_flight(),
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


def _as_row(event: Any) -> FlagRow:
    if type(event) is Prediction:
        return FlagRow(event.inputs + event.outputs, None, None, event.created_at)
    assert isinstance(event, FlagRow)
    return event
