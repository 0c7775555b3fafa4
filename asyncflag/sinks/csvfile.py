"""The built-in sinks: CSV loggers, and the formatting of their rows.

:class:`RowFormatter` turns rows into CSV text (a column at a time, escaping through
:mod:`asyncflag.escaping`). :class:`CSVLogger` and :class:`SimpleCSVLogger` put the
parts together: files saved by a :class:`~asyncflag.sinks.storage.FileStore`, rows
formatted, and appended to a :class:`~asyncflag.sinks.datasets.Dataset`, which picks
the file, rotates it and holds the locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

import anyio

from ..checks import one_of, positive_int
from ..components import Component, component_from
from ..errors import FlagValueError, as_write_error
from ..escaping import escape_many, escape_optionals
from ..events import FlagRow
from .base import FlaggingCallback, RowResult
from .datasets import (
    METADATA_COLUMNS,
    SIMPLE_LOG_NAME,
    Dataset,
    DatasetSchema,
    continued_metadata,
    latest_dataset,
)
from .disk import Disk
from .records import csv_records, read_header
from .storage import FileSaver, FileStore

__all__ = ["CSVLogger", "Durability", "RowFormatter", "SimpleCSVLogger", "timestamp_cells"]

Durability = Literal["flush", "fsync"]


def timestamp_cells(stamps: Sequence[datetime | None]) -> list[str]:
    """The cells of a batch's timestamps: each ``stamp.isoformat()``, ``""`` for ``None``.

    A UTC timestamp (what an interface stamps rows with) is written from its second's
    text, formatted once for all the stamps of that second, and its microseconds: the
    same text as ``isoformat()`` at a third of its cost. Any other stamp (naive, another
    zone, a subclass, a whole second) goes through ``isoformat()`` itself.
    """
    global _last_second
    cells: list[str] = []
    append = cells.append
    # the second the last batch ended in: a batch of a few rows (a single flag) usually
    # falls in it, and its text is not made again
    low, high, template = _last_second
    for stamp in stamps:
        if type(stamp) is datetime and stamp.tzinfo is UTC:
            micro = stamp.microsecond
            if micro:  # isoformat() leaves out the fraction of a whole second
                if low is None or high is None or not low <= stamp < high:
                    low = stamp.replace(microsecond=0)
                    high = low + _ONE_SECOND
                    # "2026-11-25T19:40:12+00:00" -> "2026-11-25T19:40:12.%06d+00:00"
                    template = low.isoformat()[:-6].replace("%", "%%") + ".%06d+00:00"
                append(template % micro)
                continue
        append(stamp.isoformat() if stamp is not None else "")
    if low is not None and high is not None:
        _last_second = (low, high, template)  # one assignment: safe between threads
    return cells


_ONE_SECOND = timedelta(seconds=1)

#: the UTC second :func:`timestamp_cells` formatted last: its start, its end, its template
_last_second: tuple[datetime | None, datetime | None, str] = (None, None, "")


class RowFormatter:
    """The CSV text of rows for one list of components: values, then the flag option,
    the username and the timestamp.

    :param components: the components whose values make the first columns
    :param metadata: the metadata columns to write after the values: all three
        (asyncflag's layout), or those of a dataset file Gradio started (``timestamp``,
        ``flag, timestamp`` or ``username, timestamp``: see :data:`GRADIO_METADATA`)
    """

    def __init__(
        self, components: Sequence[Component], metadata: Sequence[str] = METADATA_COLUMNS
    ) -> None:
        self.components = list(components)
        #: the metadata columns written after the values
        self.metadata = tuple(metadata)
        self._flag = "flag" in self.metadata
        self._username = "username" in self.metadata
        #: the column labels (a component without a label is ``component <i>``)
        self.columns = [c.label or f"component {i}" for i, c in enumerate(self.components)]
        #: the indexes of the columns whose cells name saved files
        self.file_columns = [i for i, c in enumerate(self.components) if c.holds_files]

    def header_cells(self) -> list[str]:
        """The header record's cells, escaped."""
        return escape_many([*self.columns, *self.metadata])

    def fits(self, row: FlagRow) -> bool:
        """Whether these columns hold the row's flag option and username (a file Gradio
        started without a ``flag`` or ``username`` column does not hold one)."""
        return (row.option is None or self._flag) and (row.username is None or self._username)

    def header(self) -> bytes:
        """The header record, encoded."""
        return csv_records([[cell] for cell in self.header_cells()]).encode("utf-8")

    def schema(self) -> DatasetSchema:
        """The component types of these columns, to record beside a dataset file."""
        return DatasetSchema.of(self.columns, self.components)

    def format(self, rows: Sequence[FlagRow], datas: Sequence[tuple[Any, ...]]) -> str:
        """CSV text for rows, built a column at a time: one tight loop per component.

        :param datas: the values of each row (file values replaced by their paths)
        :raises FlagValueError: if a row has another number of values than components
        """
        width = len(self.components)
        # The width is checked at the call; this catches a row that skipped it (a direct
        # flag_batch call), and only then is the row named.
        if datas and set(map(len, datas)) != {width}:
            for data in datas:
                if len(data) != width:
                    raise FlagValueError(f"expected {width} values, got {len(data)}")
        # A column at a time, each taken with an itemgetter: zip(*datas) would make an
        # iterator per row, objects the cycle collector tracks, thousands alive at once
        # (enough to set off its collections, in which they outlive the batch).
        columns = [
            component.to_cells(list(map(itemgetter(j), datas)))
            for j, component in enumerate(self.components)
        ]
        metadata = []
        if self._flag:
            metadata.append(escape_optionals([r.option for r in rows]))
        if self._username:
            metadata.append(escape_optionals([r.username for r in rows]))
        metadata.append(timestamp_cells([r.timestamp for r in rows]))
        return csv_records([*columns, *metadata])

    def encode(
        self,
        rows: Sequence[FlagRow],
        saved: dict[tuple[int, int], Any],
        failed: dict[int, Exception],
    ) -> tuple[list[RowResult], list[int], bytes]:
        """The CSV bytes of the rows that can be written, which rows those are, and why
        the others cannot be (in the results).

        :param saved: each value holding files, with their saved paths, by (row, column)
        :param failed: why a row's file could not be saved, by row
        """
        results: list[RowResult] = [0] * len(rows)
        for i, exc in failed.items():
            results[i] = as_write_error(exc)
        good = [i for i in range(len(rows)) if i not in failed] if failed else range(len(rows))
        kept = [rows[i] for i in good] if failed else rows
        datas = [row.data for row in kept]
        if self.file_columns:
            datas = [
                tuple([saved.get((i, j), v) for j, v in enumerate(data)])
                for i, data in zip(good, datas, strict=True)
            ]
        try:
            data = self.format(kept, datas).encode("utf-8")
            written = list(good)
        except Exception:
            # Values are checked at the call, so this is rare: find the rows at fault.
            parts: list[bytes] = []
            written = []
            for i, row_data in zip(good, datas, strict=True):
                try:
                    parts.append(self.format([rows[i]], [row_data]).encode("utf-8"))
                    written.append(i)
                except Exception as exc:
                    results[i] = as_write_error(exc)
            data = b"".join(parts)
        return results, written, data


class _CSVFileLogger(FlaggingCallback):
    """What the two CSV loggers share: file saves, batching, the write policy.

    The locks and their order are :class:`~asyncflag.sinks.datasets.Dataset`'s.
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
        self.durability: Durability = one_of("durability", durability, ("flush", "fsync"))
        positive_int("max_concurrent_saves", max_concurrent_saves)
        self.disk = disk or Disk()
        self._max_concurrent_saves = max_concurrent_saves
        self._saver = FileSaver(FileStore(Path("flagged")), [], [], max_concurrent_saves)
        self._dataset: Dataset | None = None
        self.components: list[Component] = []
        self.flagging_dir = Path("flagged")
        self._formatter = RowFormatter([])
        self.columns = self._formatter.columns

    def setup(self, components: Sequence[Component | str], flagging_dir: str | Path) -> None:
        """Remember where rows go. Nothing is created on disk until the first row."""
        self.close()
        self.components = [component_from(c) for c in components]
        self.flagging_dir = Path(flagging_dir)
        self._formatter = RowFormatter(self.components)
        self.columns = self._formatter.columns
        metadata = self._continued_metadata()
        if metadata != self._formatter.metadata:
            self._formatter = RowFormatter(self.components, metadata)
        fsync = self.durability == "fsync"
        self._saver = FileSaver(
            FileStore(self.flagging_dir, fsync=fsync, disk=self.disk),
            self.components,
            self.columns,
            self._max_concurrent_saves,
        )
        self._dataset = self._new_dataset()

    def _new_dataset(self) -> Dataset:
        """The dataset rows formatted by the current formatter go to (opened on use)."""
        return Dataset(
            lambda: self._choose_path(),  # looked up per call: a test may replace it
            self._header(),
            self._formatter.schema(),
            fsync=self.durability == "fsync",
            disk=self.disk,
        )

    def _header(self) -> bytes:
        """The header a new file starts with, and an existing one must start with."""
        return self._formatter.header() if self._with_header else b""

    def _continued_metadata(self) -> tuple[str, ...]:
        """The metadata columns rows are written with (all three, but see CSVLogger)."""
        return METADATA_COLUMNS

    def _fit(self, rows: Sequence[FlagRow]) -> None:
        """Move on to the next dataset file, with all three metadata columns, before
        writing a row with a flag option or username that the continued Gradio file has
        no column for (nothing is dropped; later rows go there too)."""
        if self._formatter.metadata == METADATA_COLUMNS:
            return
        if all(self._formatter.fits(row) for row in rows):
            return
        self._formatter = RowFormatter(self.components)
        old, self._dataset = self._dataset, self._new_dataset()
        if old is not None:
            old.close()

    @property
    def dataset_path(self) -> Path | None:
        """The file rows are appended to, once the first row opened it."""
        return self._dataset.path if self._dataset else None

    def open_dataset(self) -> tuple[Path, int]:
        """Open the dataset file now (repairing a torn tail); return it and its data rows.

        Blocking. The stream consumer uses it to know where a schema's rows go, and how
        many are there already, before writing any.
        """
        return self._ready().open()

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
        self._fit([row])
        saved: dict[tuple[int, int], Any] = {}
        for j in self._formatter.file_columns:
            if data[j] is not None:
                saved[0, j] = self._save(data[j], j)
        results, written, encoded = self._formatter.encode([row], saved, {})
        if written:
            self._commit(encoded, written, results)
        result = results[0]
        if isinstance(result, Exception):
            raise result
        return result

    async def flag_batch(self, rows: Sequence[FlagRow]) -> list[RowResult]:
        """Save the rows' files concurrently, then append every row with one write."""
        self._fit(rows)
        saved, failed = await self._saver.save_batch(rows)
        # Formatting is pure Python and holds the GIL wherever it runs, so it runs here;
        # only the write, which can wait on the disk, goes to a worker thread.
        results, written, data = self._formatter.encode(rows, saved, failed)
        if not written:
            return results
        # A short write handed to the OS costs less than a hop to a worker thread and
        # back; made here only when it need not wait for either lock.
        if len(data) <= self.inline_write_bytes:
            before = self._ready().try_append(data, len(written))
            if before is not None:
                _fill_counts(results, written, before)
                return results
        await anyio.to_thread.run_sync(self._commit, data, written, results, abandon_on_cancel=True)
        return results

    def _save(self, value: Any, column: int) -> Any:
        """Save the files of a value; the value with their saved paths, for its cell."""
        return self._saver.save(value, column)

    def _commit(self, data: bytes, written: list[int], results: list[RowResult]) -> None:
        """Append encoded rows and fill in their counts (blocking)."""
        _fill_counts(results, written, self._ready().append(data, len(written)))

    def _ready(self) -> Dataset:
        if self._dataset is None:
            raise FlagValueError(
                f"{type(self).__name__} has no dataset yet: call setup(components, "
                "flagging_dir) first (an Interface does)"
            )
        return self._dataset

    def _choose_path(self) -> Path:
        raise NotImplementedError

    def close(self) -> None:
        """Close the dataset file; the next row opens it again."""
        if self._dataset is not None:
            self._dataset.close()


def _fill_counts(results: list[RowResult], written: list[int], before: int) -> None:
    if len(written) == len(results):  # every row written: their counts in one go
        results[:] = range(before + 1, before + 1 + len(results))
        return
    for k, i in enumerate(written, start=1):
        results[i] = before + k


class CSVLogger(_CSVFileLogger):
    """Logs rows to ``flagging_dir/datasetN.csv``, with a header, as Gradio 5 does.

    Identical labels append to the latest dataset file and continue its count;
    changed labels start the next file. The component types of a dataset file are
    recorded beside it, in ``flagging_dir/.asyncflag/datasetN.schema.json``: the same
    labels with other types (a Textbox where the file has an Image) also start the next
    file. A dataset file without that record (older folders, folders Gradio wrote) is
    continued when its labels match, and the record is written then. Files are saved
    under ``flagging_dir/<label>/``, named by their content.

    Gradio 5/6's ``CSVLogger`` writes a ``flag`` column only when the first flag had an
    option, and a ``username`` column only when it had a username
    (``x,output,timestamp``). Such a latest file with these labels is continued in its
    own layout: the rows appended have exactly its columns (none its header lacks), and
    the count goes on from its rows. The first row with a flag option or a username the
    file has no column for is not squeezed in and not dropped: it starts the next
    ``datasetN.csv``, with all three metadata columns, and the rows after it go there
    too (as Gradio itself starts a new file when its header changes).

    A dataset file deleted, emptied or replaced while the logger runs is noticed before
    the next batch: it is created again with its header (or the replacement's rows are
    counted), and the count ``flag`` returns is always the row's place in the file it
    went to, so it starts over in a file created again.

    :param durability: ``"flush"`` hands each batch to the OS; ``"fsync"`` also
        waits until it is on the disk
    :param max_concurrent_saves: the most file saves at once: as many as the cores
        while saves keep them busy, up to this many while they wait on storage
    :param disk: the file operations to use; pass a :class:`~asyncflag.Disk` subclass to
        inject faults in tests
    :param continue_gradio: continue a dataset file Gradio started in its own layout
        (above); ``False`` always writes all three metadata columns (a Gradio file with
        fewer is then left as it is and the next ``datasetN.csv`` started)
    """

    def __init__(
        self,
        *,
        durability: Durability = "flush",
        max_concurrent_saves: int = 8,
        disk: Disk | None = None,
        continue_gradio: bool = True,
    ) -> None:
        super().__init__(
            durability=durability, max_concurrent_saves=max_concurrent_saves, disk=disk
        )
        self.continue_gradio = continue_gradio

    def _choose_path(self) -> Path:
        return latest_dataset(self.flagging_dir, self._formatter.header_cells())

    def _continued_metadata(self) -> tuple[str, ...]:
        """A dataset file Gradio started with these labels is continued in its layout."""
        if not self.continue_gradio:
            return METADATA_COLUMNS
        return continued_metadata(self.flagging_dir, escape_many(self.columns))


class SimpleCSVLogger(_CSVFileLogger):
    """Logs rows to ``flagging_dir/log.csv``, with no header, as Gradio's simple logger.

    Each row is the values, the flag option, the username and the timestamp. A
    ``log.csv`` Gradio 4's ``CSVLogger`` started (a header of these labels, then
    ``flag, username, timestamp``) is continued under its header, and the count
    ``flag`` returns leaves the header out.
    """

    _with_header = False

    def _choose_path(self) -> Path:
        return self.flagging_dir / SIMPLE_LOG_NAME

    def _header(self) -> bytes:
        """Gradio 4's header if ``log.csv`` starts with it for these labels, else none."""
        path = self.flagging_dir / SIMPLE_LOG_NAME
        try:
            first = read_header(path) if path.is_file() and not path.is_symlink() else None
        except (OSError, ValueError):  # unreadable: the logger's own checks report it on use
            return b""
        return self._formatter.header() if first == self._formatter.header_cells() else b""
