"""Reading flagging tables back, for every SQL sink: which tables, and how a stored row
becomes a :class:`~asyncflag.FlaggedRow`.

A dialect's reader (:func:`~asyncflag.sinks.postgres.iter_postgres`) fetches the rows;
:class:`TableReader` decodes them with the components recorded in the registry (or those
given), finds the comment and correction columns as a dataset file's are found, and
keeps file paths inside the flagging directory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..components import Component
from ..errors import FlagReadError, FlagValueError, UnsafePathError
from .sql import Dialect, TableRecord, decode_value, encode_value, table_components

if TYPE_CHECKING:
    from ..read import FlaggedRow

__all__ = ["TableReader", "chosen_tables"]


def chosen_tables(
    records: Sequence[TableRecord], table: str | Sequence[str] | None, path: str | Path
) -> list[TableRecord]:
    """The records ``table`` names among a database's: every one for ``None``; for each
    name, every version of that base name (``flagged``), else the one version whose
    table it is (``flagged_v2``; ``flagged_v1`` for the first, whose table is the base
    name).

    :param path: the database as messages name it (a file, a DSN masked)
    :raises FlagValueError: for a name no table has, listing the tables there are
    """
    if table is None:
        return list(records)
    wanted = [table] if isinstance(table, str) else list(table)
    chosen: list[TableRecord] = []
    for name in wanted:
        matching = [r for r in records if r.base == name] or [
            r for r in records if name in (r.table, f"{r.base}_v{r.version}")
        ]
        if not matching:
            names = ", ".join(r.table for r in records) or "no tables"
            raise FlagValueError(f"{path} has no flagging table {name!r}: it has {names}")
        chosen += [r for r in matching if r not in chosen]
    return chosen


class TableReader:
    """How one table's stored rows become :class:`~asyncflag.FlaggedRow` values.

    :param dialect: the database's dialect (its :meth:`~Dialect.from_db`)
    :param record: the table's registry record
    :param given: components to decode the first columns with instead of the recorded
    :param name: the table as a row's ``file`` names it (``<database>#<table>``)
    :param root: the flagging directory holding the table's saved files
    """

    def __init__(
        self,
        dialect: Dialect,
        record: TableRecord,
        given: list[Component] | None,
        *,
        name: str,
        root: Path,
    ) -> None:
        # read.py imports the sinks: its names are looked up once the modules are loaded
        from ..read import COMMENT_LABEL, CORRECTION_SUFFIX, FlaggedRow

        self._row_type = FlaggedRow
        self.dialect = dialect
        self.record = record
        self.columns = record.columns()
        decoders: list[Component | None] = list(table_components(record))
        if given is not None:
            decoders[: len(given)] = given[: len(self.columns)]
        self.decoders = decoders
        self.root = root
        self.labels = tuple(c.name for c in self.columns)
        self.name = name
        # the comment and correction columns, found as a dataset file's are
        labels = self.labels
        self.comment = bool(labels) and labels[-1] == COMMENT_LABEL
        rest = labels[: len(labels) - self.comment]
        self.corrections = 0
        for count in range(len(rest) // 2, 0, -1):
            values, extra = rest[: len(rest) - count], rest[len(rest) - count :]
            if list(extra) == [f"{label}{CORRECTION_SUFFIX}" for label in values[-count:]]:
                self.corrections = count
                break
        self.width = len(labels) - self.comment - self.corrections
        # the value of "no correction" in each correction column, as from_db gives it
        self.no_correction: list[Any] = []
        for index in range(self.width, self.width + self.corrections):
            decoder, column = self.decoders[index], self.columns[index]
            empty = None
            if decoder is not None and not decoder.holds_files:
                with contextlib.suppress(Exception):
                    stored = encode_value(decoder, column.kind, decoder.check(None))
                    empty = dialect.from_db(column.kind, dialect.to_db(column.kind, stored))
            self.no_correction.append(empty)

    def row(self, raw: Sequence[Any], unsafe_paths: str) -> FlaggedRow | None:
        """The row of one stored record (every column, in table order); ``None`` for one
        skipped (an unsafe path, with ``unsafe_paths="skip"``)."""
        dialect = self.dialect
        columns = self.columns
        number = raw[-1]
        decoded: list[Any] = []
        plain: list[Any] = []
        for column, decoder, stored in zip(columns, self.decoders, raw, strict=False):
            try:
                value = dialect.from_db(column.kind, stored)
                plain.append(value)
                decoded.append(decode_value(decoder, column.kind, value, self.root))
            except UnsafePathError as exc:
                if unsafe_paths == "skip":
                    return None
                raise UnsafePathError(
                    f"{self.name}, row {number}, column {column.name!r}: {exc}; pass "
                    "unsafe_paths='skip' to leave such rows out",
                    file=self.name,
                    row=number,
                    column=column.name,
                ) from None
            except Exception as exc:
                raise FlagReadError(
                    f"{self.name}, row {number}, column {column.name!r}: {exc} (was the "
                    "table edited, or are these not the components that wrote it?)",
                    file=self.name,
                    row=number,
                    column=column.name,
                ) from None
        flag, username, stamp = raw[len(columns) : len(columns) + 3]
        try:
            timestamp = dialect.read_timestamp(stamp)
        except ValueError:
            raise FlagReadError(
                f"{self.name}, row {number}, column 'timestamp': {stamp!r} is not a date and time",
                file=self.name,
                row=number,
                column="timestamp",
            ) from None
        correction = None
        if self.corrections:
            start = self.width
            stored = plain[start : start + self.corrections]
            values = [
                None if s is None or s == empty else v
                for s, empty, v in zip(
                    stored,
                    self.no_correction,
                    decoded[start : start + self.corrections],
                    strict=True,
                )
            ]
            correction = tuple(values) if any(v is not None for v in values) else None
        return self._row_type(
            values=tuple(decoded[: self.width]),
            labels=self.labels[: self.width],
            flag=flag,
            username=username,
            timestamp=timestamp,
            file=self.name,
            comment=(decoded[-1] or None) if self.comment else None,
            correction=correction,
            timestamp_naive=timestamp is not None and timestamp.tzinfo is None,
        )
