"""One flagging pipeline: the bus, what drains it (writer or publisher), and the sink's life.

An :class:`~asyncflag.Interface` keeps one :class:`Pipeline` and runs it as an async
context manager. Its life is one :class:`PipelineState`, checked in one place:
``IDLE`` → ``RUNNING`` (entered) → ``CLOSING`` (leaving: draining what is queued)
→ ``CLOSED``; a closed pipeline may be entered again.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from threading import get_ident
from types import TracebackType
from typing import Any, Protocol

import anyio
from anyio.abc import TaskStatus

from ..errors import FlaggingError, NotRunningError
from .bus import Counters, EventBus, FlagStatistics, Overflow, Subscription

__all__ = ["Drainer", "Pipeline", "PipelineState"]

logger = logging.getLogger("asyncflag")


class PipelineState(enum.Enum):
    """Where a pipeline is in its life."""

    #: made, never entered
    IDLE = "idle"
    #: inside ``async with``: events are taken
    RUNNING = "running"
    #: leaving ``async with``: no new events; what is queued is being drained
    CLOSING = "closing"
    #: left; it may be entered again
    CLOSED = "closed"


class Drainer(Protocol):
    """What drains a pipeline's queue: a :class:`~asyncflag.pipeline.writer.FlagWriter`
    or a Redis stream publisher."""

    async def run(self, *, task_status: TaskStatus[None] = ...) -> None:
        """Drain until the queue is closed and empty."""
        ...

    def abandon(self, reason: str) -> int:
        """Fail what was not drained yet (a shutdown that timed out); return how many."""
        ...


@dataclass(eq=False)
class _Run:
    """What one run of the pipeline holds between entering and leaving."""

    stack: AsyncExitStack
    subscription: Subscription | None = None
    drainer: Drainer | None = None
    done: anyio.Event | None = None
    scope: anyio.CancelScope | None = None


class Pipeline:
    """The bus, the task draining it, and the sink's setup and close, as one async context
    manager. Events are published through :attr:`bus`, open while the pipeline runs.

    :param kinds: the event types the drainer subscribes to (none: nothing is drained,
        and publishing an event routes it nowhere)
    :param drainer: makes the drainer of a run from its subscription
    :param counters: the counts the queue and the drainer keep (they outlive a run)
    :param setup: awaited on entering, before the drainer starts (the sink's setup)
    :param close: a blocking call run in a worker thread on leaving (the sink's close)
    :param max_pending: how many events may wait for the drainer
    :param overflow: what to do when that many are waiting
    :param shutdown_timeout: seconds that leaving may spend draining
    """

    def __init__(
        self,
        kinds: Iterable[type],
        drainer: Callable[[Subscription], Drainer],
        *,
        counters: Counters | None = None,
        setup: Callable[[], Awaitable[Any]] | None = None,
        close: Callable[[], object] | None = None,
        max_pending: int = 10_000,
        overflow: Overflow = "wait",
        shutdown_timeout: float | None = 30.0,
    ) -> None:
        self.kinds = tuple(kinds)
        self.bus = EventBus()
        self.counters = counters if counters is not None else Counters()
        self.max_pending = max_pending
        self.overflow: Overflow = overflow
        self.shutdown_timeout = shutdown_timeout
        self._make_drainer = drainer
        self._setup = setup
        self._close = close
        self.state = PipelineState.IDLE
        #: the thread whose event loop entered ``async with`` (``None`` when not running)
        self.loop_thread: int | None = None
        self._run: _Run | None = None

    @property
    def stats(self) -> FlagStatistics:
        """The counts now."""
        return self.counters.snapshot()

    def require_running(self) -> None:
        """:raises NotRunningError: unless the pipeline is inside ``async with``"""
        if self.state is not PipelineState.RUNNING:
            raise NotRunningError(
                "this interface is not running: use it inside 'async with iface:'"
            )

    async def __aenter__(self) -> Pipeline:
        if self.state in (PipelineState.RUNNING, PipelineState.CLOSING):
            raise FlaggingError("this interface is already running")
        run = _Run(AsyncExitStack())
        if self.kinds:
            subscription = self.bus.subscribe(
                self.kinds,
                max_pending=self.max_pending,
                overflow=self.overflow,
                counters=self.counters,
            )
            try:
                if self._setup is not None:
                    await self._setup()
                run.drainer = self._make_drainer(subscription)
                run.done = anyio.Event()
                # Shielded so that a cancelled host still drains; only a shutdown that
                # timed out cancels the drainer, through this scope (made here, entered
                # by the drainer's task).
                run.scope = anyio.CancelScope(shield=True)
                task_group = await run.stack.enter_async_context(anyio.create_task_group())
                await task_group.start(self._drain, run)
            except BaseException:
                self.bus.unsubscribe(subscription)
                await run.stack.aclose()
                raise
            run.subscription = subscription
        self._run = run
        self.loop_thread = get_ident()
        self.state = PipelineState.RUNNING
        self.bus.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        run, self._run = self._run, None
        self.loop_thread = None
        if run is None:
            return
        self.bus.close()
        self.state = PipelineState.CLOSING
        timed_out = False
        try:
            # Shielded: a host that is being cancelled still gets its accepted rows written.
            with anyio.CancelScope(shield=True):
                if run.subscription is not None and run.drainer and run.done is not None:
                    run.subscription.close()
                    with anyio.move_on_after(self.shutdown_timeout):
                        await run.done.wait()
                    if not run.done.is_set():
                        timed_out = True
                        lost = run.drainer.abandon(
                            f"not written within shutdown_timeout={self.shutdown_timeout}s"
                        )
                        logger.error(
                            "asyncflag: %d flag events were not written within the "
                            "shutdown timeout of %ss (a batch the callback was still "
                            "writing may reach the dataset even so)",
                            lost,
                            self.shutdown_timeout,
                        )
                        # The writer's calls into worker threads give up on cancellation
                        # (the threads run on, unwatched), so the writer ends now.
                        if run.scope is not None:
                            run.scope.cancel()
            # The drainer has finished, so the block's own exception is not handed to its
            # task group (which would wrap it in an ExceptionGroup): it goes on unchanged.
            await run.stack.aclose()
        finally:
            if run.subscription is not None:
                self.bus.unsubscribe(run.subscription)
            try:
                if self._close is not None and run.subscription is not None:
                    with anyio.CancelScope(shield=True):
                        if timed_out:
                            await self._close_after_timeout(self._close)
                        else:
                            await anyio.to_thread.run_sync(self._close)
            finally:
                self.state = PipelineState.CLOSED

    async def _close_after_timeout(self, close: Callable[[], object]) -> None:
        """Close the sink without waiting long for a worker thread still writing.

        After a timed-out shutdown, ``close()`` may wait for the batch a worker thread is
        still writing (the CSV loggers' lock): it gets another ``shutdown_timeout`` (at
        most a second), then it is left to finish in its thread.
        """
        grace = min(1.0, max(self.shutdown_timeout or 0.0, 0.01))
        with anyio.move_on_after(grace) as scope:
            await anyio.to_thread.run_sync(close, abandon_on_cancel=True)
        if scope.cancelled_caught:
            logger.error(
                "asyncflag: the flagging callback's close() did not return within %ss "
                "after the shutdown timeout; it goes on in its worker thread",
                grace,
            )

    async def _drain(self, run: _Run, *, task_status: TaskStatus[None]) -> None:
        assert run.drainer is not None and run.done is not None and run.scope is not None
        with run.scope:
            try:
                await run.drainer.run(task_status=task_status)
            finally:
                run.done.set()
