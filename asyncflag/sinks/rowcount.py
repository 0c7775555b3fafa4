"""The row-count record beside a dataset file: ``.asyncflag/<stem>.rows.json``.

So that a restart does not read a whole dataset file to count its rows, the
:class:`~asyncflag.sinks.appendfile.AppendOnlyFile` appending to it keeps, under the
file's ``flock``, a small record (rewritten when the file is opened and closed, and at an
append once :data:`~asyncflag.sinks.appendfile.COUNT_EVERY_BYTES` were appended since, or
:data:`~asyncflag.sinks.appendfile.COUNT_EVERY_SECONDS` passed) of

- ``rows``: the data rows (header left out) in the file up to ``offset``;
- ``offset``: the byte offset just past the last whole row (the file's size then);
- ``ino``, ``dev``: the file's identity;
- ``mtime_ns``: the file's modification time when the record was written;
- ``tail``: the last (up to) 64 bytes before ``offset``;
- ``check``: a CRC-32 of all of the above, so that a record written only in part is
  never read as a whole one.

It is one fixed-size JSON object (space-padded to :data:`RECORD_SIZE` bytes) rewritten in
place with one ``pwrite``: no rename, no fsync of its own (see below), so keeping it
costs one ``fstat`` and one small ``pwrite`` each time.

**It is never trusted blindly.** A restart uses it only when the dataset file is the
same inode on the same device, at least ``offset`` bytes long, its bytes just before
``offset`` are ``tail`` (a row boundary: ``tail`` ends with ``\\n``), and, if the file is
exactly ``offset`` long, its ``mtime_ns`` is unchanged. Then only the bytes past
``offset`` are scanned: rows another process, Gradio, or a crash between a data write
and the record's update appended are counted from there, and a torn tail is moved aside
to ``.torn`` as on a full scan. Anything else (no record, a record that does not decode,
negative numbers, an offset past the file, another identity, other tail bytes, a
failed checksum) falls back to the full scan, which writes a fresh record.

What the checks catch and what they cannot:

- the file replaced (renamed over, deleted and created again, copied back): another
  inode, or, where the inode number was reused, other tail bytes, another size or
  another ``mtime_ns``: caught;
- the file truncated: caught (shorter than ``offset``, or other tail bytes);
- rows appended by anyone: counted by the tail scan;
- an edit *inside* the file that keeps its size: caught through ``mtime_ns`` unless it
  happened within the file system's timestamp granularity (a few ms) of the last
  append; an in-place edit of the middle of the file that also appends, or that sets
  the modification time back, and keeps the 64 bytes before ``offset``, is not caught
  (editors and tools that rewrite a file make a new inode, which is caught).

Durability: the record is written after the rows it counts (and, with
``durability="fsync"``, after their fsync), and never fsync'ed itself. After a crash
or power loss it therefore either lags the file (its rows counted again by the tail
scan), or is lost or torn (the full scan), but never counts rows that are not durably
in the file: with ``fsync`` they were on the disk before the record was written; without
it, a record that outlived its rows finds a file shorter than ``offset`` or other bytes
before it (``tail``), and is not used.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import zlib
from pathlib import Path
from typing import Annotated

import msgspec

from .disk import Disk

__all__ = ["RECORD_SIZE", "TAIL_SIZE", "RowCount", "RowCountFile"]

#: the size every record is padded to (spaces then a newline), so that it is rewritten
#: in place with one ``pwrite``
RECORD_SIZE = 512
#: how many bytes before the offset a record keeps
TAIL_SIZE = 64

_Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class RowCount(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One record of a dataset file's row count (see the module's documentation)."""

    rows: _Count
    offset: _Count
    ino: _Count
    dev: _Count
    mtime_ns: _Count
    tail: Annotated[bytes, msgspec.Meta(max_length=TAIL_SIZE)]
    check: _Count = 0

    @classmethod
    def of(cls, rows: int, offset: int, ino: int, dev: int, mtime_ns: int, tail: bytes) -> RowCount:
        """A record of these fields, checksummed."""
        check = _checksum(rows, offset, ino, dev, mtime_ns, tail)
        return cls(rows, offset, ino, dev, mtime_ns, tail, check)

    def checksum(self) -> int:
        """The CRC-32 of every field but ``check``."""
        return _checksum(self.rows, self.offset, self.ino, self.dev, self.mtime_ns, self.tail)

    def encode(self) -> bytes:
        """This record as the :data:`RECORD_SIZE` bytes kept on disk."""
        return msgspec.json.encode(self).ljust(RECORD_SIZE - 1) + b"\n"


_FIELDS = struct.Struct("<5Q")


def _checksum(rows: int, offset: int, ino: int, dev: int, mtime_ns: int, tail: bytes) -> int:
    try:
        fields = _FIELDS.pack(rows, offset, ino, dev, mtime_ns)
    except struct.error:  # out of range: a record that is not used
        return -1
    return zlib.crc32(tail, zlib.crc32(fields))


class RowCountFile:
    """The open row-count record of one dataset file; every failure to read or write it
    is silent (the record is then missing or stale, and not used).

    :param path: where the record is (``.asyncflag/<stem>.rows.json``)
    :param disk: the file operations to read and write it with
    """

    def __init__(self, path: Path, disk: Disk) -> None:
        self.path = path
        self.disk = disk
        self._fd = -1

    def open(self) -> None:
        """Open (or create) the record; something other than a regular file in a real
        folder leaves it closed: nothing is read or written then."""
        self.close()
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if folder.is_symlink():
                return
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError:
            return
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return
        self._fd = fd
        if info.st_size > RECORD_SIZE:  # not one of ours: cut so that a record fits whole
            try:
                self.disk.truncate(fd, RECORD_SIZE)
            except OSError:
                self.close()

    def read(self) -> RowCount | None:
        """The record, or ``None`` if there is none or it is not a whole, valid one."""
        if self._fd < 0:
            return None
        try:
            data = self.disk.pread(self._fd, RECORD_SIZE + 1, 0)
        except OSError:
            return None
        if not data or len(data) > RECORD_SIZE:
            return None
        try:
            record = msgspec.json.decode(data, type=RowCount)
        except msgspec.DecodeError:
            return None
        return record if record.check == record.checksum() else None

    def write(self, record: RowCount) -> None:
        """Rewrite the record in place (a failed write leaves a record that is not used)."""
        if self._fd < 0:
            return
        data = record.encode()
        try:
            if self.disk.pwrite(self._fd, data, 0) != len(data):
                raise OSError(errno.EIO, "short write")
        except OSError:
            self.close()  # what is there may be part of a record: its checksum fails

    def close(self) -> None:
        """Close the record."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
