"""Flagging callbacks: where rows go. The CSV loggers are the built-in ones.

A flagging callback is Gradio's: ``setup(components, flagging_dir)`` once, then
``flag(flag_data, flag_option, username)`` per row, returning the row count.
asyncflag adds :meth:`FlaggingCallback.flag_batch`, which the writer calls with
every row it drained from the queue. Its default loops over ``flag`` in a single
worker thread (or awaits an async ``flag``); the CSV loggers override it to save
the batch's files concurrently and append all of its rows with one write.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import inspect
import io
import os
import re
import stat
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio
import msgspec

from .components import Component, FileComponent, component_from
from .dataset import (
    METADATA_COLUMNS,
    SIMPLE_LOG_NAME,
    ColumnType,
    DatasetSchema,
    dataset_files,
    dataset_name,
    read_header,
    read_schema,
    scan_records,
    schema_path,
)
from .disk import Disk
from .errors import FlagValueError, as_write_error
from .escaping import escape
from .events import FlagRow
from .storage import FileStore, fsync_directory, write_atomically

# O_NOFOLLOW: a dataset file replaced by a symlink must not lead a write outside
_APPEND_FLAGS = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW

__all__ = [
    "CSVLogger",
    "Durability",
    "FlaggingCallback",
    "RowResult",
    "SimpleCSVLogger",
    "flag_rows",
]

Durability = Literal["flush", "fsync"]
#: what a batch call returns per row: the row count, or why the row was not written
RowResult = int | Exception


class FlaggingCallback(ABC):
    """Base class of flagging callbacks, as in Gradio.

    ``setup`` and ``flag`` may each be sync or async: a sync one runs in a worker
    thread, never on the event loop.
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
    if inspect.iscoroutinefunction(flag):
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


class _AppendOnlyFile:
    """A CSV file kept open for appending, with its byte size and row count.

    The count is kept in memory, so appending never re-reads the file. Each append
    holds an exclusive ``flock`` and first catches up on bytes another process
    appended since (reading only those), so counts stay exact with several writers.
    A failed write is cut back to the last whole row.

    Before each append it also checks, under the lock, that the open file is still the
    one at its path (inode and device) and no shorter than it left it:

    - deleted: the file is created again with its header; its count starts over, as
      the file holds only the rows written since;
    - replaced by another file: that file is opened and its rows counted (a file with
      other labels or types raises :class:`_OtherHeader`: the logger starts the next
      dataset file);
    - truncated: the file is scanned again from its start (an emptied file gets its
      header back; a cut row is moved aside to ``.torn``).

    The count returned is always the row's place in the file it actually went to.

    :param schema: the component types to record in (or check against) the schema
        file beside the dataset (:func:`~asyncflag.dataset.schema_path`); ``None``
        records nothing
    """

    def __init__(
        self,
        path: Path,
        header: bytes,
        *,
        fsync: bool,
        disk: Disk,
        schema: DatasetSchema | None = None,
    ) -> None:
        self.path = path
        self.fsync = fsync
        self.disk = disk
        self.header = header
        self.schema = schema
        self.size = 0
        self.rows = 0
        self._header_rows = 1 if header else 0
        #: the header and schema are in place and the rows counted (a failed start is
        #: retried by the next append)
        self._started = False
        self._fd = self._open_fd()
        try:
            with self._locked():
                self._start()
        except BaseException:
            self.close()
            raise

    def _open_fd(self) -> int:
        """Open the file at the path; something other than a regular file there (a
        symlink, a directory, a FIFO) raises :class:`_OtherHeader`."""
        try:
            fd = os.open(self.path, _APPEND_FLAGS, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
                raise _OtherHeader(self.path, "is a symlink") from None
            if exc.errno == errno.EISDIR:
                raise _OtherHeader(self.path, "is a directory") from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise _OtherHeader(self.path, "is not a regular file")
        return fd

    def _start(self) -> None:
        """Under the lock: give an empty file its header, or check the file's header and
        schema; then count its rows (moving a torn tail aside)."""
        self._started = False
        self.size = os.fstat(self._fd).st_size
        self.rows = 0
        if self.size == 0:
            if self.header:
                try:
                    self._write(self.header)
                except BaseException:
                    self._cut_back()  # no partial header: the next append starts over
                    raise
                self.size = len(self.header)
            if self.schema is not None:
                self._write_schema()
            if self.fsync:
                fsync_directory(self.path.parent)
        else:
            if self.header and os.pread(self._fd, len(self.header), 0) != self.header:
                raise _OtherHeader(self.path, "has other column labels")
            self._check_schema()
        self._catch_up_from(0)
        self.rows -= self._header_rows
        self._started = True

    def _write_schema(self) -> None:
        assert self.schema is not None
        write_atomically(
            schema_path(self.path),
            msgspec.json.encode(self.schema),
            disk=self.disk,
            fsync=self.fsync,
        )

    def _check_schema(self) -> None:
        """Refuse a file whose recorded component types are not ours; record them for a
        file that has no schema yet (older folders, folders Gradio wrote)."""
        if self.schema is None:
            return
        try:
            recorded = read_schema(self.path)
        except ValueError:
            raise _OtherHeader(self.path, "has an unreadable schema file") from None
        if recorded is None:
            self._write_schema()
        elif recorded.types != self.schema.types:
            raise _OtherHeader(
                self.path,
                f"was started by other component types ({recorded.types}, not {self.schema.types})",
            )

    def append(self, data: bytes, count: int, *, locked: bool = False) -> int:
        """Append ``count`` encoded rows; return the row count before them.

        :param locked: the caller holds the lock already (:meth:`try_lock`)
        :raises _OtherHeader: if the file at the path was replaced by one of another
            schema (nothing was written)
        """
        with self._locked(already=locked):
            self._follow()
            before = self.rows
            try:
                self._write(data)
                if self.fsync:
                    self.disk.fsync(self._fd)
            except BaseException:
                self._cut_back()
                raise
            self.size += len(data)
            self.rows += count
            return before

    def _change(self) -> str:
        """How the file at the path differs from what this object last saw (under the lock)."""
        info = os.fstat(self._fd)
        try:
            there = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return "moved"
        if (there.st_ino, there.st_dev) != (info.st_ino, info.st_dev):
            return "moved"
        if info.st_size < self.size:
            return "truncated"
        return "grew" if info.st_size != self.size else ""

    def _follow(self) -> None:
        """Make the open file the one at the path, with its rows counted (under the lock)."""
        for _ in range(_MAX_REOPENS):
            change = self._change()
            if change == "moved":
                self._reopen()
            elif change == "truncated" or not self._started:
                self._start()
                return
            else:
                if change == "grew":
                    self._catch_up_from(self.size)
                return
        raise OSError(errno.EAGAIN, f"{self.path} keeps being replaced; the rows were not written")

    def _reopen(self) -> None:
        """Open (or create) the file now at the path, lock it and count its rows."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._open_fd()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        old, self._fd = self._fd, fd
        os.close(old)  # releases its lock; the new file's is held
        self._start()

    def _catch_up_from(self, offset: int) -> None:
        """Count the whole rows written past ``offset``; move a torn tail aside."""
        end_of_file = os.fstat(self._fd).st_size
        data = os.pread(self._fd, end_of_file - offset, offset)
        records, end = scan_records(data)
        if offset + end < end_of_file:
            self._move_torn_tail(data[end:], offset + end)
        self.rows += records
        self.size = offset + end

    def _move_torn_tail(self, tail: bytes, keep: int) -> None:
        torn = self.path.with_name(self.path.name + ".torn")
        with open(os.open(torn, _APPEND_FLAGS, 0o644), "ab") as out:
            out.write(tail)
            out.flush()
            os.fsync(out.fileno())
        os.ftruncate(self._fd, keep)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self.disk.write(self._fd, view) :]

    def _cut_back(self) -> None:
        try:
            os.ftruncate(self._fd, self.size)
        except OSError:
            pass

    @contextmanager
    def _locked(self, *, already: bool = False) -> Iterator[None]:
        """Hold the lock of the file open now (which :meth:`_reopen` may change)."""
        if not already:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if not already:
                self.unlock()

    def try_lock(self) -> bool:
        """Take the lock only if no other process holds it and the file at the path is
        still this one, whole: a file to reopen is left to a worker thread."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if self._change() in ("moved", "truncated"):
            self.unlock()
            return False
        return True

    def unlock(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


#: how many times in a row one append follows the file at its path to a new one
_MAX_REOPENS = 8


class _OtherHeader(Exception):
    """The dataset file was started with other column labels or component types."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path} {why}")
        self.path = path
        self.why = why


def _next_dataset(path: Path, why: str = "has other column labels") -> Path:
    match = re.fullmatch(r"dataset(\d+)\.csv", path.name)
    if match is None:  # a fixed file name cannot rotate
        raise FlagValueError(
            f"{path} {why} than this interface's; a fixed file name cannot move on to a "
            "next file: use another flagging_dir (or CSVLogger, which starts datasetN.csv)"
        )
    return path.with_name(dataset_name(int(match.group(1)) + 1))


class _CSVFileLogger(FlaggingCallback):
    """What the two CSV loggers share: cells, file saves, batching, the open file.

    Lock order: rows are appended holding the logger's thread lock first (one append
    at a time in this process; the open file does not change under it), then the
    file's ``flock`` (one append at a time across processes). Every path takes them in
    that order: the blocking ``flag``, the writer's worker thread, ``open_dataset`` and
    ``close``. The event loop only ever *tries* both, without blocking, and hands the
    write to a worker thread when either is taken, so it never waits on a thread.
    """

    _with_header = True

    #: writes up to this many bytes (``flush`` durability) are made on the event loop:
    #: handing a short write to the OS is cheaper than a hop to a worker thread
    inline_write_bytes = 64 * 1024

    def __init__(
        self,
        *,
        durability: Durability = "flush",
        max_concurrent_saves: int = 8,
        disk: Disk | None = None,
    ) -> None:
        if durability not in ("flush", "fsync"):
            raise FlagValueError(f"durability must be 'flush' or 'fsync', got {durability!r}")
        self.durability: Durability = durability
        self.disk = disk or Disk()
        self._save_limiter = anyio.CapacityLimiter(max_concurrent_saves)
        # Re-entrant: the event loop tries it, then _commit takes it again.
        self._lock = threading.RLock()
        self._file: _AppendOnlyFile | None = None
        self.components: list[Component] = []
        self.flagging_dir = Path("flagged")

    def setup(self, components: Sequence[Component | str], flagging_dir: str | Path) -> None:
        """Remember where rows go. Nothing is created on disk until the first row."""
        self.close()
        self.components = [component_from(c) for c in components]
        self.flagging_dir = Path(flagging_dir)
        self.columns = [c.label or f"component {i}" for i, c in enumerate(self.components)]
        self._store = FileStore(self.flagging_dir, fsync=self.durability == "fsync", disk=self.disk)
        self._file_columns = [
            i for i, c in enumerate(self.components) if isinstance(c, FileComponent)
        ]
        self._to_cell = [c.to_cell for c in self.components]

    @property
    def dataset_path(self) -> Path | None:
        """The file rows are appended to, once the first row opened it."""
        return self._file.path if self._file else None

    def open_dataset(self) -> tuple[Path, int]:
        """Open the dataset file now (repairing a torn tail); return it and its data rows.

        Blocking. The stream consumer uses it to know where a schema's rows go, and how
        many are there already, before writing any.
        """
        with self._lock:
            file = self._file or self._open()
            return file.path, file.rows

    def flag(
        self,
        flag_data: Sequence[Any],
        flag_option: str | None = None,
        username: str | None = None,
    ) -> int:
        """Store one row now (blocking), as Gradio's loggers do."""
        if len(flag_data) != len(self.components):
            raise FlagValueError(f"expected {len(self.components)} values, got {len(flag_data)}")
        data = tuple(c.check(v) for c, v in zip(self.components, flag_data, strict=True))
        row = FlagRow(data, flag_option, username, datetime.now(UTC))
        saved: dict[tuple[int, int], str] = {}
        for j in self._file_columns:
            if data[j] is not None:
                saved[0, j] = self._save(data[j], j)
        result = self._append([row], saved, {})[0]
        if isinstance(result, Exception):
            raise result
        return result

    async def flag_batch(self, rows: Sequence[FlagRow]) -> list[RowResult]:
        saved: dict[tuple[int, int], str] = {}
        failed: dict[int, Exception] = {}
        if self._file_columns:
            async with anyio.create_task_group() as tg:
                for i, row in enumerate(rows):
                    for j in self._file_columns:
                        if row.data[j] is not None:
                            tg.start_soon(self._save_in_thread, i, j, row.data[j], saved, failed)
        # Formatting is pure Python and holds the GIL wherever it runs, so it runs here;
        # only the write, which can wait on the disk, goes to a worker thread.
        results, written, data = self._encode(rows, saved, failed)
        if not written:
            return results
        # A short write handed to the OS costs less than a hop to a worker thread and
        # back; made here only when both locks are free (in the class's order), so the
        # loop never waits.
        if len(data) <= self.inline_write_bytes and self._lock.acquire(blocking=False):
            try:
                file = self._file
                if file is not None and not file.fsync and file.try_lock():
                    try:
                        self._commit(data, written, results, locked=True)
                    finally:
                        file.unlock()
                    return results
            finally:
                self._lock.release()
        await anyio.to_thread.run_sync(self._commit, data, written, results, abandon_on_cancel=True)
        return results

    async def _save_in_thread(
        self,
        i: int,
        j: int,
        value: Any,
        saved: dict[tuple[int, int], str],
        failed: dict[int, Exception],
    ) -> None:
        try:
            saved[i, j] = await anyio.to_thread.run_sync(
                self._save, value, j, limiter=self._save_limiter, abandon_on_cancel=True
            )
        except Exception as exc:
            failed[i] = exc

    def _save(self, value: Any, column: int) -> str:
        component = self.components[column]
        assert isinstance(component, FileComponent)
        payload, suffix = component.payload(value)
        return self._store.save(self.columns[column], payload, suffix)

    def _append(
        self,
        rows: Sequence[FlagRow],
        saved: dict[tuple[int, int], str],
        failed: dict[int, Exception],
    ) -> list[RowResult]:
        """Format the rows that can be written and append them with one write (blocking)."""
        results, written, data = self._encode(rows, saved, failed)
        if written:
            self._commit(data, written, results)
        return results

    def _encode(
        self,
        rows: Sequence[FlagRow],
        saved: dict[tuple[int, int], str],
        failed: dict[int, Exception],
    ) -> tuple[list[RowResult], list[int], bytes]:
        """The CSV bytes of the rows that can be written, which rows those are, and why
        the others cannot be (in ``results``)."""
        results: list[RowResult] = [0] * len(rows)
        for i, exc in failed.items():
            results[i] = as_write_error(exc)
        good = [i for i in range(len(rows)) if i not in failed] if failed else range(len(rows))
        datas = [rows[i].data for i in good]
        if self._file_columns:
            datas = [
                tuple([saved.get((i, j), v) for j, v in enumerate(data)])
                for i, data in zip(good, datas, strict=True)
            ]
        try:
            data = self._format([rows[i] for i in good], datas).encode("utf-8")
            written = list(good)
        except Exception:
            # Values are checked at the call, so this is rare: find the rows at fault.
            parts: list[bytes] = []
            written = []
            for i, row_data in zip(good, datas, strict=True):
                try:
                    parts.append(self._format([rows[i]], [row_data]).encode("utf-8"))
                    written.append(i)
                except Exception as exc:
                    results[i] = as_write_error(exc)
            data = b"".join(parts)
        return results, written, data

    def _commit(
        self, data: bytes, written: list[int], results: list[RowResult], locked: bool = False
    ) -> None:
        """Append encoded rows and fill in their counts.

        :param locked: the caller already holds the file's lock
        """
        with self._lock:
            file = self._file or self._open()
            try:
                before = file.append(data, len(written), locked=locked)
            except _OtherHeader as exc:
                # The file at the path was replaced by one of another schema (or by a
                # symlink): nothing was written; the rows go to the next dataset file.
                file.close()
                self._file = None
                file = self._open(_next_dataset(exc.path, exc.why))
                before = file.append(data, len(written))
        for k, i in enumerate(written, start=1):
            results[i] = before + k

    def _format(self, rows: Sequence[FlagRow], datas: Sequence[tuple[Any, ...]]) -> str:
        """CSV text for rows, built a column at a time: one tight loop per component."""
        width = len(self.components)
        try:
            columns = (
                [
                    component.to_cells(values)
                    for component, values in zip(
                        self.components, zip(*datas, strict=True), strict=True
                    )
                ]
                if datas
                else [[] for _ in range(width)]
            )
        except ValueError:
            # The width is checked once, at the call; strict zips catch a row that skipped
            # it (a direct flag_batch call), and only then is the row named.
            for data in datas:
                if len(data) != width:
                    raise FlagValueError(f"expected {width} values, got {len(data)}") from None
            raise
        # None is an empty cell (as in Gradio); "" a lone apostrophe. Inlined: a hot loop.
        options = [escape(o) if o else ("" if o is None else "'") for o in [r.option for r in rows]]
        usernames = [
            escape(u) if u else ("" if u is None else "'") for u in [r.username for r in rows]
        ]
        stamps = [row.timestamp.isoformat() if row.timestamp else "" for row in rows]
        buffer = io.StringIO()
        csv.writer(buffer).writerows(zip(*columns, options, usernames, stamps, strict=True))
        return buffer.getvalue()

    def _open(self, path: Path | None = None) -> _AppendOnlyFile:
        """Open the dataset file (``path``, else the one :meth:`_choose_path` picks).

        A file started with other labels, or whose schema file records other component
        types (a text column where this interface has an image), is not appended to: the
        next dataset number is taken. A file without a schema file (older folders,
        folders Gradio wrote) is continued when its labels match, and its schema file is
        written then.
        """
        self.flagging_dir.mkdir(parents=True, exist_ok=True)
        path = path or self._choose_path()
        header = b""
        if self._with_header:
            buffer = io.StringIO()
            csv.writer(buffer).writerow(self._header())
            header = buffer.getvalue().encode("utf-8")
        schema = DatasetSchema(
            [
                ColumnType(label, type(component).__name__, isinstance(component, FileComponent))
                for label, component in zip(self.columns, self.components, strict=True)
            ]
        )
        while True:
            try:
                self._file = _AppendOnlyFile(
                    path,
                    header,
                    fsync=self.durability == "fsync",
                    disk=self.disk,
                    schema=schema,
                )
                return self._file
            except _OtherHeader as exc:
                # Another process started this file with other labels or types (maybe
                # between our look and our lock): take the next dataset number instead.
                path = _next_dataset(path, exc.why)

    def _header(self) -> list[str]:
        return [escape(label) for label in [*self.columns, *METADATA_COLUMNS]]

    def _choose_path(self) -> Path:
        raise NotImplementedError

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class CSVLogger(_CSVFileLogger):
    """Logs rows to ``flagging_dir/datasetN.csv``, with a header, as Gradio 5 does.

    Identical labels append to the latest dataset file and continue its count;
    changed labels start the next file. The component types of a dataset file are
    recorded beside it, in ``flagging_dir/.asyncflag/datasetN.schema.json``: the same
    labels with other types (a Textbox where the file has an Image) also start the next
    file. A dataset file without that record (older folders, folders Gradio wrote) is
    continued when its labels match, and the record is written then. Files are saved
    under ``flagging_dir/<label>/``, named by their content.

    A dataset file deleted, emptied or replaced while the logger runs is noticed before
    the next batch: it is created again with its header (or the replacement's rows are
    counted), and the count ``flag`` returns is always the row's place in the file it
    went to, so it starts over in a file created again.

    :param durability: ``"flush"`` hands each batch to the OS; ``"fsync"`` also
        waits until it is on the disk
    :param max_concurrent_saves: how many file saves run at once
    :param disk: the file operations to use; pass a :class:`~asyncflag.Disk` subclass to
        inject faults in tests
    """

    def _choose_path(self) -> Path:
        existing = dataset_files(self.flagging_dir)
        if not existing:
            return self.flagging_dir / dataset_name(1)
        number, latest = existing[-1]
        header = read_header(latest)
        if header is None or header == self._header():
            return latest  # its schema file is checked under the lock, when it is opened
        return self.flagging_dir / dataset_name(number + 1)


class SimpleCSVLogger(_CSVFileLogger):
    """Logs rows to ``flagging_dir/log.csv``, with no header, as Gradio's simple logger."""

    _with_header = False

    def _choose_path(self) -> Path:
        return self.flagging_dir / SIMPLE_LOG_NAME
