"""THE drain loop: take a batch from a source, hand it to a handler, until the source ends.

The writer (batches of events into a callback's ``flag_batch``), the stream publisher
(batches of events into Redis) and the consumer (batches of stream entries into the
dataset) all run this one loop; what differs is the source and the handler. The
helpers beside it settle what a batch's receipts and counters say.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar, cast

import anyio
from anyio.abc import TaskStatus

from ..errors import FlaggingError, as_write_error, without_frames
from ..events import FlagEvent, in_writer, set_results
from .bus import Counters

__all__ = ["BatchSource", "Drain", "fail_events", "settle"]

T = TypeVar("T")


class BatchSource(Protocol[T]):
    """Where a drain loop takes its batches: a :class:`~asyncflag.pipeline.bus.Subscription`,
    or a Redis stream read by the consumer."""

    async def get_batch(self, max_items: int) -> list[T]:
        """Wait for items and take up to ``max_items`` of them, oldest first.

        :raises anyio.EndOfStream: once the source is closed and drained
        """
        ...


class Drain(Generic[T]):
    """Runs ``handle`` on each batch ``source`` gives, one batch at a time, in order.

    The loop runs with :data:`~asyncflag.events.in_writer` set: a callback it calls
    that awaited a flag (or room in the queue) would wait for this loop, that is for
    itself, and fails instead.

    :param source: where the batches come from
    :param handle: what is done with each batch; it settles what it was handed
    :param max_batch: the most items in one batch
    """

    def __init__(
        self,
        source: BatchSource[T],
        handle: Callable[[list[T]], Awaitable[None]],
        *,
        max_batch: int,
    ) -> None:
        self.source = source
        self._handle = handle
        self._max_batch = max_batch
        #: the batch being handled (what a shutdown that gives up must account for)
        self.in_flight: list[T] = []

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Handle batches until the source ends."""
        token = in_writer.set(True)
        try:
            task_status.started()
            while True:
                try:
                    self.in_flight = await self.source.get_batch(self._max_batch)
                except anyio.EndOfStream:
                    return
                # No reference is kept once handled: what a batch holds (receipts the
                # callers may have dropped) can go while the next batch is awaited.
                await self._handle(self.in_flight)
                self.in_flight = []
        finally:
            in_writer.reset(token)

    def take_in_flight(self) -> list[T]:
        """Remove and return the batch being handled (a shutdown that gave up)."""
        in_flight, self.in_flight = self.in_flight, []
        return in_flight


def settle(
    events: Sequence[Any],
    results: Sequence[int | Exception],
    counters: Counters,
    written_at: float | None = None,
) -> None:
    """Count each event written or failed and settle its receipt, if it has one.

    :param results: per event, its row count once written, or why it was not
    """
    if all(type(result) is int for result in results):  # the common case: all written
        set_results(events, cast("Sequence[int]", results), written_at)
        counters.written += len(events)
        if events:
            counters.failing = False
        return
    written = 0
    for event, result in zip(events, results, strict=True):
        receipt = event.receipt if type(event) is FlagEvent else None
        if isinstance(result, Exception):
            if written:  # the counts move in the order the events settle
                counters.written += written
                counters.failing = False
                written = 0
            counters.failed += 1
            error = as_write_error(without_frames(result))
            counters.record_failure(error)
            if receipt is not None:
                receipt.set_error(error)
        else:
            written += 1
            if receipt is not None:
                receipt.set_result(result, written_at)
    if written:
        counters.written += written
        counters.failing = False


def fail_events(
    events: Sequence[Any],
    reason: str,
    counters: Counters,
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
