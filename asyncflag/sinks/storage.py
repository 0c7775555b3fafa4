"""Saving files under the flagging directory: content-addressed, atomic, confined.

A payload is written to a temporary name and renamed into place, so a file under
its final name is always complete. Its name is the hash of its content, so saving
the same payload twice stores it once. Folder names come from component labels
and are reduced to one safe path component; a folder that is a symlink is refused,
so nothing is ever written outside the flagging directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio

from ..components import Component
from ..errors import FlagValueError
from ..events import FlagRow
from .disk import Disk

__all__ = [
    "FileSaver",
    "FileStore",
    "folder_name",
    "fsync_directory",
    "next_lanes",
    "usable_cores",
    "write_atomically",
]

_UNSAFE = re.compile(r"[^\w\- .]")
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
_CHUNK = 1 << 20
_MAX_NAME_BYTES = 200
_LOG_SUFFIXES = (".csv", ".torn")


def folder_name(label: str) -> str:
    """Reduce a component label to a single, safe folder name.

    ``../../etc`` becomes ``etc``; characters other than letters, digits, ``-``,
    ``_``, ``.`` and space become ``_``; names a spreadsheet or Windows would
    misread get a leading ``_``.
    """
    name = _UNSAFE.sub("_", label).strip(" .")[:100]
    # 100 characters can be 400 bytes; file systems allow 255
    name = name.encode("utf-8")[:_MAX_NAME_BYTES].decode("utf-8", "ignore").strip(" .")
    if not name:
        return "_"
    if name.split(".")[0].lower() in _RESERVED or name[0] in "-+=@":
        name = "_" + name
    if name.lower().endswith(_LOG_SUFFIXES):
        name += "_"  # a folder must never take the name of a dataset file or its .torn
    return name


class FileStore:
    """Saves payloads into folders of one flagging directory.

    :param root: the flagging directory
    :param fsync: fsync each saved file (and the folder, when the file is new)
    :param disk: the file operations to use
    """

    def __init__(self, root: Path, *, fsync: bool = False, disk: Disk | None = None) -> None:
        self.root = root
        self.fsync = fsync
        self.disk = disk or Disk()

    def save(self, folder: str, payload: bytes | Path, suffix: str) -> str:
        """Save a payload and return its path relative to the root, with ``/`` separators.

        Blocking: call it from a worker thread.

        :raises OSError: if the disk refuses the write
        :raises FlagValueError: if the folder is not a real directory inside the root
        """
        directory = self._directory(folder_name(folder))
        if isinstance(payload, bytes):
            name = hashlib.sha256(payload).hexdigest()[:40] + suffix
            if not (directory / name).exists():
                self._write_new(directory, name, [payload])
            return f"{directory.name}/{name}"
        hasher = hashlib.sha256()

        def chunks() -> Iterator[bytes]:
            with payload.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    hasher.update(chunk)
                    yield chunk

        # Copied and hashed in one pass, so the name is known only once it is written.
        temp = self._write_temp(directory, chunks())
        name = hasher.hexdigest()[:40] + suffix
        self._publish(temp, directory, name)
        return f"{directory.name}/{name}"

    def _directory(self, name: str) -> Path:
        directory = self.root / name
        # One lstat when the folder exists (each save asks): a symlink, even to a
        # folder, or anything else that is not a real directory is refused.
        try:
            info = os.lstat(directory)
        except FileNotFoundError:
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                pass
            info = os.lstat(directory)
        if not stat.S_ISDIR(info.st_mode):
            raise FlagValueError(
                f"refusing to save into {str(directory)!r}: it is not a real directory"
            )
        return directory

    def _write_new(self, directory: Path, name: str, chunks: Iterable[bytes]) -> None:
        self._publish(self._write_temp(directory, chunks), directory, name)

    def _write_temp(self, directory: Path, chunks: Iterable[bytes]) -> Path:
        """Write to a temporary name: a crash never leaves a partial file under a final one."""
        temp = directory / f".{secrets.token_hex(8)}.tmp"
        try:
            self.disk.write_file(temp, chunks, fsync=self.fsync)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp

    def _publish(self, temp: Path, directory: Path, name: str) -> None:
        try:
            self.disk.replace(temp, directory / name)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        if self.fsync:
            self.disk.fsync_directory(directory)


def usable_cores() -> int:
    """How many cores this process may run on (its CPU affinity, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def next_lanes(cpu_seconds: float, wall_seconds: float, lanes: int, cores: int, cap: int) -> int:
    """How many lanes the next batch of saves gets, from what the last one cost.

    A save on a local disk is CPU work (hashing, copying into the page cache): lanes
    beyond the cores only contend for them and for the GIL (on 2 cores, 400 PNG saves
    went 1.48x faster in 2 lanes than in 1, and 0.98x in 8). A save to storage that
    makes it wait (a network file system, an fsync per file) leaves its thread idle,
    and more lanes overlap the waits. So: the cores, while the lanes kept at least half
    of the cores they could use busy (CPU time over wall time); ``cap`` otherwise.

    :param cpu_seconds: the CPU time the lanes' threads spent on the last batch
    :param wall_seconds: how long the last batch's saves took (its longest lane, timed
        inside its thread)
    :param lanes: how many lanes it ran in
    :param cores: how many cores the process may use
    :param cap: the most lanes allowed (``max_concurrent_saves``)
    """
    if cap <= cores:
        return cap
    if wall_seconds <= 0 or cpu_seconds >= 0.5 * min(lanes, cores) * wall_seconds:
        return cores
    return cap


class FileSaver:
    """Saves the files a batch's values hold into a :class:`FileStore`: what every sink
    that keeps files in the flagging directory shares (the CSV loggers, the SQL ones).

    A batch's saves run in worker threads, "lanes", each taking the next file until
    none is left. How many: as many as the cores while the saves keep them busy, up to
    ``max_concurrent_saves`` while they wait on storage (:func:`next_lanes`, decided
    again after each batch from the time its lanes spent inside their threads).

    :param store: where the files go
    :param components: the components of the row's values
    :param labels: the column label of each component (its files' folder)
    :param max_concurrent_saves: the most worker threads saving at once
    :param cores: the cores to plan for (default: those this process may run on)
    """

    def __init__(
        self,
        store: FileStore,
        components: Sequence[Component],
        labels: Sequence[str],
        max_concurrent_saves: int = 8,
        *,
        cores: int | None = None,
    ) -> None:
        self.store = store
        self.components = list(components)
        self.labels = list(labels)
        self.max_concurrent_saves = max_concurrent_saves
        self.cores = max(1, cores or usable_cores())
        #: how many lanes the next batch uses (see :func:`next_lanes`)
        self.lanes = min(max_concurrent_saves, self.cores)
        self._limiter = anyio.CapacityLimiter(max_concurrent_saves)
        #: the indexes of the components whose values hold files
        self.file_columns = [i for i, c in enumerate(self.components) if c.holds_files]

    def save(self, value: Any, column: int) -> Any:
        """Save the files of a value (blocking); the value with their saved paths
        (relative to the flagging directory), for its cell."""
        component = self.components[column]
        label = self.labels[column]
        paths = [
            self.store.save(label, *component.file_payload(file)) for file in component.files(value)
        ]
        return component.with_files(value, paths)

    async def save_batch(
        self, rows: Sequence[FlagRow]
    ) -> tuple[dict[tuple[int, int], Any], dict[int, Exception]]:
        """Save the files of every row, concurrently.

        :return: each value holding files, with its saved paths, by (row, column); and
            why a row's files could not be saved, by row
        """
        saved: dict[tuple[int, int], Any] = {}
        failed: dict[int, Exception] = {}
        if not self.file_columns:
            return saved, failed
        saves = [
            (i, j, row.data[j])
            for i, row in enumerate(rows)
            for j in self.file_columns
            if row.data[j] is not None
        ]
        # One worker-thread hop per lane (self.lanes of them at most), not per file:
        # each hop costs the loop a task, a future and a wake-up, all under the GIL,
        # while a save (hashing, writing) mostly runs without it. The lanes take the
        # next file from one shared queue, so they finish within a file of each other
        # (files dealt out in advance left one lane working alone at a batch's end).
        queue = iter(range(len(saves)))
        outcomes: list[Any] = [None] * len(saves)
        lanes = min(len(saves), self.lanes)
        spent: list[tuple[float, float]] = []  # each lane's thread CPU time and wall time
        async with anyio.create_task_group() as tg:
            for _ in range(lanes):
                tg.start_soon(self._lane, saves, queue, outcomes, spent)
        if spent and len(spent) == lanes:  # every lane finished: a whole batch to judge
            # Timed inside the threads: the hops to them and back are neither CPU nor a
            # wait on storage (with small files they would pass for waits). The lanes run
            # at once, so the batch lasted as long as the longest.
            cpu = sum(cpu for cpu, _ in spent)
            wall = max(wall for _, wall in spent)
            self.lanes = next_lanes(cpu, wall, lanes, self.cores, self.max_concurrent_saves)
        for (i, j, _), outcome in zip(saves, outcomes, strict=True):
            if isinstance(outcome, Exception):
                failed[i] = outcome
            else:
                saved[i, j] = outcome
        return saved, failed

    async def _lane(
        self,
        saves: list[tuple[int, int, Any]],
        queue: Iterator[int],
        outcomes: list[Any],
        spent: list[tuple[float, float]],
    ) -> None:
        """Save files taken from ``queue`` (indexes into ``saves``) in a worker thread until
        it is empty, noting each one's outcome, and the thread's CPU and wall time in
        ``spent``."""
        await anyio.to_thread.run_sync(
            self._save_from,
            saves,
            queue,
            outcomes,
            spent,
            limiter=self._limiter,
            abandon_on_cancel=True,
        )

    def _save_from(
        self,
        saves: list[tuple[int, int, Any]],
        queue: Iterator[int],
        outcomes: list[Any],
        spent: list[tuple[float, float]],
    ) -> None:
        started, cpu_started = time.perf_counter(), time.thread_time()
        # next() on a range iterator is one step under the GIL: each index goes to one lane
        for index in queue:
            _, j, value = saves[index]
            try:
                outcomes[index] = self.save(value, j)
            except Exception as exc:
                outcomes[index] = exc
        spent.append((time.thread_time() - cpu_started, time.perf_counter() - started))


def write_atomically(path: Path, data: bytes, *, disk: Disk, fsync: bool) -> None:
    """Create or replace ``path`` with ``data``: written to a temporary name, then renamed.

    A reader sees the old content or the new, never part of it. The folder is created
    if needed; a folder that is a symlink is refused.

    :raises FlagValueError: if the folder is not a real directory
    :raises OSError: if the disk refuses the write
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    if directory.is_symlink() or not directory.is_dir():
        raise FlagValueError(
            f"refusing to write into {str(directory)!r}: it is not a real directory"
        )
    temp = directory / f".{secrets.token_hex(8)}.tmp"
    try:
        disk.write_file(temp, [data], fsync=fsync)
        disk.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if fsync:
        disk.fsync_directory(directory)


def fsync_directory(directory: Path) -> None:
    """Make a new or renamed entry of ``directory`` durable (with the plain :class:`Disk`)."""
    Disk().fsync_directory(directory)
