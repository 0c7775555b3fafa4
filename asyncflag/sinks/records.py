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
    "RecordCounter",
    "SCAN_CHUNK",
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
    counter = RecordCounter()
    view = memoryview(data)
    for start in range(0, len(data), SCAN_CHUNK):
        counter.feed(bytes(view[start : start + SCAN_CHUNK]))
    return counter.records, counter.end


#: how many bytes a full scan reads and counts at once
SCAN_CHUNK = 4 << 20
#: every byte but ``"`` and ``\n``: what a chunk with quotes is reduced to before its walk
_NOT_QUOTE_OR_NEWLINE = bytes(b for b in range(256) if b not in b'"\n')


class RecordCounter:
    """Counts whole records in bytes fed chunk by chunk, as :func:`scan_records` does.

    A record ends at each ``\n`` before which the file holds an even number of ``"``
    (every record the ``csv`` module writes has an even number, as quotes inside
    fields are doubled). Each chunk is counted with C-speed ``bytes`` methods: it is
    reduced to its ``"`` and ``\n`` bytes (``bytes.translate``); with no ``"`` its
    newlines are counted directly; else adjacent ``""`` pairs (which change no parity)
    are removed, and the few quotes that remain walked.

    Chunks may split a record, a quoted field or a ``\r\n`` anywhere.
    """

    def __init__(self) -> None:
        #: whole records seen so far
        self.records = 0
        #: the offset just past the last whole record seen (0: none)
        self.end = 0
        #: bytes fed so far
        self.fed = 0
        #: an odd number of ``"`` fed so far: inside a quoted field
        self._inside = False

    def feed(self, chunk: bytes) -> None:
        """Count the records that end in ``chunk``, the next bytes of the data."""
        base, self.fed = self.fed, self.fed + len(chunk)
        reduced = chunk.translate(None, _NOT_QUOTE_OR_NEWLINE)
        quotes = reduced.count(b'"')
        if not quotes:  # every newline ends a record, or none does
            if reduced and not self._inside:
                self.records += len(reduced)
                self.end = base + chunk.rfind(b"\n") + 1
            return
        if self._inside:
            reduced = b'"' + reduced
        reduced = reduced.replace(b'""', b"")
        found = 0
        inside = False
        position = 0
        while True:
            quote = reduced.find(b'"', position)
            if not inside:
                found += reduced.count(b"\n", position, len(reduced) if quote < 0 else quote)
            if quote < 0:
                break
            inside = not inside
            position = quote + 1
        self._inside = self._inside != bool(quotes % 2)
        if found:
            self.records += found
            self.end = base + _last_end(chunk, self._inside)

    def __repr__(self) -> str:
        return f"RecordCounter(records={self.records}, end={self.end}, fed={self.fed})"


def _last_end(chunk: bytes, inside_at_end: bool) -> int:
    """The offset just past the last ``\n`` of ``chunk`` outside quotes (one exists),
    walking back from its end, where the quotes' parity is known."""
    inside = inside_at_end
    cursor = len(chunk)
    while True:
        newline = chunk.rfind(b"\n", 0, cursor)
        if chunk.count(b'"', newline, cursor) % 2:
            inside = not inside
        if not inside:
            return newline + 1
        cursor = newline


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
