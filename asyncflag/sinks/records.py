"""The records of a CSV file: how a batch of them is written, and where they end.

:func:`csv_records` writes rows a column at a time, exactly as ``csv.writer`` with the
default dialect writes them (``tests/test_hot_path.py`` holds the two to the same
text), at a fraction of its cost: a column with no character that needs quoting is
joined as it is.

Row boundaries are found without parsing fields: every record the ``csv`` module
writes ends with a line terminator at which the number of ``"`` characters seen
since the record started is even (quotes inside fields are doubled). That makes
counting rows, finding a torn tail and catching up on appended bytes a byte scan.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "allow_any_field_size",
    "csv_records",
    "first_record_end",
    "iter_records",
    "read_header",
    "read_records",
    "record_ends",
    "scan_records",
]


def csv_records(columns: Sequence[Sequence[Any]]) -> str:
    """The CSV text of rows given column by column: what
    ``csv.writer(buffer).writerows(zip(*columns))`` writes (the default dialect: ``,``,
    ``"`` doubled inside quoted fields, ``\\r\\n`` after each record, a field quoted only
    when it holds ``,``, ``"``, ``\\r`` or ``\\n``; ``None`` an empty field, any other
    non-string its ``str()``).

    :param columns: the cells of each column, every column as long as the first
    """
    if not columns or not columns[0]:
        return ""
    if len(columns) == 1:
        # csv quotes a lone empty field (a record that would read as a blank line)
        buffer = io.StringIO()
        csv.writer(buffer).writerows(zip(*columns, strict=True))
        return buffer.getvalue()
    texts: list[Sequence[str]] = []
    for column in columns:
        try:
            joined = "\x00".join(column)
        except TypeError:  # numbers, None: as the csv module writes them
            column = [c if type(c) is str else "" if c is None else str(c) for c in column]
            joined = "\x00".join(column)
        if '"' in joined or "," in joined or "\n" in joined or "\r" in joined:
            column = [_quoted(cell) if _QUOTE.search(cell) else cell for cell in column]
        texts.append(column)
    return "\r\n".join(map(",".join, zip(*texts, strict=True))) + "\r\n"


#: a character that makes the csv module quote a field
_QUOTE = re.compile('[",\r\n]')


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


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
