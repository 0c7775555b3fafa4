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
import fcntl
import inspect
import io
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio

from .components import Component, FileComponent, component_from
from .dataset import (
    METADATA_COLUMNS,
    SIMPLE_LOG_NAME,
    dataset_files,
    dataset_name,
    read_header,
    scan_records,
)
from .disk import Disk
from .errors import FlagValueError, as_write_error
from .escaping import escape
from .events import FlagRow
from .storage import FileStore, fsync_directory

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
    """

    def __init__(self, path: Path, header: bytes, *, fsync: bool, disk: Disk) -> None:
        self.path = path
        self.fsync = fsync
        self.disk = disk
        is_new = not path.exists()
        self._fd = os.open(path, _APPEND_FLAGS, 0o644)
        self.size = 0
        self.rows = 0
        self._header_rows = 1 if header else 0
        try:
            with self._locked():
                self.size = os.fstat(self._fd).st_size
                if self.size == 0 and header:
                    self._write(header)
                    self.size = len(header)
                elif header and os.pread(self._fd, len(header), 0) != header:
                    raise _OtherHeader(path)
                self.rows = 0
                self._catch_up_from(0)
                self.rows -= self._header_rows
            if is_new and fsync:
                fsync_directory(path.parent)
        except BaseException:
            os.close(self._fd)
            raise

    def append(self, data: bytes, count: int, *, locked: bool = False) -> int:
        """Append ``count`` encoded rows; return the row count before them.

        :param locked: the caller holds the lock already (:meth:`try_lock`)
        """
        with nullcontext() if locked else self._locked():
            if os.fstat(self._fd).st_size != self.size:
                self._catch_up_from(self.size)
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

    def _locked(self) -> _FileLock:
        return _FileLock(self._fd)

    def try_lock(self) -> bool:
        """Take the lock only if no other process holds it."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class _OtherHeader(Exception):
    """The dataset file was started with other column labels."""


def _next_dataset(path: Path) -> Path:
    match = re.fullmatch(r"dataset(\d+)\.csv", path.name)
    if match is None:  # a fixed file name cannot rotate
        raise FlagValueError(f"{path} has other column labels than this interface")
    return path.with_name(dataset_name(int(match.group(1)) + 1))


class _FileLock:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc_info: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)


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
            before = file.append(data, len(written), locked=locked)
        for k, i in enumerate(written, start=1):
            results[i] = before + k

    def _format(self, rows: Sequence[FlagRow], datas: Sequence[tuple[Any, ...]]) -> str:
        """CSV text for rows, built a column at a time: one tight loop per component."""
        width = len(self.components)
        for data in datas:
            if len(data) != width:
                raise FlagValueError(f"expected {width} values, got {len(data)}")
        columns = (
            [
                component.to_cells(values)
                for component, values in zip(self.components, zip(*datas, strict=True), strict=True)
            ]
            if datas and width
            else [[] for _ in range(width)]
        )
        # None is an empty cell (as in Gradio); "" a lone apostrophe. Inlined: a hot loop.
        options = [escape(o) if o else ("" if o is None else "'") for o in [r.option for r in rows]]
        usernames = [
            escape(u) if u else ("" if u is None else "'") for u in [r.username for r in rows]
        ]
        stamps = [row.timestamp.isoformat() if row.timestamp else "" for row in rows]
        buffer = io.StringIO()
        csv.writer(buffer).writerows(zip(*columns, options, usernames, stamps, strict=True))
        return buffer.getvalue()

    def _open(self) -> _AppendOnlyFile:
        self.flagging_dir.mkdir(parents=True, exist_ok=True)
        path = self._choose_path()
        header = b""
        if self._with_header:
            buffer = io.StringIO()
            csv.writer(buffer).writerow(self._header())
            header = buffer.getvalue().encode("utf-8")
        while True:
            try:
                self._file = _AppendOnlyFile(
                    path, header, fsync=self.durability == "fsync", disk=self.disk
                )
                return self._file
            except _OtherHeader:
                # Another process started this file with other labels between our look
                # and our lock: take the next dataset number instead.
                path = _next_dataset(path)

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
    changed labels start the next file. Files are saved under
    ``flagging_dir/<label>/``, named by their content.

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
            return latest
        return self.flagging_dir / dataset_name(number + 1)


class SimpleCSVLogger(_CSVFileLogger):
    """Logs rows to ``flagging_dir/log.csv``, with no header, as Gradio's simple logger."""

    _with_header = False

    def _choose_path(self) -> Path:
        return self.flagging_dir / SIMPLE_LOG_NAME
