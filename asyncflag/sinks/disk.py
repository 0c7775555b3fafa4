"""The writer's file operations, gathered in one swappable object.

Like an httpx transport, :class:`Disk` is the I/O boundary: the loggers and the file
store do every write, fsync, truncation and rename through it (the dataset files, their
``.torn`` tails, schema records and saved files, and the folders holding them), so a
test (or an operator) can pass a disk that fails the Nth write with ``ENOSPC`` without
patching asyncflag's internals.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["Disk"]


class Disk:
    """Plain OS calls. Subclass and override to inject faults or to count operations."""

    def write(self, fd: int, data: memoryview) -> int:
        """Write some of ``data`` to ``fd``; return how many bytes were written."""
        return os.write(fd, data)

    def pwrite(self, fd: int, data: bytes, offset: int) -> int:
        """Write ``data`` at ``offset`` of ``fd`` (not through ``O_APPEND``); return how
        many bytes were written. Used for the small row-count record rewritten in place
        after each append (``.asyncflag/<stem>.rows.json``)."""
        return os.pwrite(fd, data, offset)

    def pread(self, fd: int, size: int, offset: int) -> bytes:
        """Read up to ``size`` bytes of ``fd`` from ``offset`` (fewer at the end of the
        file). Every read the append path makes goes through here, so a subclass can
        count the bytes a restart reads."""
        return os.pread(fd, size, offset)

    def fsync(self, fd: int) -> None:
        """Wait until what was written to ``fd`` is on the disk."""
        os.fsync(fd)

    def truncate(self, fd: int, size: int) -> None:
        """Cut the file open as ``fd`` back to ``size`` bytes."""
        os.ftruncate(fd, size)

    def fsync_directory(self, directory: Path) -> None:
        """Make a new or renamed entry of ``directory`` durable (through :meth:`fsync`)."""
        fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self.fsync(fd)
        finally:
            os.close(fd)

    def write_file(self, path: Path, chunks: Iterable[bytes], *, fsync: bool) -> None:
        """Create ``path`` (it must not exist) holding ``chunks``."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    view = view[self.write(fd, view) :]
            if fsync:
                self.fsync(fd)
        finally:
            os.close(fd)

    def replace(self, source: Path, target: Path) -> None:
        """Rename ``source`` over ``target`` atomically."""
        os.replace(source, target)
