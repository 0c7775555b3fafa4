"""The dataset files of a flagging directory: naming, schema records, rotation, locks.

A flagging directory holds ``dataset1.csv``, ``dataset2.csv``... (or the ``log.csv``
of :class:`~asyncflag.SimpleCSVLogger`), and beside each dataset file, in
``.asyncflag/datasetN.schema.json``, the component types that wrote its columns, and in
``.asyncflag/datasetN.rows.json`` its row count (:mod:`asyncflag.sinks.rowcount`).
:class:`Dataset` is the file a logger appends to: it picks it, moves on to the next
number when the file at the path belongs to other labels or types, and is the one
place that takes the two locks, in one order.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from ..components import Component
from ..errors import FlagValueError
from .appendfile import AppendOnlyFile, OtherDatasetError
from .disk import Disk
from .records import read_header
from .storage import write_atomically

__all__ = [
    "GRADIO_METADATA",
    "METADATA_COLUMNS",
    "SIMPLE_LOG_NAME",
    "STATE_DIR",
    "ColumnType",
    "Dataset",
    "DatasetSchema",
    "SchemaSidecar",
    "continued_metadata",
    "dataset_files",
    "dataset_name",
    "latest_dataset",
    "next_dataset",
    "read_schema",
    "rows_path",
    "schema_path",
]

#: the columns every row ends with, after the component values
METADATA_COLUMNS = ("flag", "username", "timestamp")
#: the metadata columns other than :data:`METADATA_COLUMNS` a dataset file Gradio 5/6's
#: ``CSVLogger`` started ends with: it writes ``flag`` only when the first flag had an
#: option and ``username`` only when it had a username
GRADIO_METADATA = (("timestamp",), ("flag", "timestamp"), ("username", "timestamp"))
#: the one file of :class:`~asyncflag.SimpleCSVLogger`
SIMPLE_LOG_NAME = "log.csv"
#: the folder of a flagging directory that holds asyncflag's own state
STATE_DIR = ".asyncflag"
_DATASET_NAME = re.compile(r"^dataset(\d+)\.csv$")


def dataset_name(number: int) -> str:
    """The file name of dataset ``number``: ``dataset<number>.csv``."""
    return f"dataset{number}.csv"


def dataset_files(flagging_dir: Path) -> list[tuple[int, Path]]:
    """The ``datasetN.csv`` files of a directory, by ``N``.

    A symlink is not a dataset file: nothing is read or written through one.
    """
    try:
        entries = list(flagging_dir.iterdir())
    except FileNotFoundError:
        return []
    found = []
    for entry in entries:
        match = _DATASET_NAME.match(entry.name)
        if match and entry.is_file() and not entry.is_symlink():
            found.append((int(match.group(1)), entry))
    return sorted(found)


def latest_dataset(flagging_dir: Path, header: Sequence[str]) -> Path:
    """The dataset file that rows with this header go to: the latest one if its header
    is this one (or it has no whole header yet), else the next number.

    Its schema record is checked only when it is opened, under its lock.
    """
    existing = dataset_files(flagging_dir)
    if not existing:
        return flagging_dir / dataset_name(1)
    number, latest = existing[-1]
    found = read_header(latest)
    if found is None or found == list(header):
        return latest
    return flagging_dir / dataset_name(number + 1)


def continued_metadata(flagging_dir: Path, escaped_labels: Sequence[str]) -> tuple[str, ...]:
    """The metadata columns to write rows with these labels with: those of the latest
    dataset file if Gradio started it with these labels and fewer metadata columns
    (:data:`GRADIO_METADATA`), so that the file is continued in its own layout; else
    all three (:data:`METADATA_COLUMNS`).

    :param escaped_labels: the labels as the header holds them (escaped)
    """
    existing = dataset_files(flagging_dir)
    try:
        header = read_header(existing[-1][1]) if existing else None
    except (OSError, ValueError):  # unreadable: the logger's own checks report it on use
        return METADATA_COLUMNS
    if header is not None:
        for metadata in GRADIO_METADATA:
            if header == [*escaped_labels, *metadata]:
                return metadata
    return METADATA_COLUMNS


def next_dataset(path: Path, why: str = "has other column labels") -> Path:
    """The dataset file after ``path``, which ``why`` keeps from being continued.

    :raises FlagValueError: if ``path`` is not a ``datasetN.csv`` (a fixed file name,
        such as ``log.csv``, cannot move on)
    """
    match = _DATASET_NAME.fullmatch(path.name)
    if match is None:
        raise FlagValueError(
            f"{path} {why} than this interface's; a fixed file name cannot move on to a "
            "next file: use another flagging_dir (or CSVLogger, which starts datasetN.csv)"
        )
    return path.with_name(dataset_name(int(match.group(1)) + 1))


class ColumnType(msgspec.Struct, frozen=True):
    """One column of a dataset's schema file: its label and its component's type name."""

    label: str
    type: str
    #: the cells name saved files (an Image, Audio, File or Gallery component)
    file: bool = False


class DatasetSchema(msgspec.Struct, frozen=True):
    """What ``.asyncflag/<dataset>.schema.json`` records beside a dataset file.

    The header of a dataset file holds labels only; this records which component
    wrote each column, so that a text column is never continued as an image column.
    """

    columns: list[ColumnType]

    @property
    def types(self) -> list[str]:
        """The component type names, column by column."""
        return [column.type for column in self.columns]

    @classmethod
    def of(cls, labels: Sequence[str], components: Sequence[Component]) -> DatasetSchema:
        """The schema of the columns ``components`` write under ``labels``."""
        return cls(
            [
                ColumnType(label, type(component).__name__, component.holds_files)
                for label, component in zip(labels, components, strict=True)
            ]
        )


def schema_path(dataset: Path) -> Path:
    """Where the schema of a dataset file is kept: ``.asyncflag/<stem>.schema.json``."""
    return dataset.parent / STATE_DIR / f"{dataset.stem}.schema.json"


def rows_path(dataset: Path) -> Path:
    """Where the row count of a dataset file is kept: ``.asyncflag/<stem>.rows.json``
    (:mod:`asyncflag.sinks.rowcount`)."""
    return dataset.parent / STATE_DIR / f"{dataset.stem}.rows.json"


def read_schema(dataset: Path) -> DatasetSchema | None:
    """The schema recorded beside ``dataset``, or ``None`` if there is none.

    :raises ValueError: if the schema file is there but cannot be read, or is not one
        asyncflag wrote
    """
    try:
        data = schema_path(dataset).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:  # a directory, no permission...
        raise ValueError(f"cannot read {schema_path(dataset)}: {exc.strerror}") from None
    try:
        return msgspec.json.decode(data, type=DatasetSchema)
    except msgspec.DecodeError as exc:
        raise ValueError(f"{schema_path(dataset)} is not a schema file: {exc}") from None


class SchemaSidecar:
    """Records a :class:`DatasetSchema` beside a dataset file, or checks the one there.

    :param schema: the component types of the rows to append
    :param disk: the file operations to write it with
    :param fsync: make the record durable
    """

    def __init__(self, schema: DatasetSchema, *, disk: Disk, fsync: bool) -> None:
        self.schema = schema
        self.disk = disk
        self.fsync = fsync

    def record(self, path: Path) -> None:
        """Write the schema beside ``path`` (replacing any there)."""
        write_atomically(
            schema_path(path), msgspec.json.encode(self.schema), disk=self.disk, fsync=self.fsync
        )

    def check(self, path: Path) -> None:
        """Refuse a file whose recorded component types are not ours; record them for a
        file that has no schema yet (older folders, folders Gradio wrote).

        :raises OtherDatasetError: if the file was started by other component types, or
            its schema file cannot be read
        """
        try:
            recorded = read_schema(path)
        except ValueError:
            raise OtherDatasetError(path, "has an unreadable schema file") from None
        if recorded is None:
            self.record(path)
        elif recorded.types != self.schema.types:
            raise OtherDatasetError(
                path,
                f"was started by other component types ({recorded.types}, not {self.schema.types})",
            )


class Dataset:
    """The dataset file one logger appends to, opened on first use, and its locks.

    The file is the one ``choose()`` names. A file started with other labels, or whose
    schema file records other component types (a text column where these rows have an
    image), is not appended to: the next dataset number is taken, when the file is
    opened and whenever the file at the path is found replaced by such a one.

    Lock order, the only one in asyncflag: a thread lock first (one append at a time
    in this process; the open file does not change under it), then the file's
    ``flock`` (one append at a time across processes). Every blocking method takes them
    in that order; :meth:`try_append` only *tries* both, in the same order, so the event
    loop never waits on a thread.

    :param choose: names the file to open (called when one is needed)
    :param header: the CSV header bytes a new file starts with (``b""``: none)
    :param schema: the component types recorded beside the file
    :param fsync: fsync each append (and new files' folders)
    :param disk: the file operations to use
    """

    def __init__(
        self,
        choose: Callable[[], Path],
        header: bytes,
        schema: DatasetSchema,
        *,
        fsync: bool,
        disk: Disk,
    ) -> None:
        self._choose = choose
        self.header = header
        self.fsync = fsync
        self.disk = disk
        self._sidecar = SchemaSidecar(schema, disk=disk, fsync=fsync)
        # Re-entrant: try_append holds it while it appends.
        self._lock = threading.RLock()
        self._file: AppendOnlyFile | None = None

    @property
    def path(self) -> Path | None:
        """The file rows are appended to, once it is open."""
        file = self._file
        return file.path if file else None

    def open(self) -> tuple[Path, int]:
        """Open the file now if it is not (repairing a torn tail); return it and its data
        rows. Blocking."""
        with self._lock:
            file = self._file or self._open()
            return file.path, file.rows

    def append(self, data: bytes, count: int) -> int:
        """Append ``count`` encoded rows; return the row count before them. Blocking."""
        return self._append(data, count, locked=False)

    def try_append(self, data: bytes, count: int) -> int | None:
        """Append now, without waiting, or return ``None`` and append nothing.

        Appends only if the file is open, not fsync'ed, both locks are free and the file
        at the path is still the open one: anything else is left to :meth:`append` in a
        worker thread.
        """
        if not self._lock.acquire(blocking=False):
            return None
        try:
            file = self._file
            if file is None or file.fsync or not file.try_lock():
                return None
            try:
                return self._append(data, count, locked=True)
            finally:
                file.unlock()
        finally:
            self._lock.release()

    def _append(self, data: bytes, count: int, *, locked: bool) -> int:
        """:param locked: the caller holds the open file's ``flock`` already"""
        with self._lock:
            file = self._file or self._open()
            try:
                return file.append(data, count, locked=locked)
            except OtherDatasetError as exc:
                # The file at the path was replaced by one of another schema (or by a
                # symlink): nothing was written; the rows go to the next dataset file.
                file.close()
                self._file = None
                return self._open(next_dataset(exc.path, exc.why)).append(data, count)

    def _open(self, path: Path | None = None) -> AppendOnlyFile:
        """Open ``path`` (else the chosen file), moving on past files of other schemas."""
        path = path or self._choose()
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                self._file = AppendOnlyFile(
                    path,
                    self.header,
                    fsync=self.fsync,
                    disk=self.disk,
                    sidecar=self._sidecar,
                    count_path=rows_path(path),
                )
                return self._file
            except OtherDatasetError as exc:
                # Another process started this file with other labels or types (maybe
                # between our look and our lock): take the next dataset number instead.
                path = next_dataset(path, exc.why)

    def close(self) -> None:
        """Close the open file; the next append opens one again."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
