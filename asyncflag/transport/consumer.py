"""The dataset side of the Redis transport: read a stream, write rows once, acknowledge.

Delivery through a consumer group is at least once: a consumer killed after writing
and before ``XACK`` gets the same entries again. Rows are still written once:

- progress is kept in the flagging directory, next to the rows (``.asyncflag/``):
  the data rows of each dataset file and the batch numbers written for each producer,
  saved after every batch (and fsynced with ``durability="fsync"``);
- a batch a producer sent twice (its reply from Redis was lost) has a batch number
  recorded as written, and is skipped. Only numbers recorded as written are skipped:
  a gap or a jump in a producer's numbers (a forged entry with a huge one) never
  makes a later batch look like a duplicate;
- after a crash between writing rows and saving progress, a dataset file holds more
  rows than recorded: that many of the redelivered rows are already there, in order,
  and are skipped (their counts are known, so ``flag()`` still gets its answer).

With ``to=`` (``asyncflag consume --to postgresql://...`` or ``sqlite:///path``) the rows
go into a database table instead (:class:`~asyncflag.PostgresLogger`,
:class:`~asyncflag.SQLiteLogger`; their files stay in the flagging directory). Each row
is named by its stream entry (``<stream>/<entry id>/<row>``), the table's event id: a
redelivered entry's rows are found there and not written again, whatever happened
between the commit and the acknowledgement, and get their counts back.

One consumer writes a directory at a time: it holds an exclusive lock on
``.asyncflag/consumer.lock``. Another one started on the same directory stands by;
when the lock comes free (the first one exited or died) it takes over the entries
the first one had read (``XAUTOCLAIM``) and goes on. An entry that cannot be written
(does not decode, wrong types, a path instead of file bytes, over a size cap, nested
too deeply, unsigned when the consumer has a secret: whatever fails in decoding or
checking it) goes to the dead-letter stream with the reason, and its rows are never
written; nothing of it is kept.

What an entry can make the consumer hold is bounded: the limits of
:mod:`asyncflag.transport.wire` on each entry, at most ``max_open_files`` dataset files open
(the least recently used is closed), at most :data:`MAX_CACHED_SCHEMAS` schemas
remembered, at most :data:`MAX_PRODUCERS` producers with at most
:data:`MAX_BATCH_RANGES` ranges of batch numbers each in the progress file, at most
``dead_letter_maxlen`` entries in the dead-letter stream.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
import os
import socket
import time
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import anyio
import msgspec

from ..checks import one_of, positive_int
from ..components import Component
from ..errors import FlaggingError, FlagValueError, as_write_error
from ..events import FlagRow
from ..pipeline import Drain, write_batch
from ..sinks.csvfile import CSVLogger, SimpleCSVLogger
from ..sinks.sql import SQLLogger
from ..sinks.storage import folder_name, fsync_directory
from ..sinks.targets import sql_logger
from .redis import Backoff, RedisStream, as_bytes, retryable_errors
from .wire import (
    RowChecker,
    WireBatch,
    WireError,
    components_from_schema,
    decode_batch,
    decode_header,
)

if TYPE_CHECKING:
    import coredis

__all__ = [
    "MAX_BATCH_RANGES",
    "MAX_CACHED_SCHEMAS",
    "MAX_PRODUCERS",
    "ConsumerStatistics",
    "RedisConsumer",
]

logger = logging.getLogger("asyncflag")

_MiB = 2**20
_STATE_DIR = ".asyncflag"
#: producers not heard from for this long are dropped from the progress file
_FORGET_PRODUCERS_AFTER = 7 * 86_400.0
#: the most producers the progress file remembers (the least recently heard from go first);
#: a producer forgotten could have a batch it resends written twice, never one lost
MAX_PRODUCERS = 1024
#: the most ranges of batch numbers remembered per producer (a gap or a jump starts one;
#: the least recently extended goes first)
MAX_BATCH_RANGES = 8
#: the most schemas whose checks are kept ready (least recently used go first);
#: the schema of a dead-lettered entry is not kept
MAX_CACHED_SCHEMAS = 64
#: the longest reason a dead letter or a failure reply carries, in characters
_MAX_REASON = 1_000
#: the most rows handed to a dataset file's logger in one call
_MAX_ROWS_PER_CALL = 4096

Reply = tuple[int, int | str]


class _Producer(msgspec.Struct):
    """What the progress file knows of one producer."""

    #: when it was last heard from (epoch seconds)
    seen: float
    #: the batch numbers written, as disjoint [first, last] ranges, the most recently
    #: extended last
    written: list[tuple[int, int]] = msgspec.field(default_factory=list)

    def wrote(self, sequence: int) -> bool:
        """Whether the batch ``sequence`` is recorded as written."""
        return any(first <= sequence <= last for first, last in self.written)

    def note(self, sequence: int) -> None:
        """Record the batch ``sequence`` as written (it was not)."""
        ranges = self.written
        first = last = sequence
        for i, (a, b) in enumerate(ranges):
            if a - 1 <= sequence <= b + 1:  # extends this range
                first, last = min(a, sequence), max(b, sequence)
                del ranges[i]
                for j, (c, d) in enumerate(ranges):  # and may close the gap to another
                    if c - 1 <= last and first <= d + 1:
                        first, last = min(first, c), max(last, d)
                        del ranges[j]
                        break
                break
        ranges.append((first, last))
        if len(ranges) > MAX_BATCH_RANGES:
            del ranges[0]


class ConsumerStatistics(NamedTuple):
    """What a consumer has done since it started."""

    #: stream entries acknowledged (written, skipped as duplicates or dead-lettered)
    entries: int
    #: rows appended to the dataset
    written: int
    #: rows redelivered after a crash and found already in the dataset
    skipped: int
    #: entries a producer sent twice, skipped
    duplicates: int
    #: entries sent to the dead-letter stream
    dead_letters: int
    #: whether this consumer waits for another one to release the directory
    standby: bool


class _Progress(msgspec.Struct):
    """What is durably in the dataset, saved after every batch."""

    #: the last entry id whose rows are written
    last_id: str = "0-0"
    #: producer -> its batches written and when it was last heard from, least recent first
    #: (a ``[last batch number, seen]`` pair is the format of asyncflag before ranges)
    producers: dict[str, _Producer | tuple[int, float]] = msgspec.field(default_factory=dict)
    #: dataset file name -> data rows it holds (the files open)
    files: dict[str, int] = msgspec.field(default_factory=dict)
    #: the counts replied for the last batch, resent on start in case they were not sent
    replies: dict[str, list[Reply]] = msgspec.field(default_factory=dict)
    #: in simple mode, the schema of ``log.csv``: the first written to it
    simple_schema: bytes | None = None

    def producer(self, name: str) -> _Producer | None:
        known = self.producers.get(name)
        if isinstance(known, tuple):  # the old format: every batch up to the last written
            known = self.producers[name] = _Producer(known[1], [(1, known[0])])
        return known


@dataclass(eq=False)
class _Sink:
    """Where the rows of one schema go: its components and logger."""

    components: list[Component]
    logger: CSVLogger | SimpleCSVLogger | SQLLogger
    name: str
    #: data rows the progress file says the file holds
    recorded: int
    #: rows of the next ones already in the file (written before a crash)
    skip: int
    #: the rows of this batch to write, each with its producer and reply number
    pending: list[tuple[FlagRow, str, int]] = field(default_factory=list)
    #: a database table: rows are named by their entries, the progress file counts none
    table: bool = False


class _Resync(Exception):
    """Something failed mid-batch: start over from the progress file."""


class RedisConsumer:
    """Writes the rows replicas publish to a Redis stream into a flagging directory.

    Use it as an async context manager; leaving the block finishes the batch in hand::

        async with RedisConsumer("redis://localhost:6379/0", stream="flags:demo",
                                 flagging_dir="flagged"):
            await anyio.sleep_forever()

    :param url: ``redis://[user:password@]host:port/db``, or ``rediss://`` for TLS
    :param stream: the stream the replicas publish to
    :param flagging_dir: where the dataset goes, as for an interface
    :param group: the consumer group's name
    :param name: this consumer's name in the group (host and pid by default)
    :param durability: ``"flush"`` or ``"fsync"``, as for :class:`CSVLogger`; entries are
        acknowledged only once their rows and files are this durable
    :param simple: write ``log.csv`` without a header (:class:`SimpleCSVLogger`) instead
        of ``datasetN.csv`` files; a simple log holds one schema
    :param max_file_size: the largest file accepted in an entry, in bytes
    :param max_entry_size: the largest entry decoded, in bytes; a bigger one is
        dead-lettered (and not copied into the dead letter)
    :param batch_size: the most entries read at once. Redis hands over whole entries, so
        a batch of entries anyone wrote can take up to ``batch_size`` x the largest entry
        Redis accepts in memory: lower both where the stream is not trusted
    :param dead_letter: the dead-letter stream (``<stream>:dead`` by default)
    :param trim: remove entries from the stream once written (keep them with ``False``)
    :param max_backoff: the longest wait, in seconds, between attempts to reach Redis
    :param secret: the secret the replicas sign their entries with (``RedisStream(...,
        secret=...)``); with it, an entry unsigned or wrongly signed is dead-lettered and
        changes nothing else, and replies are signed. Without one, anyone who can
        ``XADD`` to the stream can add rows (and answer ``flag()`` calls)
    :param max_open_files: the most dataset files (one per schema) kept open; past it
        the least recently used is closed, and opened again when its schema comes back
    :param dead_letter_maxlen: how many entries the dead-letter stream keeps (the oldest
        are trimmed)
    :param to: write the rows into a database table instead of dataset files:
        ``postgresql://[user:password@]host[:port]/database`` for
        :class:`~asyncflag.PostgresLogger`, ``sqlite:///path`` for
        :class:`~asyncflag.SQLiteLogger`; saved files stay in ``flagging_dir``
    :param table: the table's base name with ``to`` (the stream's name by default); a
        schema change starts the next version, as for the loggers
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str,
        flagging_dir: str | os.PathLike[str],
        group: str = "asyncflag",
        name: str | None = None,
        durability: Literal["flush", "fsync"] = "flush",
        simple: bool = False,
        max_file_size: int = 1 * _MiB,
        max_entry_size: int = 64 * _MiB,
        batch_size: int = 256,
        dead_letter: str | None = None,
        trim: bool = True,
        max_backoff: float = 5.0,
        secret: bytes | str | None = None,
        max_open_files: int = 16,
        dead_letter_maxlen: int = 10_000,
        to: str | None = None,
        table: str | None = None,
    ) -> None:
        self._redis = RedisStream(url, stream=stream, max_backoff=max_backoff, secret=secret)
        one_of("durability", durability, ("flush", "fsync"))
        if to is not None:
            if simple:
                raise FlagValueError(
                    "simple=True writes log.csv; with to= the rows go into a database "
                    "table: pass one or the other"
                )
            # a target it cannot write to (a bad URL, a missing extra) fails now, not per
            # batch: a logger is made to check it (it connects only on its first batch)
            sql_logger(to, table=table or stream, durability=durability)
        self.to = to
        self.table = table
        for label, value in (
            ("max_file_size", max_file_size),
            ("max_entry_size", max_entry_size),
            ("batch_size", batch_size),
            ("max_open_files", max_open_files),
            ("dead_letter_maxlen", dead_letter_maxlen),
        ):
            positive_int(label, value)
        self.stream = stream
        self.flagging_dir = Path(flagging_dir)
        self.group = group
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.durability = durability
        self.simple = simple
        self.max_file_size = max_file_size
        self.max_entry_size = max_entry_size
        self.batch_size = batch_size
        self.dead_letter = dead_letter or f"{stream}:dead"
        self.trim = trim
        self.max_backoff = max_backoff
        self.max_open_files = max_open_files
        self.dead_letter_maxlen = dead_letter_maxlen
        self._state_dir = self.flagging_dir / _STATE_DIR
        digest = hashlib.sha256(stream.encode()).hexdigest()[:12]
        self._progress_path = self._state_dir / f"{folder_name(stream)}-{digest}.progress"
        self._progress = _Progress()
        #: schema -> its sink, least recently used first
        self._sinks: OrderedDict[bytes, _Sink] = OrderedDict()
        self._schemas: OrderedDict[bytes, RowChecker] = OrderedDict()
        self._lock_fd: int | None = None
        #: the task group running :meth:`_run`, entered and left with the consumer
        self._exit_stack: AsyncExitStack | None = None
        self._cancel_scope: anyio.CancelScope | None = None
        self._stopping = anyio.Event()
        self._stopped = anyio.Event()
        self._entries = self._written = self._skipped = 0
        self._duplicates = self._dead = 0
        self._standby = False

    @property
    def stopping(self) -> bool:
        """Whether the consumer was asked to stop (it finishes the batch in hand)."""
        return self._stopping.is_set()

    @property
    def stats(self) -> ConsumerStatistics:
        return ConsumerStatistics(
            self._entries,
            self._written,
            self._skipped,
            self._duplicates,
            self._dead,
            self._standby,
        )

    async def __aenter__(self) -> RedisConsumer:
        if self._exit_stack is not None:
            raise FlaggingError("this consumer is already running")
        self._stopping = anyio.Event()
        self._stopped = anyio.Event()
        async with AsyncExitStack() as stack:
            task_group = await stack.enter_async_context(anyio.create_task_group())
            task_group.start_soon(self._run)
            self._cancel_scope = task_group.cancel_scope
            self._exit_stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        stack, self._exit_stack = self._exit_stack, None
        cancel_scope, self._cancel_scope = self._cancel_scope, None
        assert stack is not None and cancel_scope is not None
        self._stopping.set()
        try:
            with anyio.CancelScope(shield=True):
                await self._stopped.wait()
        finally:
            cancel_scope.cancel()
            await stack.aclose()
        return None

    # -- the loop ------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._take_directory()
            if self._stopping.is_set():
                return
            start_over: tuple[type[BaseException], ...] = (_Resync, *retryable_errors())
            async with self._redis.client() as client:
                backoff = Backoff(self.max_backoff)
                while not self._stopping.is_set():
                    try:
                        await self._resync(client)
                        backoff.reset()
                        await self._consume(client)
                        return
                    except start_over as exc:
                        logger.warning("asyncflag consumer: %r; starting over after a pause", exc)
                        await self._close_sinks()
                        with anyio.move_on_after(backoff.delay):
                            await self._stopping.wait()  # leaving the block cuts the pause
                        backoff.delay = min(backoff.delay * 2, backoff.maximum)
        finally:
            with anyio.CancelScope(shield=True):
                await self._close_sinks()
                self._release_directory()
                self._stopped.set()

    async def _take_directory(self) -> None:
        """Hold the directory's lock: the single-writer rule. Stand by while another holds it."""
        self._state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(
            self._state_dir / "consumer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644
        )
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not self._standby:
                    logger.info("asyncflag consumer %s: standing by", self.name)
                self._standby = True
                with anyio.move_on_after(0.2):
                    await self._stopping.wait()
                if self._stopping.is_set():
                    os.close(fd)
                    return
        self._standby = False
        self._lock_fd = fd

    def _release_directory(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    async def _resync(self, client: coredis.Redis[bytes]) -> None:
        """Start (over) from the progress file: resend the last replies, claim what the
        group has pending, and write the entries this consumer had read before."""
        self._progress = await anyio.to_thread.run_sync(self._load_progress)
        try:
            await client.xgroup_create(self.stream, self.group, identifier="0", mkstream=True)
        except Exception as exc:  # the group exists already: fine
            if "BUSYGROUP" not in str(exc) and "already exists" not in str(exc):
                raise
        await self._send_replies(client, self._progress.replies)
        start = b"0-0"
        while True:  # take over what another consumer had read (it is gone: we hold the lock)
            claimed = await client.xautoclaim(
                self.stream, self.group, self.name, 0, start, count=self.batch_size, justid=True
            )
            start = as_bytes(claimed[0])
            if start in (b"0-0", b"0"):
                break
        # The entries read before (pending for this consumer), until none are left.
        pending = _Entries(self, client, "0", block=None)
        await Drain(
            pending, functools.partial(self._process, client), max_batch=self.batch_size
        ).run()

    async def _consume(self, client: coredis.Redis[bytes]) -> None:
        """Write new entries as they come, until the consumer is asked to stop."""
        new = _Entries(self, client, ">", block=200)
        await Drain(new, functools.partial(self._process, client), max_batch=self.batch_size).run()

    # -- one batch -----------------------------------------------------------------

    async def _process(self, client: coredis.Redis[bytes], entries: Sequence[Any]) -> None:
        with anyio.CancelScope(shield=True):  # a batch is finished once started
            await self._process_shielded(client, entries)

    async def _process_shielded(self, client: coredis.Redis[bytes], entries: Sequence[Any]) -> None:
        progress = self._progress
        replies: dict[str, list[Reply]] = defaultdict(list)  # counts: signed, saved
        failures: dict[str, list[Reply]] = defaultdict(list)  # of entries that checked out
        unsigned: dict[str, list[Reply]] = defaultdict(list)  # of entries not signed
        dead: list[tuple[bytes, dict[bytes, bytes], str]] = []
        ids = [as_bytes(entry.identifier) for entry in entries]
        touched: list[_Sink] = []
        now = time.time()
        for entry_id, entry in zip(ids, entries, strict=True):
            fields = {as_bytes(k): as_bytes(v) for k, v in entry.field_values.items()}
            batch: WireBatch | None = None
            genuine = False
            try:
                batch, genuine = self._decode(fields)
                known = progress.producer(batch.producer)
                if known is not None and known.wrote(batch.sequence):
                    self._duplicates += 1
                    # A resend's receipts were answered with the counts already (this
                    # comes after, and is ignored); one whose number a forged entry took
                    # first learns why it was skipped instead of waiting forever.
                    said = f"batch {batch.sequence} of this producer was written already"
                    failures[batch.producer] += [(r.reply, said) for r in batch.rows if r.reply]
                    continue
                values = list(map(self._checker(batch.schema), batch.rows))
                sink = await self._sink(batch.schema)
            except (OSError, _Resync):  # asyncflag's own disk: try again, drop nothing
                raise
            except Exception as exc:  # whatever one entry does, it only dead-letters itself
                if isinstance(exc, _NotSigned):
                    batch = exc.batch
                reason = _reason(exc)
                dead.append((entry_id, fields, reason))
                if batch is not None:
                    if batch.schema not in self._sinks:
                        self._schemas.pop(batch.schema, None)  # keep nothing of it
                    producer, waiting = batch.producer, [row.reply for row in batch.rows]
                else:  # not used whole (too big, another version...): who waits still learns
                    data = fields.get(b"batch", b"")
                    header = decode_header(data)
                    if header is None:
                        continue
                    genuine = self._redis.verify(self.stream, data, fields.get(b"sig"))
                    producer, waiting = header.producer, [row.reply for row in header.rows]
                answers = [(reply, reason) for reply in waiting if reply]
                (failures if genuine else unsigned)[producer] += answers
                continue
            if known is None:
                known = _Producer(now)
            else:
                del progress.producers[batch.producer]  # re-inserted last: most recent
                known.seen = now
            known.note(batch.sequence)
            progress.producers[batch.producer] = known
            if len(progress.producers) > MAX_PRODUCERS:
                del progress.producers[next(iter(progress.producers))]
            if sink not in touched:
                touched.append(sink)
            for index, (row, checked) in enumerate(zip(batch.rows, values, strict=True)):
                if sink.table:  # named by its entry: a redelivered row is written once
                    name = f"{self.stream}/{entry_id.decode()}/{index}"
                    flag_row = FlagRow(
                        checked, row.option, row.username, row.timestamp, event_id=name
                    )
                    sink.pending.append((flag_row, batch.producer, row.reply))
                    continue
                if sink.skip:  # already in the file: written before a crash
                    sink.skip -= 1
                    sink.recorded += 1
                    self._skipped += 1
                    if row.reply:
                        replies[batch.producer].append((row.reply, sink.recorded))
                    continue
                flag_row = FlagRow(checked, row.option, row.username, row.timestamp)
                sink.pending.append((flag_row, batch.producer, row.reply))
        await self._write(touched, replies)
        for sink in touched:
            if not sink.table:
                progress.files[sink.name] = sink.recorded
        progress.last_id = ids[-1].decode()
        progress.replies = dict(replies)
        cutoff = now - _FORGET_PRODUCERS_AFTER
        progress.producers = {
            name: known
            for name, known in progress.producers.items()
            if (known.seen if isinstance(known, _Producer) else known[1]) >= cutoff
        }
        if self.durability == "fsync":
            await anyio.to_thread.run_sync(self._save_progress, progress)
        else:  # a small write and a rename: cheaper here than a hop to a thread
            self._save_progress(progress)
        # One round trip: dead letters, replies, then the acknowledgement (in this order).
        async with client.pipeline(transaction=False) as pipe:
            for entry_id, fields, reason in dead:
                pipe.xadd(
                    self.dead_letter,
                    {**self._kept(fields), b"reason": reason.encode(), b"entry": entry_id},
                    trim_strategy=_maxlen(),
                    threshold=self.dead_letter_maxlen,
                )
            self._queue_replies(pipe, replies)
            self._queue_replies(pipe, failures)
            self._queue_replies(pipe, unsigned, sign=False)
            pipe.xack(self.stream, self.group, ids)
            if self.trim:
                last_id: Any = ids[-1]  # MINID takes an entry id; coredis types it as an int
                pipe.xtrim(self.stream, trim_strategy=_minid(), threshold=last_id)
        self._entries += len(ids)
        self._dead += len(dead)
        for entry_id, _, reason in dead:
            logger.warning("asyncflag consumer: entry %s dead-lettered: %s", entry_id, reason)
        await self._close_idle_sinks()

    def _decode(self, fields: dict[bytes, bytes]) -> tuple[WireBatch, bool]:
        """An entry's batch, and whether it is signed with the secret (true without one).

        :raises WireError: for an entry without a batch, over the size cap, or that does
            not decode
        """
        data = fields.get(b"batch")
        if data is None:
            raise WireError("the entry has no 'batch' field")
        if len(data) > self.max_entry_size:
            raise WireError(
                f"an entry of {len(data)} bytes is over the cap of {self.max_entry_size}"
            )
        genuine = self._redis.verify(self.stream, data, fields.get(b"sig"))
        batch = decode_batch(data)
        if not genuine:
            raise _NotSigned(batch, b"sig" in fields)
        return batch, genuine

    def _kept(self, fields: dict[bytes, bytes]) -> dict[bytes, bytes]:
        """What a dead letter keeps of an entry's fields: all, unless over the entry cap."""
        size = sum(len(key) + len(value) for key, value in fields.items())
        if size <= self.max_entry_size:
            return fields
        return {b"dropped": f"{size} bytes of fields, over the entry cap: not copied".encode()}

    async def _write(self, sinks: list[_Sink], replies: dict[str, list[Reply]]) -> None:
        """Hand each sink its rows (its logger's ``flag_batch``, in calls of at most
        :data:`_MAX_ROWS_PER_CALL` rows) and note the counts to reply.

        :raises _Resync: if any row failed: the rows that did land are found by their
            count on the next try
        """
        failed: list[Exception] = []
        for sink in sinks:
            pending, sink.pending = sink.pending, []
            for start in range(0, len(pending), _MAX_ROWS_PER_CALL):
                part = pending[start : start + _MAX_ROWS_PER_CALL]
                results = await write_batch(sink.logger.flag_batch, [row for row, _, _ in part])
                for (_, producer, reply), result in zip(part, results, strict=True):
                    if isinstance(result, Exception):
                        failed.append(as_write_error(result))
                        continue
                    sink.recorded = max(sink.recorded, result)
                    self._written += 1
                    if reply:
                        replies[producer].append((reply, result))
        if failed:
            raise _Resync(f"{len(failed)} rows were not written: {failed[0]!r}")

    def _checker(self, schema: bytes) -> RowChecker:
        checker = self._schemas.get(schema)
        if checker is None:
            if self.simple and self._progress.simple_schema not in (None, schema):
                raise WireError(
                    "a simple log (log.csv) holds one schema, the one first written to it; "
                    "this entry has another (write several schemas without --simple)"
                )
            checker = RowChecker(components_from_schema(schema), self.max_file_size)
            self._schemas[schema] = checker
            if len(self._schemas) > MAX_CACHED_SCHEMAS:
                self._schemas.popitem(last=False)
        else:
            self._schemas.move_to_end(schema)
        return checker

    async def _sink(self, schema: bytes) -> _Sink:
        """The sink of a schema, opening its dataset file the first time it has rows."""
        sink = self._sinks.get(schema)
        if sink is not None:
            self._sinks.move_to_end(schema)
            return sink
        components = self._checker(schema).components
        await self._close_idle_sinks(room=1)
        if self.to is not None:
            table_logger = sql_logger(
                self.to, table=self.table or self.stream, durability=self.durability
            )
            await anyio.to_thread.run_sync(table_logger.setup, components, self.flagging_dir)
            name = f"table {schema.hex()[:16]}"
            sink = _Sink(components, table_logger, name, 0, 0, table=True)
            self._sinks[schema] = sink
            return sink
        file_logger: CSVLogger | SimpleCSVLogger = (
            SimpleCSVLogger(durability=self.durability)
            if self.simple
            # its progress file counts rows per file name: never a mid-run move to the
            # next file, so never a Gradio layout (which a flag option can leave)
            else CSVLogger(durability=self.durability, continue_gradio=False)
        )
        file_logger.setup(components, self.flagging_dir)
        path, rows = await anyio.to_thread.run_sync(file_logger.open_dataset)
        name = path.name
        recorded = self._progress.files.get(name)
        save = recorded is None
        if recorded is None:  # a file this consumer has not written yet: note what is there
            recorded = rows
            self._progress.files[name] = rows
        elif rows < recorded:
            logger.warning(
                "asyncflag consumer: %s holds %d rows, fewer than the %d recorded",
                name,
                rows,
                recorded,
            )
            recorded = rows
        if self.simple and self._progress.simple_schema is None:
            self._progress.simple_schema = schema  # log.csv's for good: a restart keeps it
            save = True
        if save:
            await anyio.to_thread.run_sync(self._save_progress, self._progress)
        sink = _Sink(components, file_logger, name, recorded, rows - recorded)
        self._sinks[schema] = sink
        return sink

    async def _close_idle_sinks(self, room: int = 0) -> None:
        """Close the least recently used idle sinks until ``room`` more fit under
        ``max_open_files``. Idle: no rows pending in this batch and none left to skip, so
        their rows are written and the progress file can forget their file."""
        idle = [
            schema for schema, sink in self._sinks.items() if not sink.pending and not sink.skip
        ]
        closing = []
        for schema in idle[: max(0, len(self._sinks) + room - self.max_open_files)]:
            sink = self._sinks.pop(schema)
            self._progress.files.pop(sink.name, None)
            closing.append(sink)
        if closing:
            await self._close(closing)

    async def _close_sinks(self) -> None:
        sinks = list(self._sinks.values())
        self._sinks.clear()
        await self._close(sinks)

    @staticmethod
    async def _close(sinks: list[_Sink]) -> None:
        for sink in sinks:
            await anyio.to_thread.run_sync(sink.logger.close)

    async def _send_replies(
        self, client: coredis.Redis[bytes], replies: dict[str, list[Reply]]
    ) -> None:
        if any(replies.values()):
            async with client.pipeline(transaction=False) as pipe:
                self._queue_replies(pipe, replies)

    def _queue_replies(
        self, pipe: Any, replies: dict[str, list[Reply]], *, sign: bool = True
    ) -> None:
        """Queue a reply entry per producer, signed when there is a secret and ``sign``
        (replies to entries that were not signed are not: they could be forged)."""
        ttl = int(self._redis.reply_ttl)
        for producer, answers in replies.items():
            if answers:
                key = self._redis.reply_key(producer)
                data = msgspec.msgpack.encode(answers)
                pipe.xadd(
                    key,
                    {b"replies": data, **(self._redis.sign(key, data) if sign else {})},
                    trim_strategy=_maxlen(),
                    threshold=10_000,
                    trim_operator=_approximately(),
                )
                pipe.expire(key, ttl)

    # -- progress ------------------------------------------------------------------

    def _load_progress(self) -> _Progress:
        try:
            data = self._progress_path.read_bytes()
        except FileNotFoundError:
            return _Progress()
        return msgspec.json.decode(data, type=_Progress)

    def _save_progress(self, progress: _Progress) -> None:
        """Replace the progress file atomically; durable with the rows in ``fsync`` mode."""
        temporary = self._progress_path.with_name(self._progress_path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, msgspec.json.encode(progress))
            if self.durability == "fsync":
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self._progress_path)
        if self.durability == "fsync":
            fsync_directory(self._state_dir)


class _Entries:
    """The consumer's batches of stream entries (the source its drain loop takes from).

    :param start: ``"0"``: the entries this consumer read before and did not acknowledge,
        ending once none are left; ``">"``: new entries, until the consumer stops
    :param block: milliseconds a read waits for new entries (``None``: it does not wait)
    """

    def __init__(
        self, consumer: RedisConsumer, client: coredis.Redis[bytes], start: str, block: int | None
    ) -> None:
        self._consumer = consumer
        self._client = client
        self._start = start
        self._block = block

    async def get_batch(self, max_items: int) -> list[Any]:
        """Read up to ``max_items`` entries.

        :raises anyio.EndOfStream: once the consumer stops, or no entries read before
            are left
        """
        consumer = self._consumer
        key = consumer.stream.encode()
        while not consumer.stopping:
            result = await self._client.xreadgroup(
                consumer.group,
                consumer.name,
                {consumer.stream: self._start},
                count=max_items,
                block=self._block,
            )
            entries = (result or {}).get(key, ())
            if entries:
                return list(entries)
            if self._block is None:
                break
        raise anyio.EndOfStream


class _NotSigned(WireError):
    """An entry that is not signed with the consumer's secret."""

    def __init__(self, batch: WireBatch, has_signature: bool) -> None:
        self.batch = batch
        super().__init__(
            (
                "wrong signature: the entry is not signed with this consumer's secret"
                if has_signature
                else "not signed: this consumer takes only entries signed with its secret"
            )
            + " (give the replicas RedisStream(..., secret=...) with the same secret)"
        )


def _reason(exc: BaseException) -> str:
    """Why an entry was dead-lettered, in at most ``_MAX_REASON`` characters."""
    try:
        text = str(exc) if isinstance(exc, WireError) else f"{type(exc).__name__}: {exc}"
    except Exception:  # a str() that fails too
        text = type(exc).__name__
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


def _minid() -> Any:
    from coredis.tokens import PureToken

    return PureToken.MINID


def _maxlen() -> Any:
    from coredis.tokens import PureToken

    return PureToken.MAXLEN


def _approximately() -> Any:
    from coredis.tokens import PureToken

    return PureToken.APPROXIMATELY
