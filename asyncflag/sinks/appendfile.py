"""The append-only file under a dataset: one writer at a time, whole rows only.

:class:`AppendOnlyFile` keeps a CSV file open for appending and its row count in
memory. It takes the file's ``flock`` for each append (several processes may write
one dataset), catches up on what others appended, cuts a failed write back to the
last whole row, moves a torn tail aside to ``.torn``, and follows a file deleted,
emptied or replaced while it runs. It keeps its row count beside the file (a
:class:`~asyncflag.sinks.rowcount.RowCountFile`), so that opening a big file again
reads only what was appended since the count was kept, not the whole file.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from .disk import Disk
from .records import SCAN_CHUNK, RecordCounter
from .rowcount import TAIL_SIZE, RowCount, RowCountFile

__all__ = ["APPEND_FLAGS", "MAX_REOPENS", "AppendOnlyFile", "OtherDatasetError", "Sidecar"]

#: how a dataset file is opened; O_NOFOLLOW: a dataset file replaced by a symlink must
#: not lead a write outside
APPEND_FLAGS = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW


class Sidecar(Protocol):
    """What is kept beside an append-only file (its schema), under the file's lock."""

    def record(self, path: Path) -> None:
        """Record it beside the file at ``path``, which was just started."""

    def check(self, path: Path) -> None:
        """Check the file at ``path``, which has rows already, is one to continue.

        :raises OtherDatasetError: if it is not
        """


class AppendOnlyFile:
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
      other labels or types raises :class:`OtherDatasetError`: the logger starts the next
      dataset file);
    - truncated: the file is scanned again from its start (an emptied file gets its
      header back; a cut row is moved aside to ``.torn``).

    The count returned is always the row's place in the file it actually went to.

    Lock order: this object takes only the file's ``flock``. A caller that also holds a
    thread lock (:class:`~asyncflag.sinks.datasets.Dataset`) takes that one first.

    Every read goes through ``disk`` (:meth:`~asyncflag.sinks.disk.Disk.pread`).

    :param sidecar: what is recorded beside the file when it is started, and checked
        when an existing file is opened (the dataset's schema); ``None`` records nothing
    :param count_path: where to keep the file's row count
        (:mod:`asyncflag.sinks.rowcount`), read when the file is opened so that only the
        bytes past the counted rows are scanned; ``None``: the whole file is scanned
    """

    def __init__(
        self,
        path: Path,
        header: bytes,
        *,
        fsync: bool,
        disk: Disk,
        sidecar: Sidecar | None = None,
        count_path: Path | None = None,
    ) -> None:
        self.path = path
        self.fsync = fsync
        self.disk = disk
        self.header = header
        self.sidecar = sidecar
        self.size = 0
        self.rows = 0
        self._counts = RowCountFile(count_path, disk) if count_path is not None else None
        #: the last (up to) TAIL_SIZE bytes before ``size``, for the row-count record
        self._tail = b""
        #: the size the row-count record says, and when it was written
        self._counted_size = -1
        self._counted_at = 0.0
        self._header_rows = 1 if header else 0
        #: the header and schema are in place and the rows counted (a failed start is
        #: retried by the next append)
        self._started = False
        #: what :meth:`try_lock` found, for the append it admits (one check per batch)
        self._seen: str | None = None
        self._fd = self._open_fd()
        self._identity = _identity_of(self._fd)
        try:
            with self._locked():
                self._start()
        except BaseException:
            self.close()
            raise

    def _open_fd(self) -> int:
        """Open the file at the path; something other than a regular file there (a
        symlink, a directory, a FIFO) raises :class:`OtherDatasetError`."""
        try:
            fd = os.open(self.path, APPEND_FLAGS, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
                raise OtherDatasetError(self.path, "is a symlink") from None
            if exc.errno == errno.EISDIR:
                raise OtherDatasetError(self.path, "is a directory") from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OtherDatasetError(self.path, "is not a regular file")
        return fd

    def _start(self) -> None:
        """Under the lock: give an empty file its header, or check the file's header and
        schema; then count its rows (moving a torn tail aside)."""
        self._started = False
        self.size = os.fstat(self._fd).st_size
        self.rows = 0
        self._tail = b""
        if self.size == 0:
            if self.header:
                try:
                    self._write(self.header)
                except BaseException:
                    self._cut_back()  # no partial header: the next append starts over
                    raise
                self.size = len(self.header)
            if self.sidecar is not None:
                self.sidecar.record(self.path)
            if self.fsync:
                self.disk.fsync_directory(self.path.parent)
        else:
            if self.header and self.disk.pread(self._fd, len(self.header), 0) != self.header:
                raise OtherDatasetError(self.path, "has other column labels")
            if self.sidecar is not None:
                self.sidecar.check(self.path)
        counted = 0
        if self._counts is not None:
            self._counts.open()
            record = self._counts.read()
            if record is not None and self._trust(record):
                counted = record.offset
                self.rows = record.rows + self._header_rows
                self._tail = record.tail
        self._catch_up_from(counted)
        self.rows -= self._header_rows
        self._started = True
        self._keep_count()

    def _trust(self, record: RowCount) -> bool:
        """Whether ``record`` counts the rows of the open file up to its offset (see
        :mod:`asyncflag.sinks.rowcount` for what this catches and what it cannot)."""
        info = os.fstat(self._fd)
        offset = record.offset
        if (
            (record.ino, record.dev) != self._identity
            or not len(self.header) <= offset <= info.st_size
            or record.rows > offset - len(self.header)
            or (record.rows == 0) != (offset == len(self.header))
            or len(record.tail) != min(TAIL_SIZE, offset)
            or (offset == info.st_size and record.mtime_ns != info.st_mtime_ns)
        ):
            return False
        if offset and not record.tail.endswith(b"\n"):
            return False
        size = len(record.tail)
        return self.disk.pread(self._fd, size, offset - size) == record.tail

    def _keep_count(self) -> None:
        """Record the rows counted now (under the lock, after the rows' write and fsync)."""
        if self._counts is not None:
            ino, dev = self._identity
            mtime_ns = os.fstat(self._fd).st_mtime_ns
            self._counts.write(RowCount.of(self.rows, self.size, ino, dev, mtime_ns, self._tail))
            self._counted_size = self.size
            self._counted_at = time.monotonic()

    def append(self, data: bytes, count: int, *, locked: bool = False) -> int:
        """Append ``count`` encoded rows; return the row count before them.

        :param locked: the caller holds the lock already (:meth:`try_lock`)
        :raises OtherDatasetError: if the file at the path was replaced by one of another
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
            self._tail = (self._tail + data[-TAIL_SIZE:])[-TAIL_SIZE:]
            if (
                self.size - self._counted_size >= COUNT_EVERY_BYTES
                or time.monotonic() - self._counted_at >= COUNT_EVERY_SECONDS
            ):
                self._keep_count()
            return before

    def _change(self) -> str:
        """How the file at the path differs from what this object last saw (under the lock)."""
        try:  # one stat: the same inode as the open file is the same file, of the same size
            there = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return "moved"
        if (there.st_ino, there.st_dev) != self._identity:
            return "moved"
        if there.st_size < self.size:
            return "truncated"
        return "grew" if there.st_size != self.size else ""

    def _follow(self) -> None:
        """Make the open file the one at the path, with its rows counted (under the lock)."""
        seen, self._seen = self._seen, None
        for _ in range(MAX_REOPENS):
            change = seen if seen is not None else self._change()
            seen = None
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
        self._identity = _identity_of(fd)
        os.close(old)  # releases its lock; the new file's is held
        self._start()

    def _catch_up_from(self, offset: int) -> None:
        """Count the whole rows written past ``offset`` (the end of a whole row), reading
        in chunks of :data:`~asyncflag.sinks.records.SCAN_CHUNK`; move a torn tail aside."""
        end_of_file = os.fstat(self._fd).st_size
        counter = RecordCounter()
        while offset + counter.fed < end_of_file:
            chunk = self.disk.pread(
                self._fd, min(SCAN_CHUNK, end_of_file - offset - counter.fed), offset + counter.fed
            )
            if not chunk:  # cut meanwhile (by a writer that does not lock)
                break
            counter.feed(chunk)
        end = offset + counter.end
        if end < offset + counter.fed:
            tail = self.disk.pread(self._fd, offset + counter.fed - end, end)
            self._move_torn_tail(tail, end)
        self.rows += counter.records
        if counter.end:  # else the tail before ``offset`` is the one kept
            keep = min(TAIL_SIZE, end)
            self._tail = self.disk.pread(self._fd, keep, end - keep)
        self.size = end

    def _move_torn_tail(self, tail: bytes, keep: int) -> None:
        torn = self.path.with_name(self.path.name + ".torn")
        fd = os.open(torn, APPEND_FLAGS, 0o644)
        try:
            _write_all(self.disk, fd, tail)
            self.disk.fsync(fd)
        finally:
            os.close(fd)
        self.disk.truncate(self._fd, keep)

    def _write(self, data: bytes) -> None:
        _write_all(self.disk, self._fd, data)

    def _cut_back(self) -> None:
        try:
            self.disk.truncate(self._fd, self.size)
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
        change = self._change()
        if change in ("moved", "truncated") or not self._started:
            self.unlock()
            return False
        self._seen = change
        return True

    def unlock(self) -> None:
        """Release the lock taken by :meth:`try_lock`."""
        self._seen = None
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the file (releasing its lock), recording its row count first if rows were
        appended since it was last recorded; the object is not used again."""
        if self._counts is not None:
            if self._fd >= 0 and self._started and self._counted_size != self.size:
                try:
                    with self._locked():
                        self._keep_count()
                except OSError:  # the record is an optimisation: the next open scans
                    pass
            self._counts.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


#: how many times in a row one append follows the file at its path to a new one
MAX_REOPENS = 8

#: the row-count record is rewritten once this many bytes were appended since it was last
#: written, or at the first append this many seconds after it, and when the file is
#: closed: a process that stops without closing leaves at most about this much for the
#: next open to scan, and a one-row append pays no record write (a ``pwrite`` and an
#: ``fstat``, ~8 µs, were a fifth of a single flag's latency)
COUNT_EVERY_BYTES = 1 << 20
COUNT_EVERY_SECONDS = 1.0


class OtherDatasetError(Exception):
    """The file at the path is not one to append these rows to: it was started with
    other column labels or component types, or it is not a regular file.

    Nothing was written; the caller moves on to another file.
    """

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path} {why}")
        self.path = path
        self.why = why


def _write_all(disk: Disk, fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[disk.write(fd, view) :]


def _identity_of(fd: int) -> tuple[int, int]:
    """The inode and device of an open file: what the path must still name."""
    info = os.fstat(fd)
    return info.st_ino, info.st_dev
