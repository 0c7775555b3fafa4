"""The Redis Streams transport: replicas publish their rows, one consumer writes the dataset.

With ``Interface(..., transport=RedisStream(url, stream="flags:demo"))`` the interface
keeps its bounded local queue and overflow policy, but what drains the queue is a
publisher instead of the writer: each batch becomes stream entries sent in one
pipelined round trip (group commit, as in the writer). While Redis is unreachable
the batch in hand is retried with backoff and the local queue fills as usual, so
``submit()`` keeps serving. ``flag()`` still returns the row's count: the consumer
answers on a reply stream of this producer once the row is on disk.

Needs ``pip install 'asyncflag[redis]'`` (coredis, which runs on anyio).

Who can write to the stream can add rows: without a secret the consumer takes any
well-formed entry. With ``RedisStream(..., secret=...)`` on the replicas and the same
secret for the consumer (``asyncflag consume --secret-file``), every entry carries an
HMAC-SHA256 of its payload and the consumer dead-letters the others; the consumer signs
its replies too, and a replica takes only signed replies as counts.
"""

from __future__ import annotations

import functools
import itertools
import logging
import secrets
import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
from anyio.abc import TaskStatus

from ..checks import positive_int
from ..components import Component
from ..errors import FlaggingError, FlagValueError, FlagWriteError, without_frames
from ..events import FlagEvent, FlagReceipt, Prediction
from ..pipeline import Drain, Subscription, fail_events
from .wire import (
    MAX_ENTRY_ROWS,
    VERSION,
    WireBatch,
    WireRow,
    encode_batch,
    file_value,
    schema_of,
    secret_bytes,
    signature,
    signed,
)

if TYPE_CHECKING:
    import coredis

__all__ = ["RedisStream"]

logger = logging.getLogger("asyncflag")

_MiB = 2**20


class RedisStream:
    """A Redis stream to publish flag rows to, for :class:`~asyncflag.Interface`'s ``transport``.

    :param url: ``redis://[user:password@]host:port/db``, or ``rediss://`` for TLS
    :param stream: the stream's key; the consumer reads the same key
    :param max_file_size: the largest file a row may carry, in bytes; past it a
        :class:`FlagValueError` at the call (Redis is not a blob store)
    :param max_entry_size: a batch is split into entries of about this many bytes
    :param reply_ttl: seconds a producer's reply stream lives after its last reply
    :param max_backoff: the longest wait, in seconds, between attempts to reach Redis
    :param secret: a secret shared with the consumer (bytes, or a str taken as UTF-8):
        entries are signed with it (HMAC-SHA256) and only replies signed with it count;
        a reply that is not fails the flags it names with :class:`FlagWriteError`.
        Without one, anyone who can ``XADD`` to the stream can add rows and answer
        ``flag()`` calls.
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str,
        max_file_size: int = 1 * _MiB,
        max_entry_size: int = 4 * _MiB,
        reply_ttl: float = 86_400.0,
        max_backoff: float = 5.0,
        secret: bytes | str | None = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise FlagValueError(f"a Redis URL starts with redis:// or rediss://, got {url!r}")
        if not isinstance(stream, str) or not stream:
            raise FlagValueError(f"stream must be a non-empty string, got {stream!r}")
        for name, value in (("max_file_size", max_file_size), ("max_entry_size", max_entry_size)):
            positive_int(name, value)
        self.url = url
        self.stream = stream
        self.max_file_size = max_file_size
        self.max_entry_size = max_entry_size
        self.reply_ttl = reply_ttl
        self.max_backoff = max_backoff
        self._secret = secret_bytes(secret)

    def sign(self, context: str, payload: bytes) -> dict[bytes, bytes]:
        """The signature field for ``payload`` (none without a secret)."""
        if self._secret is None:
            return {}
        return {b"sig": signature(self._secret, context, payload)}

    def verify(self, context: str, payload: bytes, sig: bytes | None) -> bool:
        """Whether ``sig`` signs ``payload`` for ``context``; always true without a secret."""
        return self._secret is None or signed(self._secret, context, payload, sig)

    def client(self) -> coredis.Redis[bytes]:
        """A client for :attr:`url` (use it as an async context manager)."""
        try:
            import coredis
        except ImportError:  # pragma: no cover - checked by the optional extra
            raise FlaggingError(
                "the Redis transport needs coredis: pip install 'asyncflag[redis]'"
            ) from None
        return coredis.Redis.from_url(
            self.url, decode_responses=False, connect_timeout=5.0, stream_timeout=10.0
        )

    def reply_key(self, producer: str) -> str:
        return f"{self.stream}:reply:{producer}"

    def __repr__(self) -> str:
        return f"RedisStream({_without_password(self.url)!r}, stream={self.stream!r})"


def retryable_errors() -> tuple[type[BaseException], ...]:
    """What a lost or restarting Redis raises: worth retrying after a pause."""
    import coredis.exceptions

    return (coredis.exceptions.RedisError, OSError, TimeoutError)


class Backoff:
    """Exponential pauses between attempts to reach Redis, reset by a success."""

    def __init__(self, maximum: float, first: float = 0.05) -> None:
        self.maximum = maximum
        self.first = first
        self.delay = first

    async def wait(self) -> None:
        await anyio.sleep(self.delay)
        self.delay = min(self.delay * 2, self.maximum)

    def reset(self) -> None:
        self.delay = self.first


class StreamPublisher:
    """Drains an interface's queue into the stream; the writer's counterpart on a replica.

    Counts, in the interface's statistics: ``written`` is an event Redis accepted;
    ``connected`` and ``reconnects`` say how the link to Redis fares.
    """

    def __init__(
        self,
        transport: RedisStream,
        subscription: Subscription,
        components: Sequence[Component],
        *,
        max_batch: int,
    ) -> None:
        self._transport = transport
        self._subscription = subscription
        self._counters = subscription.counters
        self._components = list(components)
        self._schema = schema_of(self._components)
        self._files = [
            (j, component) for j, component in enumerate(self._components) if component.holds_files
        ]
        self._max_batch = max_batch
        self.producer = secrets.token_hex(8)
        self._sequence = itertools.count(1)
        self._reply_ids = itertools.count(1)
        # Receipts nobody holds any more need no answer: weak, so memory stays bounded
        # by what callers keep even while the consumer is away.
        self._awaiting: weakref.WeakValueDictionary[int, FlagReceipt] = (
            weakref.WeakValueDictionary()
        )
        self._drain: Drain[Any] | None = None
        #: set when the reply reader has stopped (made by :meth:`run`, in the event loop)
        self._reading: anyio.Event
        self._stop_reading = False
        self._counters.connected = None

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Publish until the queue is closed and drained, then wait for the replies owed."""
        async with self._transport.client() as client, anyio.create_task_group() as tg:
            self._reading = anyio.Event()
            self._reading.set()
            self._drain = Drain(
                self._subscription,
                functools.partial(self._publish, client, tg),
                max_batch=self._max_batch,
            )
            await self._drain.run(task_status=task_status)
            # Receipts leave the weak dict when dropped, telling no one: poll.
            while any(not r.done() for r in list(self._awaiting.values())):  # noqa: ASYNC110
                await anyio.sleep(0.02)
            self._stop_reading = True
            # The reader's blocking read ends within its block time; cancelling one that
            # is still connecting would leave coredis's connection streams unclosed.
            with anyio.move_on_after(5):
                await self._reading.wait()
            tg.cancel_scope.cancel()

    async def _publish(
        self, client: coredis.Redis[bytes], tg: anyio.abc.TaskGroup, batch: list[Any]
    ) -> None:
        """Hand one batch to Redis (the drain loop's handler)."""
        entries, rows = await self._encode(batch)
        if entries:
            if self._awaiting and self._reading.is_set():
                # Started once a reply is owed: auto-logging alone never needs one.
                self._reading = anyio.Event()
                tg.start_soon(self._read_replies, client, self._reading)
            await self._send(client, entries)
            self._counters.written += rows
            if rows:
                self._counters.failing = False

    def abandon(self, reason: str) -> int:
        """Fail what was not handed to Redis, and the flags the consumer had not confirmed
        yet; return how many."""
        in_flight = self._drain.take_in_flight() if self._drain is not None else []
        failed = fail_events([*in_flight, *self._subscription.take_all()], reason, self._counters)
        unconfirmed = [r for r in list(self._awaiting.values()) if not r.done()]
        for receipt in unconfirmed:
            receipt.set_error(
                FlaggingError(
                    f"{reason}: the row was sent to Redis but the consumer had not "
                    "confirmed it; it may still be written"
                )
            )
        return failed + len(unconfirmed)

    async def _encode(self, batch: list[Any]) -> tuple[list[bytes], int]:
        """The batch as stream entries; events whose files cannot be read fail here."""
        if self._files and any(
            _data_of(event)[j] is not None for event in batch for j, _ in self._files
        ):
            return await anyio.to_thread.run_sync(self._encode_blocking, batch)
        return self._encode_blocking(batch)

    def _encode_blocking(self, batch: list[Any]) -> tuple[list[bytes], int]:
        rows: list[WireRow] = []
        sizes: list[int] = []
        for event in batch:
            values = list(_data_of(event))
            try:
                for j, component in self._files:
                    values[j] = file_value(component, values[j])
            except Exception as exc:
                error = FlagWriteError(f"the row was not sent: {exc!r}")
                error.__cause__ = without_frames(exc)  # the frames hold the batch's rows
                if type(event) is FlagEvent and event.receipt is not None:
                    event.receipt.set_error(error)
                self._counters.failed += 1
                self._counters.record_failure(error)
                continue
            reply = 0
            if type(event) is FlagEvent:
                row_option, row_username, stamp = event.option, event.username, event.timestamp
                if event.receipt is not None:
                    reply = next(self._reply_ids)
                    self._awaiting[reply] = event.receipt
            else:
                row_option, row_username, stamp = None, None, event.created_at
            rows.append(WireRow(reply, values, row_option, row_username, stamp))
            sizes.append(_estimate(values))
        entries = []
        start = 0
        while start < len(rows):
            end, size = start, 0
            limit = self._transport.max_entry_size
            while end < len(rows) and (
                end == start or (size + sizes[end] <= limit and end - start < MAX_ENTRY_ROWS)
            ):
                size += sizes[end]
                end += 1
            entries.append(
                encode_batch(
                    WireBatch(
                        VERSION, self.producer, next(self._sequence), self._schema, rows[start:end]
                    )
                )
            )
            start = end
        return entries, len(rows)

    async def _send(self, client: coredis.Redis[bytes], entries: list[bytes]) -> None:
        """Hand the entries to Redis, retrying until it takes them (the same sequence numbers,
        so a consumer writes a batch sent twice once)."""
        errors = retryable_errors()
        backoff = Backoff(self._transport.max_backoff)
        while True:
            try:
                stream = self._transport.stream
                async with client.pipeline(transaction=False) as pipe:
                    for entry in entries:
                        pipe.xadd(stream, {b"batch": entry, **self._transport.sign(stream, entry)})
                break
            except errors as exc:
                self._disconnected(exc)
                await backoff.wait()
        self._connected()

    async def _read_replies(self, client: coredis.Redis[bytes], stopped: anyio.Event) -> None:
        key = self._transport.reply_key(self.producer)
        errors = retryable_errors()
        backoff = Backoff(self._transport.max_backoff)
        last = b"0-0"
        try:
            while not self._stop_reading:
                try:
                    result = await client.xread({key: last}, count=100, block=250)
                except errors as exc:
                    self._disconnected(exc)
                    await backoff.wait()
                    continue
                backoff.reset()
                for entry in (result or {}).get(key.encode(), ()):
                    last = as_bytes(entry.identifier)
                    fields = {as_bytes(k): as_bytes(v) for k, v in entry.field_values.items()}
                    data = fields.get(b"replies", b"")
                    self._resolve(data, self._transport.verify(key, data, fields.get(b"sig")))
        finally:
            stopped.set()

    def _resolve(self, data: bytes, genuine: bool = True) -> None:
        """Settle the receipts a reply entry names; one not signed with the secret (when
        there is one) fails them instead: it may be forged, and its counts are not used."""
        try:
            replies = msgspec.msgpack.decode(data, type=list[tuple[int, int | str]])
        except (msgspec.DecodeError, RecursionError):
            logger.warning("asyncflag: a reply entry that does not decode was ignored")
            return
        now = time.perf_counter()
        failed = 0
        for reply, outcome in replies:
            receipt = self._awaiting.pop(reply, None)
            if receipt is None or receipt.done():
                continue
            if not genuine:
                failed += 1
                said = f" (it said: {outcome:.200})" if isinstance(outcome, str) else ""
                receipt.set_error(
                    FlagWriteError(
                        "a reply not signed with this replica's secret came for this row, so "
                        "whether it was written is unknown; is the consumer running with the "
                        f"same secret?{said}"
                    )
                )
            elif isinstance(outcome, int):
                receipt.set_result(outcome, now)
            else:
                receipt.set_error(FlagWriteError(f"the consumer did not write the row: {outcome}"))
        if failed:
            logger.warning(
                "asyncflag: a reply not signed with this replica's secret failed %d flags; "
                "does the consumer run with the same secret (asyncflag consume --secret-file)?",
                failed,
            )

    def _disconnected(self, exc: BaseException) -> None:
        if self._counters.connected is not False:
            logger.warning(
                "asyncflag: lost Redis at %s (%r); retrying with backoff",
                _without_password(self._transport.url),
                exc,
            )
        self._counters.connected = False

    def _connected(self) -> None:
        if self._counters.connected is False:
            self._counters.reconnects += 1
            logger.info("asyncflag: reached Redis again")
        self._counters.connected = True


def as_bytes(value: str | bytes) -> bytes:
    """What coredis returns as bytes (its types allow str, for decode_responses=True)."""
    return value.encode() if isinstance(value, str) else value


def _data_of(event: Any) -> tuple[Any, ...]:
    if type(event) is Prediction:
        return event.inputs + event.outputs
    return event.data  # type: ignore[no-any-return]


def _estimate(values: list[Any]) -> int:
    """Roughly a row's encoded size, to split a batch into entries."""
    size = 16
    for value in values:
        if isinstance(value, str | bytes):
            size += len(value)
        elif isinstance(value, list) and len(value) == 2 and isinstance(value[1], bytes):
            size += len(value[1]) + len(value[0])
        else:
            size += 16
    return size


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}{sep}{user}:***@{host}" if user else f"{scheme}{sep}***@{host}"
