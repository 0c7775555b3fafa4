"""The files of a flagging directory: naming, scanning for whole rows, reading back.

Row boundaries are found without parsing fields: every record the ``csv`` module
writes ends with a line terminator at which the number of ``"`` characters seen
since the record started is even (quotes inside fields are doubled). That makes
counting rows, finding a torn tail and catching up on appended bytes a byte scan.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

from .components import Component
from .errors import FlagValueError, UnsafePathError
from .escaping import unescape

__all__ = [
    "FlaggedRow",
    "METADATA_COLUMNS",
    "dataset_files",
    "load_flagged",
    "read_header",
    "read_schema",
    "scan_records",
    "schema_path",
]

#: the columns every row ends with, after the component values
METADATA_COLUMNS = ("flag", "username", "timestamp")
SIMPLE_LOG_NAME = "log.csv"
_DATASET_NAME = re.compile(r"^dataset(\d+)\.csv$")


def dataset_name(number: int) -> str:
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


#: the folder of a flagging directory that holds asyncflag's own state
STATE_DIR = ".asyncflag"


class ColumnType(msgspec.Struct, frozen=True):
    """One column of a dataset's schema file: its label and its component's type name."""

    label: str
    type: str
    #: the cells are paths of saved files (an Image, Audio or File component)
    file: bool = False


class DatasetSchema(msgspec.Struct, frozen=True):
    """What ``.asyncflag/<dataset>.schema.json`` records beside a dataset file.

    The header of a dataset file holds labels only; this records which component
    wrote each column, so that a text column is never continued as an image column.
    """

    columns: list[ColumnType]

    @property
    def types(self) -> list[str]:
        return [column.type for column in self.columns]


def schema_path(dataset: Path) -> Path:
    """Where the schema of a dataset file is kept: ``.asyncflag/<stem>.schema.json``."""
    return dataset.parent / STATE_DIR / f"{dataset.stem}.schema.json"


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


def record_ends(data: bytes) -> Iterator[int]:
    """The offsets just past each whole record in ``data``, in order."""
    quotes = 0
    position = 0
    for line in data.splitlines(keepends=True):
        position += len(line)
        quotes += line.count(b'"')
        if quotes % 2 == 0 and line.endswith(b"\n"):
            yield position
            quotes = 0


def scan_records(data: bytes) -> tuple[int, int]:
    """Count the whole records in ``data``.

    :return: ``(records, end)``: ``data[:end]`` holds exactly ``records`` whole
        records and ``data[end:]`` is an unfinished (torn) tail, usually empty
    """
    records = 0
    end = 0
    for end in record_ends(data):  # noqa: B007 - the last value is the answer
        records += 1
    return records, end


def read_header(path: Path) -> list[str] | None:
    """The first record of a CSV file, or ``None`` if it has no whole first record."""
    head = b""
    with path.open("rb") as file:
        while not (end := first_record_end(head)):
            more = file.read(1 << 16)
            if not more:
                return None
            head += more
    _allow_any_field_size()
    return next(csv.reader(io.StringIO(head[:end].decode("utf-8"), newline="")))


def _allow_any_field_size() -> None:
    """Lift the csv module's 128 KiB cell limit: a long text or JSON value must read back.

    The limit is process-wide; it is only ever raised here, never lowered.
    """
    if csv.field_size_limit() < _FIELD_SIZE_LIMIT:
        csv.field_size_limit(_FIELD_SIZE_LIMIT)


_FIELD_SIZE_LIMIT = 2**31 - 1


def first_record_end(data: bytes) -> int:
    """The offset just past the first whole record in ``data``, or 0 if there is none."""
    return next(record_ends(data), 0)


class FlaggedRow(msgspec.Struct, frozen=True):
    """One row read back from a flagging directory by :func:`load_flagged`."""

    #: the component values, decoded (inputs then outputs)
    values: tuple[Any, ...]
    #: the column labels of those values
    labels: tuple[str, ...]
    flag: str | None
    username: str | None
    timestamp: datetime | None
    #: the dataset file the row is in
    file: str


def load_flagged(
    flagging_dir: str | Path,
    components: Sequence[Component | str] | None = None,
    *,
    unsafe_paths: Literal["raise", "skip"] = "raise",
) -> list[FlaggedRow]:
    """Read back every row of a flagging directory.

    Rows come from ``dataset1.csv``, ``dataset2.csv``... in order, then from the
    ``log.csv`` of :class:`~asyncflag.SimpleCSVLogger`. With ``components``, the
    first ``len(components)`` values of each row are decoded by them (numbers,
    booleans, JSON, absolute paths of saved files); other values stay strings.

    A file column only ever yields paths inside ``flagging_dir``: a cell that is
    absolute, climbs out with ``..``, holds a NUL byte or leads out through a symlink
    (an edited dataset, or text appended under the same labels by an older version)
    raises :class:`~asyncflag.errors.UnsafePathError` naming the file, row and column.
    So does a dataset file whose schema file (``.asyncflag/<dataset>.schema.json``)
    shows that a column decoded here as files was written by another component (a
    Textbox under the same label): its cells are not saved files.

    :param unsafe_paths: ``"skip"`` leaves such rows (and such dataset files) out
        instead of raising
    :raises UnsafePathError: for a file cell naming a path outside ``flagging_dir``
    :raises FlagValueError: if a file has fewer value columns than ``components``,
        or ``log.csv`` is read without components
    """
    if unsafe_paths not in ("raise", "skip"):
        raise FlagValueError(f"unsafe_paths must be 'raise' or 'skip', got {unsafe_paths!r}")
    from .components import component_from

    root = Path(flagging_dir)
    decoders = [component_from(c) for c in components] if components is not None else None
    rows: list[FlaggedRow] = []
    for _, path in dataset_files(root):
        if decoders and not _files_where_expected(path, decoders, unsafe_paths):
            continue
        records = _read_records(path)
        if not records:
            continue
        header = [unescape(cell) for cell in records[0]]
        labels = tuple(header[: len(header) - len(METADATA_COLUMNS)])
        rows.extend(_decode(records[1:], labels, decoders, root, path, unsafe_paths))
    log = root / SIMPLE_LOG_NAME
    if (
        log.is_file()
        and not log.is_symlink()
        and (not decoders or _files_where_expected(log, decoders, unsafe_paths))
        and (records := _read_records(log))
    ):
        width = len(records[0]) - len(METADATA_COLUMNS)
        labels = tuple(
            (decoders[i].label if decoders and i < len(decoders) else None) or f"component {i}"
            for i in range(width)
        )
        rows.extend(_decode(records, labels, decoders, root, log, unsafe_paths))
    return rows


def _files_where_expected(path: Path, decoders: list[Component], unsafe_paths: str) -> bool:
    """Whether the columns to decode as files were written by file components, as far as
    the dataset's schema file tells (a file without one, or with an unreadable one, is
    read: its cells are still confined to the flagging directory).

    :raises UnsafePathError: if not, unless ``unsafe_paths`` is ``"skip"`` (then False)
    """
    from .components import FileComponent

    try:
        schema = read_schema(path)
    except ValueError:
        return True
    if schema is None:
        return True
    for decoder, column in zip(decoders, schema.columns, strict=False):
        if isinstance(decoder, FileComponent) and not column.file:
            if unsafe_paths == "skip":
                return False
            raise UnsafePathError(
                f"{path.name}, column {column.label!r}: the column was written by a "
                f"{column.type} component, not by a file component like the "
                f"{type(decoder).__name__} given, so its cells are not saved files; pass "
                "unsafe_paths='skip' to leave such files out",
                file=str(path),
                column=column.label,
            )
    return True


def _read_records(path: Path) -> list[list[str]]:
    _allow_any_field_size()
    data = path.read_bytes()
    _, end = scan_records(data)
    return list(csv.reader(io.StringIO(data[:end].decode("utf-8"), newline="")))


def _decode(
    records: list[list[str]],
    labels: tuple[str, ...],
    decoders: list[Component] | None,
    root: Path,
    path: Path,
    unsafe_paths: str,
) -> list[FlaggedRow]:
    width = len(labels)
    if decoders is not None and len(decoders) > width:
        raise FlagValueError(
            f"{path.name} has {width} value columns, "
            f"fewer than the {len(decoders)} components given"
        )
    rows = []
    for number, record in enumerate(records, start=1):
        cells = record[:width]
        if decoders is None:
            values = tuple(unescape(cell) for cell in cells)
        else:
            decoded: list[Any] = []
            for i, cell in enumerate(cells):
                if i >= len(decoders):
                    decoded.append(unescape(cell))
                    continue
                try:
                    decoded.append(decoders[i].from_cell(cell, root))
                except UnsafePathError as exc:
                    if unsafe_paths == "skip":
                        break
                    raise UnsafePathError(
                        f"{path.name}, row {number}, column {labels[i]!r}: {exc}; pass "
                        "unsafe_paths='skip' to leave such rows out",
                        file=str(path),
                        row=number,
                        column=labels[i],
                    ) from None
            if len(decoded) < len(cells):
                continue  # skipped: a file cell outside the flagging directory
            values = tuple(decoded)
        meta = record[width : width + 3]
        flag, username, stamp = meta + [""] * (3 - len(meta))
        rows.append(
            FlaggedRow(
                values=values,
                labels=labels,
                # an empty cell is None; "" was written as a lone apostrophe
                flag=unescape(flag) if flag else None,
                username=unescape(username) if username else None,
                timestamp=datetime.fromisoformat(stamp) if stamp else None,
                file=str(path),
            )
        )
    return rows
