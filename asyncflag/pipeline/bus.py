"""The in-process event bus: bounded queues that subscribers drain in batches.

An interface publishes every prediction and every flag; which of them reach the
writer depends on what it subscribed to (the flagging mode decides). Each
subscription is a bounded queue. When it is full, ``publish`` waits for room and
``publish_nowait`` raises :class:`QueueFullError`; with ``overflow="drop"`` both
drop the event instead and count it, so a request is never blocked.

The queue is a deque with two events rather than a memory object stream: the
subscriber takes everything queued in one call, which is what group commit needs
and costs O(1) per batch instead of a checkpoint per item.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

import anyio
import msgspec
from anyio.lowlevel import checkpoint

from ..checks import one_of, positive_int
from ..errors import (
    FlagDroppedError,
    FlaggingError,
    NotRunningError,
    QueueFullError,
)
from ..events import in_writer

__all__ = ["Counters", "EventBus", "FlagStatistics", "Overflow", "Subscription"]

Overflow = Literal["wait", "drop"]


class FlagStatistics(msgspec.Struct, frozen=True):
    """Counts of the events an interface published for flagging: a plain immutable value.

    Equality covers every field. With a transport (:class:`~asyncflag.RedisStream`)
    ``connected`` and ``reconnects`` say how the link fares.
    """

    #: events accepted into the queue
    published: int = 0
    #: rows written by the flagging callback (with a transport: events handed to it)
    written: int = 0
    #: events refused because the queue was full (``overflow="drop"``)
    dropped: int = 0
    #: accepted events whose row could not be written
    failed: int = 0
    #: accepted events not yet written nor failed (queued or being written)
    pending: int = 0
    #: whether the last attempt to reach the transport worked; ``None`` before the
    #: first one and without a transport
    connected: bool | None = None
    #: how many times the transport's link came back after being lost
    reconnects: int = 0

    def as_dict(self) -> dict[str, int | bool | None]:
        """Every field by name (what ``/api/stats`` returns)."""
        return msgspec.structs.asdict(self)


@dataclass(eq=False)
class Counters:
    """The live counts behind :class:`FlagStatistics`, shared by the queue and whoever
    drains it (the writer, the stream publisher); :meth:`snapshot` takes a value."""

    published: int = 0
    written: int = 0
    dropped: int = 0
    failed: int = 0
    connected: bool | None = None
    reconnects: int = 0
    #: whether the last row settled failed (cleared by the next row written)
    failing: bool = False
    #: why the last row that failed did, and when (``time.time()``)
    last_error: str | None = None
    last_error_at: float | None = None

    def record_failure(self, error: BaseException | str) -> None:
        """Count nothing; remember ``error`` as the reason rows are failing now."""
        self.failing = True
        self.last_error = str(error)[:500]
        self.last_error_at = time.time()

    def snapshot(self) -> FlagStatistics:
        """The counts now, as an immutable value."""
        pending = self.published - self.written - self.failed
        return FlagStatistics(
            self.published,
            self.written,
            self.dropped,
            self.failed,
            pending,
            self.connected,
            self.reconnects,
        )


@dataclass(eq=False)
class Subscription:
    """A bounded queue of the events of some kinds, drained by one subscriber."""

    kinds: frozenset[type]
    max_pending: int
    overflow: Overflow
    counters: Counters = field(default_factory=Counters)
    _items: deque[Any] = field(default_factory=deque)
    _not_empty: anyio.Event | None = None
    _not_full: anyio.Event | None = None
    _closed: bool = False

    def put_nowait(self, item: Any) -> bool:
        """Queue ``item``; return ``False`` if it was dropped."""
        if self._closed:
            raise NotRunningError("the flagging queue is closed: the interface is shutting down")
        if len(self._items) >= self.max_pending:
            if self.overflow == "drop":
                self._drop(item)
                return False
            raise QueueFullError(f"the flagging queue is full ({self.max_pending} pending events)")
        # _append, inlined: this is every flag_nowait's path
        self._items.append(item)
        self.counters.published += 1
        if self._not_empty is not None:
            self._not_empty.set()
            self._not_empty = None
        return True

    async def put(self, item: Any) -> bool:
        """Queue ``item``, waiting for room unless the overflow policy is ``"drop"``."""
        if not self._closed and len(self._items) < self.max_pending:
            self._append(item)  # the common case, without a detour through put_nowait
            return True
        while True:
            if self._closed or len(self._items) < self.max_pending or self.overflow == "drop":
                return self.put_nowait(item)
            if in_writer.get():
                raise FlaggingError(
                    f"the flagging queue is full ({self.max_pending} pending events) and "
                    "this call, made inside the flagging callback, would wait for the "
                    "writer to make room, that is for itself: use flag_nowait() there"
                )
            if self._not_full is None:
                self._not_full = anyio.Event()
            await self._not_full.wait()

    def _append(self, item: Any) -> None:
        self._items.append(item)
        self.counters.published += 1
        if self._not_empty is not None:
            self._not_empty.set()
            self._not_empty = None

    def _drop(self, item: Any) -> None:
        self.counters.dropped += 1
        receipt = getattr(item, "receipt", None)
        if receipt is not None:
            receipt.set_error(
                FlagDroppedError(
                    f"dropped: the flagging queue is full ({self.max_pending} pending)"
                )
            )

    async def get_batch(self, max_items: int) -> list[Any]:
        """Wait for events and take up to ``max_items`` of them, oldest first.

        :raises anyio.EndOfStream: once the subscription is closed and empty
        """
        await checkpoint()
        while not self._items:
            if self._closed:
                raise anyio.EndOfStream
            if self._not_empty is None:
                self._not_empty = anyio.Event()
            await self._not_empty.wait()
        items = self._items
        if len(items) <= max_items:
            batch = list(items)
            items.clear()
        else:
            batch = [items.popleft() for _ in range(max_items)]
        if self._not_full is not None:
            self._not_full.set()
            self._not_full = None
        return batch

    def take_all(self) -> list[Any]:
        """Remove and return everything queued (used when a shutdown gives up)."""
        batch = list(self._items)
        self._items.clear()
        return batch

    def __len__(self) -> int:
        return len(self._items)

    def close(self) -> None:
        """Refuse new events; the subscriber still drains what is queued."""
        self._closed = True
        for event in (self._not_empty, self._not_full):
            if event is not None:
                event.set()
        self._not_empty = self._not_full = None


class EventBus:
    """Routes published events to the subscriptions of their kind.

    An interface publishes every event here, predictions and flags alike; its mode
    decides which kinds its pipeline subscribes to, so an event of a kind no one
    subscribed to goes nowhere. The bus takes events only while it is open (its
    pipeline opens it once running and closes it when leaving).
    """

    def __init__(self) -> None:
        self._routes: dict[type, list[Subscription]] = {}
        #: whether events are taken
        self.is_open = False

    def open(self) -> None:
        """Take events."""
        self.is_open = True

    def close(self) -> None:
        """Refuse events (:class:`NotRunningError`); the subscriptions stay to be drained."""
        self.is_open = False

    def subscribe(
        self,
        kinds: Iterable[type],
        *,
        max_pending: int = 10_000,
        overflow: Overflow = "wait",
        counters: Counters | None = None,
    ) -> Subscription:
        """Open a bounded queue that receives every event of the given kinds."""
        positive_int("max_pending", max_pending)
        one_of("overflow", overflow, ("wait", "drop"))
        subscription = Subscription(frozenset(kinds), max_pending, overflow, counters or Counters())
        for kind in subscription.kinds:
            self._routes.setdefault(kind, []).append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Close ``subscription`` and route nothing more to it."""
        subscription.close()
        for kind in subscription.kinds:
            routes = self._routes.get(kind, [])
            if subscription in routes:
                routes.remove(subscription)
            if not routes:
                self._routes.pop(kind, None)

    def publish_nowait(self, event: Any) -> bool:
        """Deliver without waiting; ``False`` if a full queue dropped it.

        :raises QueueFullError: if a queue is full and its policy is ``"wait"``
        :raises NotRunningError: if the bus is closed
        """
        if not self.is_open:
            _refuse()
        routes = self._routes.get(type(event))
        if routes is None:
            return True
        if len(routes) == 1:  # the common case
            return routes[0].put_nowait(event)
        delivered = True
        for subscription in routes:
            delivered = subscription.put_nowait(event) and delivered
        return delivered

    async def publish(self, event: Any) -> bool:
        """Deliver, waiting for room in full queues whose policy is ``"wait"``.

        :raises NotRunningError: if the bus is closed
        """
        if not self.is_open:
            _refuse()
        routes = self._routes.get(type(event))
        if routes is None:  # nobody subscribed to this kind (the mode decides)
            return True
        if len(routes) == 1:
            return await routes[0].put(event)
        delivered = True
        for subscription in routes:
            delivered = await subscription.put(event) and delivered
        return delivered


def _refuse() -> NoReturn:
    raise NotRunningError("this interface is not running: use it inside 'async with iface:'")
