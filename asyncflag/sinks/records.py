"""Where the records of a CSV file end, found by a byte scan.

Row boundaries are found without parsing fields: every record the ``csv`` module
writes ends with a line terminator at which the number of ``"`` characters seen
since the record started is even (quotes inside fields are doubled). That makes
counting rows, finding a torn tail and catching up on appended bytes a byte scan.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Generator, Iterator
from pathlib import Path

__all__ = [
    "allow_any_field_size",
    "first_record_end",
    "iter_records",
    "read_header",
    "read_records",
    "record_ends",
    "scan_records",
]


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


def first_record_end(data: bytes) -> int:
    """The offset just past the first whole record in ``data``, or 0 if there is none."""
    return next(record_ends(data), 0)


def read_header(path: Path) -> list[str] | None:
    """The first record of a CSV file, or ``None`` if it has no whole first record."""
    head = b""
    with path.open("rb") as file:
        while not (end := first_record_end(head)):
            more = file.read(1 << 16)
            if not more:
                return None
            head += more
    allow_any_field_size()
    return next(csv.reader(io.StringIO(head[:end].decode("utf-8"), newline="")))


def read_records(path: Path) -> list[list[str]]:
    """The cells of every whole record of a CSV file (a torn tail is left out)."""
    allow_any_field_size()
    data = path.read_bytes()
    _, end = scan_records(data)
    return list(csv.reader(io.StringIO(data[:end].decode("utf-8"), newline="")))


def iter_records(path: Path) -> Generator[list[str], None, None]:
    """The cells of each whole record of a CSV file, one record at a time.

    Only one record is held at once (a torn tail is left out, as by
    :func:`read_records`): the file is read line by line and a record ends at a line
    terminator where the number of ``"`` seen since it started is even.
    """
    allow_any_field_size()
    with path.open("rb") as file:
        pending: list[bytes] = []
        quotes = 0
        for line in file:
            pending.append(line)
            quotes += line.count(b'"')
            if quotes % 2 == 0 and line.endswith(b"\n"):
                text = b"".join(pending).decode("utf-8")
                pending.clear()
                quotes = 0
                yield from csv.reader(io.StringIO(text, newline=""))


def allow_any_field_size() -> None:
    """Lift the csv module's 128 KiB cell limit: a long text or JSON value must read back.

    The limit is process-wide; it is only ever raised here, never lowered.
    """
    if csv.field_size_limit() < _FIELD_SIZE_LIMIT:
        csv.field_size_limit(_FIELD_SIZE_LIMIT)


_FIELD_SIZE_LIMIT = 2**31 - 1
