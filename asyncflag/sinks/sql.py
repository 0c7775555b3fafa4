"""What the SQL sinks share: tables, typed columns, versions, event ids and retries.

Dialect-neutral; :class:`~asyncflag.SQLiteLogger` (:mod:`.sqlite`) and the PostgreSQL
logger build on it with a small :class:`Dialect` each. The model:

- one table per interface, named by the caller or derived from the flagging
  directory's name (:func:`derived_table_name`); every identifier goes through
  :func:`quote_identifier` and every value is a bound parameter, so no label or name
  is ever read as SQL;
- a typed column per component, its kind translated from the component's Arrow type
  (the export's, :meth:`~asyncflag.components.Component.arrow_type`) by
  :func:`column_kind`; then ``flag``, ``username``, ``timestamp`` (with its zone),
  ``event_id`` (unique) and ``row_number`` (the count ``flag()`` returns: from 1,
  without gaps, per table);
- a registry table, :data:`REGISTRY_TABLE`, recording per table its base name, version,
  the :class:`~asyncflag.sinks.datasets.DatasetSchema` of its columns, their kinds and
  the components' specs: other labels or types start the next version's table
  (``<name>_v2``...), never an ``ALTER`` (:func:`choose_table`);
- a batch is one transaction: the writer locks the table, reads the last row number,
  skips the rows whose event id is there already (they get their stored number back)
  and inserts the others numbered after it (:meth:`SQLTable.number_rows`);
- a transient failure (a busy database, a lost connection) is retried with a
  bounded exponential backoff, then the rows fail with
  :class:`~asyncflag.FlagWriteError` (:func:`retry_async`).

:class:`SQLLogger` is the flagging callback around it: file saves (the CSV loggers'
:class:`~asyncflag.sinks.storage.FileSaver`), values encoded, event ids made once per
row, retries; a dialect's logger supplies one transaction attempt.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import anyio
import msgspec

from ..checks import one_of, positive_int
from ..components import Component, component_from, component_types
from ..components.base import json_text
from ..errors import FlagValueError, FlagWriteError, MissingExtraError, as_write_error
from ..escaping import PREFIX, escape, escape_optional, unescape
from ..events import FlagRow
from .base import FlaggingCallback, RowResult
from .datasets import DatasetSchema
from .disk import Disk
from .storage import FileSaver, FileStore

__all__ = [
    "COLUMN_KINDS",
    "INSTALL_HINT",
    "REGISTRY_COLUMNS",
    "REGISTRY_TABLE",
    "RESERVED_PREFIXES",
    "SQL_METADATA_COLUMNS",
    "ColumnKind",
    "Dialect",
    "EncodedRows",
    "SQLColumn",
    "SQLLogger",
    "SQLTable",
    "TableRecord",
    "choose_table",
    "column_kind",
    "decode_value",
    "derived_table_name",
    "encode_value",
    "mask_dsn",
    "new_event_id",
    "quote_identifier",
    "record_from_row",
    "registry_create_statement",
    "registry_insert_statement",
    "registry_select_statement",
    "relative_flagging_dir",
    "retry_async",
    "retry_sync",
    "table_components",
    "versioned_name",
]

#: the kind of a value column: how its values are held
#:
#: - ``integer``, ``real``, ``boolean``: the number or bool itself (an Arrow int, float,
#:   bool column);
#: - ``timestamp``: a date and time with its zone;
#: - ``json``: the JSON text of the export's value (an Arrow list or struct: a chat's
#:   ``[{"role", "content"}]``, a gallery's ``[{"image", "caption"}]``, a list of tags);
#: - ``text``: the text of the value's CSV cell without its spreadsheet escape (a text
#:   as it is, a saved file's relative path, a JSON component's JSON text);
#: - ``cell``: the CSV cell exactly, for a component whose cells tell values apart by
#:   the escape prefix (a Dropdown mixing numbers and text writes the text ``"3"`` as
#:   ``'3`` and the number as ``3``)
ColumnKind = Literal["integer", "real", "boolean", "timestamp", "json", "text", "cell"]
COLUMN_KINDS: tuple[ColumnKind, ...] = (
    "integer",
    "real",
    "boolean",
    "timestamp",
    "json",
    "text",
    "cell",
)
#: the table that records every flagging table of a database and its schema
REGISTRY_TABLE = "asyncflag_tables"
#: the columns every table ends with, after the value columns
SQL_METADATA_COLUMNS = ("flag", "username", "timestamp", "event_id", "row_number")
#: what to do when pyarrow (which types the columns) is missing
INSTALL_HINT = (
    "the SQL sinks type their columns as an export does, with pyarrow: pip install 'asyncflag[sql]'"
)
#: the table name beginnings a derived name never has: asyncflag's own tables', and those
#: a database keeps for itself (SQLite's ``sqlite_``, PostgreSQL's ``pg_``)
RESERVED_PREFIXES = ("asyncflag_", "sqlite_", "pg_")
#: the longest table base name derived from a folder name (room left for ``_v<N>``)
MAX_DERIVED_NAME = 48
#: how many event ids one lookup asks for (under every driver's parameter limit)
LOOKUP_CHUNK = 500

_T = TypeVar("_T")
_UNSAFE_NAME = re.compile(r"[^a-z0-9_]+")


def quote_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier: between double quotes, each ``"`` doubled
    (SQLite and PostgreSQL alike). Every table and column name goes through here.

    :raises FlagValueError: for an empty name or one holding a NUL character (no
        database can name a table or column so)
    """
    if not isinstance(name, str) or not name:
        raise FlagValueError(f"a SQL name must be a non-empty string, got {name!r}")
    if "\x00" in name:
        raise FlagValueError(
            f"the SQL name {name!r} holds a NUL character, which no table or column name "
            "can: rename the component or table"
        )
    return '"' + name.replace('"', '""') + '"'


def derived_table_name(flagging_dir: str | Path) -> str:
    """The table name derived from a flagging directory: its folder name in lower case,
    each run of characters other than ``a-z``, ``0-9`` and ``_`` made one ``_``, at most
    :data:`MAX_DERIVED_NAME` characters, ``flagged`` when nothing is left, and ``t_``
    before a name starting with a digit or one of :data:`RESERVED_PREFIXES`
    (``My Flags!`` gives ``my_flags``, ``sqlite_demo`` gives ``t_sqlite_demo``)."""
    name = _UNSAFE_NAME.sub("_", Path(flagging_dir).resolve().name.lower()).strip("_")
    name = name[:MAX_DERIVED_NAME].rstrip("_")
    if not name:
        return "flagged"
    if name[0].isdigit() or name.startswith(RESERVED_PREFIXES):
        name = "t_" + name
    return name[:MAX_DERIVED_NAME]


def versioned_name(base: str, version: int) -> str:
    """The table of ``version`` of a base name: the name itself for version 1, then
    ``<base>_v2``, ``<base>_v3``..."""
    return base if version == 1 else f"{base}_v{version}"


def new_event_id() -> str:
    """A fresh event id, 32 hex digits: the time in nanoseconds (64 bits), then 64 random
    bits. Ids made later sort later, so a table's unique index on them grows at its end
    (as ``row_number``'s does) instead of at random places all over it."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


def mask_dsn(dsn: str) -> str:
    """A connection string with its password replaced by ``***``, safe to print or log
    (``postgresql://ada:secret@db/flags`` gives ``postgresql://ada:***@db/flags``;
    ``password=secret`` in a key/value DSN or a query string gives ``password=***``)."""
    masked = re.sub(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)", r"\1***", dsn)
    try:
        parts = urlsplit(masked)
    except ValueError:
        return masked
    if parts.password is None:
        return masked
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    if parts.port is not None:
        host += f":{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def column_kind(component: Component) -> ColumnKind:
    """How a component's values are held in a SQL table, from its Arrow type (see
    :data:`ColumnKind`).

    :raises MissingExtraError: without pyarrow (``pip install 'asyncflag[sql]'``)
    """
    try:
        import pyarrow.types as types

        arrow = component.arrow_type()
    except ImportError:
        raise MissingExtraError(INSTALL_HINT) from None
    if types.is_boolean(arrow):
        return "boolean"
    if types.is_integer(arrow):
        return "integer"
    if types.is_floating(arrow) or types.is_decimal(arrow):
        return "real"
    if types.is_timestamp(arrow) or types.is_date(arrow):
        return "timestamp"
    if types.is_string(arrow) or types.is_large_string(arrow):
        return "cell" if _prefix_tells_apart(component) else "text"
    return "json"


def _prefix_tells_apart(component: Component) -> bool:
    """Whether the component writes the text ``"3"`` as ``'3``: its cells tell text from
    numbers by the escape prefix, which a ``text`` column would drop (see
    :data:`ColumnKind`)."""
    try:
        return component.to_cell("3") == PREFIX + "3"
    except Exception:  # a component that holds no text says so in its own way
        return False


def encode_value(component: Component, kind: ColumnKind, value: Any) -> Any:
    """A checked value (its files replaced by their saved relative paths) as its column
    of ``kind`` holds it, before the dialect's :meth:`Dialect.to_db`."""
    if kind in ("integer", "real", "boolean", "timestamp"):
        return component.to_arrow_value(value)
    if kind == "json":
        arrow = component.to_arrow_value(value)
        return None if arrow is None else json_text(arrow)
    cell = component.to_cell(value)
    if not isinstance(cell, str):
        return str(cell)  # a number, as the CSV module writes it
    if cell == "":
        return None
    return cell if kind == "cell" else unescape(cell)


def decode_value(
    component: Component | None, kind: ColumnKind, value: Any, flagging_dir: Path
) -> Any:
    """A stored value (after the dialect's :meth:`Dialect.from_db`) as the component reads
    it back from its CSV cell (:meth:`~asyncflag.components.Component.from_cell`:
    numbers, booleans, decoded JSON, the absolute path of a saved file inside
    ``flagging_dir``). Without a component, the value by its kind alone.

    :raises UnsafePathError: for a file path outside ``flagging_dir``
    :raises ValueError: for a value the component cannot read
    """
    if component is None:
        if value is None or kind in ("integer", "real", "boolean", "timestamp", "text"):
            return value
        if kind == "json":
            return msgspec.json.decode(value)
        return unescape(value)
    if value is None:
        return component.from_cell("", flagging_dir)
    cell: str
    if kind == "boolean":
        cell = "true" if value else "false"
    elif kind in ("integer", "real"):
        cell = str(value)
    elif kind == "timestamp":
        cell = value.isoformat() if isinstance(value, datetime) else str(value)
    elif kind == "json":
        cell = escape(value)
    elif kind == "text":
        cell = escape_optional(value)
    else:
        cell = value
    return component.from_cell(cell, flagging_dir)


class SQLColumn(msgspec.Struct, frozen=True):
    """One value column of a flagging table: its name (the component's label), kind, and
    whether it names saved files."""

    name: str
    kind: ColumnKind
    file: bool = False


class TableRecord(msgspec.Struct, frozen=True):
    """One row of the registry table: a flagging table and what it holds."""

    #: the base name (the table of version 1)
    base: str
    #: 1, 2...: a new version for each change of labels or types
    version: int
    #: the table's name: :func:`versioned_name` of the two
    table: str
    #: the :class:`~asyncflag.sinks.datasets.DatasetSchema` JSON of the value columns
    schema: str
    #: the JSON list of the value columns' kinds
    kinds: str
    #: the JSON list of each component's spec (``null`` for one that has none)
    components: str
    #: the flagging directory of its saved files: relative to the database's folder
    #: (SQLite) or absolute
    flagging_dir: str
    #: when the table was created (ISO 8601, UTC)
    created_at: str

    def columns(self) -> list[SQLColumn]:
        """The value columns this table was created with."""
        schema = msgspec.json.decode(self.schema, type=DatasetSchema)
        kinds = msgspec.json.decode(self.kinds, type=list[ColumnKind])
        return [
            SQLColumn(column.label, kind, column.file)
            for column, kind in zip(schema.columns, kinds, strict=True)
        ]

    def same_columns(self, schema: str, kinds: str) -> bool:
        """Whether rows of this schema and these kinds go to this table."""
        same_schema: bool = msgspec.json.decode(self.schema) == msgspec.json.decode(schema)
        same_kinds: bool = msgspec.json.decode(self.kinds) == msgspec.json.decode(kinds)
        return same_schema and same_kinds


#: the registry's columns, in :class:`TableRecord` order
REGISTRY_COLUMNS = tuple(TableRecord.__struct_fields__)


def table_components(record: TableRecord) -> list[Component | None]:
    """The components a table's rows were written with, rebuilt from their recorded
    specs (``None`` for one that recorded none, or whose type is not registered here)."""
    specs = msgspec.json.decode(record.components)
    types = component_types()
    rebuilt: list[Component | None] = []
    for spec in specs:
        component: Component | None = None
        if isinstance(spec, dict):
            cls = types.get(str(spec.get("type")))
            if cls is not None and cls.spec_type is not None:
                try:
                    component = cls.from_spec(msgspec.convert(spec, cls.spec_type))
                except (msgspec.ValidationError, FlagValueError, TypeError):
                    component = None
        rebuilt.append(component)
    return rebuilt


def _component_specs(components: Sequence[Component]) -> str:
    specs: list[Any] = []
    for component in components:
        try:
            specs.append(component.spec())
        except Exception:  # not registered: read back by its column kind alone
            specs.append(None)
    return msgspec.json.encode(specs).decode()


class Dialect:
    """What differs between databases: type names, parameters, value forms, errors.

    The base class is plain SQL with ``?`` parameters; a dialect overrides what its
    database does otherwise.
    """

    #: the database's name, in messages
    name: ClassVar[str] = "SQL"
    #: the parameter marker of the driver (``?`` for sqlite3, ``%s`` for psycopg)
    placeholder: ClassVar[str] = "?"
    #: the longest identifier, in bytes (``None``: no limit)
    max_identifier_bytes: ClassVar[int | None] = None
    #: the SQL type of each column kind
    types: ClassVar[Mapping[ColumnKind, str]] = {
        "integer": "BIGINT",
        "real": "DOUBLE PRECISION",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMPTZ",
        "json": "TEXT",
        "text": "TEXT",
        "cell": "TEXT",
    }
    #: the table name beginnings the database keeps for itself (a given name is refused)
    reserved_prefixes: ClassVar[tuple[str, ...]] = ()
    #: the SQL type of ``row_number`` and ``version``
    counter_type: ClassVar[str] = "BIGINT"
    #: the SQL type of the ``timestamp`` column and ``created_at``
    timestamp_type: ClassVar[str] = "TIMESTAMPTZ"

    def parameter(self, kind: ColumnKind | None = None) -> str:
        """The marker of one parameter of a column of ``kind`` (``None``: text)."""
        return self.placeholder

    def to_db(self, kind: ColumnKind, value: Any) -> Any:
        """An encoded value (:func:`encode_value`) as the driver takes it."""
        return value

    def from_db(self, kind: ColumnKind, value: Any) -> Any:
        """What the driver gives for a column of ``kind``, as :func:`decode_value` takes
        it (the inverse of :meth:`to_db`)."""
        return value

    def timestamps(self, stamps: Sequence[datetime | None]) -> list[Any]:
        """The ``timestamp`` column of a batch, as the driver takes it."""
        return list(stamps)

    def read_timestamp(self, value: Any) -> datetime | None:
        """A ``timestamp`` column's value as a datetime."""
        if value is None or isinstance(value, datetime):
            return value
        return datetime.fromisoformat(str(value))

    def is_transient(self, error: BaseException) -> bool:
        """Whether a failed attempt may succeed if tried again (busy, connection lost)."""
        return False

    def check_identifier(self, name: str, what: str) -> str:
        """``name`` quoted, once it fits the database's identifier limit.

        :raises FlagValueError: for a name the database would cut short (two names
            could become one) or that cannot be an identifier
        """
        quoted = quote_identifier(name)
        limit = self.max_identifier_bytes
        if limit is not None and len(name.encode("utf-8")) > limit:
            raise FlagValueError(
                f"{what} {name!r} is {len(name.encode('utf-8'))} bytes long; {self.name} "
                f"names hold at most {limit}: give it a shorter one"
            )
        return quoted


class SQLTable:
    """The statements of one flagging table: create, insert, number, read.

    :param dialect: the database's :class:`Dialect`
    :param name: the table's name (quoted here)
    :param columns: its value columns
    """

    def __init__(self, dialect: Dialect, name: str, columns: Sequence[SQLColumn]) -> None:
        self.dialect = dialect
        self.name = name
        self.columns = list(columns)
        self.quoted = dialect.check_identifier(name, "the table name")
        names = [c.name for c in self.columns]
        for column in names:
            if column in SQL_METADATA_COLUMNS:
                raise FlagValueError(
                    f"a component is labelled {column!r}, the name of a column every SQL "
                    f"table adds ({', '.join(SQL_METADATA_COLUMNS)}): give it another label"
                )
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise FlagValueError(
                f"two components are labelled {twice[0]!r}: a SQL table needs one name per "
                "column; give them different labels"
            )
        self._quoted_columns = [dialect.check_identifier(c, "the label") for c in names]

    def _all_quoted(self) -> list[str]:
        return [*self._quoted_columns, *map(quote_identifier, SQL_METADATA_COLUMNS)]

    def create_statement(self) -> str:
        """``CREATE TABLE`` with a typed column per value, the metadata columns, a unique
        event id and a unique row number."""
        d = self.dialect
        columns = [
            f"{quoted} {d.types[c.kind]}"
            for quoted, c in zip(self._quoted_columns, self.columns, strict=True)
        ]
        columns += [
            f'"flag" {d.types["text"]}',
            f'"username" {d.types["text"]}',
            f'"timestamp" {d.timestamp_type}',
            f'"event_id" {d.types["text"]} NOT NULL UNIQUE',
            f'"row_number" {d.counter_type} NOT NULL UNIQUE',
        ]
        return f"CREATE TABLE {self.quoted} ({', '.join(columns)})"

    def insert_statement(self) -> str:
        """``INSERT`` of one row: the values, flag, username, timestamp, event id and
        row number, each a parameter."""
        d = self.dialect
        markers = [d.parameter(c.kind) for c in self.columns]
        markers += [d.parameter()] * 2 + [d.parameter("timestamp")] + [d.parameter()] * 2
        return (
            f"INSERT INTO {self.quoted} ({', '.join(self._all_quoted())}) "
            f"VALUES ({', '.join(markers)})"
        )

    def last_number_statement(self) -> str:
        """The table's last row number (0 when empty)."""
        return f'SELECT COALESCE(MAX("row_number"), 0) FROM {self.quoted}'

    def existing_statement(self, count: int) -> str:
        """The ``(event_id, row_number)`` of up to ``count`` event ids (each a parameter)."""
        markers = ", ".join([self.dialect.parameter()] * count)
        return f'SELECT "event_id", "row_number" FROM {self.quoted} WHERE "event_id" IN ({markers})'

    def select_statement(self) -> str:
        """Every column of every row, in row-number order."""
        return f'SELECT {", ".join(self._all_quoted())} FROM {self.quoted} ORDER BY "row_number"'

    def count_statement(self) -> str:
        """The number of rows."""
        return f"SELECT COUNT(*) FROM {self.quoted}"

    @staticmethod
    def number_rows(
        rows: EncodedRows, existing: Mapping[str, int], last: int
    ) -> tuple[list[tuple[Any, ...]], list[int]]:
        """Number a batch after the table's ``last`` row number.

        A row whose event id is in ``existing`` (stored before) or came earlier in the
        batch keeps that row's number and is not inserted again.

        :return: the parameters of each row to insert, and every row's number
        """
        known = dict(existing)
        inserts: list[tuple[Any, ...]] = []
        numbers: list[int] = []
        for params, event_id in zip(rows.params, rows.event_ids, strict=True):
            number = known.get(event_id)
            if number is None:
                last += 1
                number = known[event_id] = last
                inserts.append((*params, event_id, number))
            numbers.append(number)
        return inserts, numbers

    def write(self, cursor: Any, rows: EncodedRows) -> list[int]:
        """Write a batch through a DB-API cursor, inside a transaction the caller began
        with the table locked (SQLite's ``BEGIN IMMEDIATE``; PostgreSQL's lock).

        :return: each row's number
        """
        existing: dict[str, int] = {}
        ids = rows.ids_to_look_up()
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[start : start + LOOKUP_CHUNK]
            cursor.execute(self.existing_statement(len(chunk)), chunk)
            existing.update((str(e), int(n)) for e, n in cursor.fetchall())
        cursor.execute(self.last_number_statement())
        (last,) = cursor.fetchone()
        inserts, numbers = self.number_rows(rows, existing, int(last))
        if inserts:
            cursor.executemany(self.insert_statement(), inserts)
        return numbers


class EncodedRows(msgspec.Struct):
    """The rows of a batch ready for a table: their parameters (values, flag, username,
    timestamp), event ids, and where they are in the batch."""

    #: the index in the batch of each row
    indexes: list[int]
    #: per row: the encoded values, then flag, username and timestamp
    params: list[tuple[Any, ...]]
    #: per row: its event id
    event_ids: list[str]
    #: the event ids to look up (those the rows came with); ``None``: every one. An id
    #: the sink made itself, fresh, cannot be stored yet, and is not looked up
    given_ids: list[str] | None = None

    def ids_to_look_up(self) -> list[str]:
        """The distinct event ids that may be stored already."""
        ids = self.event_ids if self.given_ids is None else self.given_ids
        return list(dict.fromkeys(ids))


def registry_create_statement(dialect: Dialect) -> str:
    """``CREATE TABLE IF NOT EXISTS`` of the registry table."""
    text = dialect.types["text"]
    return (
        f"CREATE TABLE IF NOT EXISTS {quote_identifier(REGISTRY_TABLE)} ("
        f'"base" {text} NOT NULL, "version" {dialect.counter_type} NOT NULL, '
        f'"table" {text} NOT NULL UNIQUE, "schema" {text} NOT NULL, '
        f'"kinds" {text} NOT NULL, "components" {text} NOT NULL, '
        f'"flagging_dir" {text} NOT NULL, "created_at" {text} NOT NULL, '
        'PRIMARY KEY ("base", "version"))'
    )


def registry_select_statement(dialect: Dialect, *, base: bool = True) -> str:
    """The registry's records (of one base name, a parameter, when ``base``), by base
    name and version."""
    columns = ", ".join(map(quote_identifier, REGISTRY_COLUMNS))
    where = f' WHERE "base" = {dialect.parameter()}' if base else ""
    return (
        f"SELECT {columns} FROM {quote_identifier(REGISTRY_TABLE)}{where} "
        'ORDER BY "base", "version"'
    )


def registry_insert_statement(dialect: Dialect) -> str:
    """``INSERT`` of one :class:`TableRecord` (each field a parameter)."""
    columns = ", ".join(map(quote_identifier, REGISTRY_COLUMNS))
    markers = ", ".join([dialect.parameter()] * len(REGISTRY_COLUMNS))
    return f"INSERT INTO {quote_identifier(REGISTRY_TABLE)} ({columns}) VALUES ({markers})"


def choose_table(
    records: Sequence[TableRecord],
    base: str,
    schema: str,
    kinds: str,
    components: str,
    flagging_dir: str,
) -> tuple[TableRecord, bool]:
    """The table rows of ``schema`` and ``kinds`` go to: the latest version of ``base``
    if it has these columns, else the next version (created by the caller).

    :param records: the registry's records of ``base``
    :return: the record, and whether it is new (to create and register)
    """
    mine = sorted((r for r in records if r.base == base), key=lambda r: r.version)
    if mine and mine[-1].same_columns(schema, kinds):
        return mine[-1], False
    version = mine[-1].version + 1 if mine else 1
    record = TableRecord(
        base=base,
        version=version,
        table=versioned_name(base, version),
        schema=schema,
        kinds=kinds,
        components=components,
        flagging_dir=flagging_dir,
        created_at=datetime.now(UTC).isoformat(),
    )
    return record, True


def record_from_row(row: Sequence[Any]) -> TableRecord:
    """A registry row (its columns in :data:`REGISTRY_COLUMNS` order) as a record."""
    base, version, table, schema, kinds, components, flagging_dir, created = row
    return TableRecord(
        str(base),
        int(version),
        str(table),
        str(schema),
        str(kinds),
        str(components),
        str(flagging_dir),
        created.isoformat() if isinstance(created, datetime) else str(created),
    )


# -- retries ------------------------------------------------------------------------------

#: the first pause between two attempts, in seconds (doubled each time, up to the cap)
FIRST_DELAY = 0.05
#: the longest pause between two attempts, in seconds
MAX_DELAY = 2.0


def _given_up(
    what: str, attempts: int, elapsed: float, error: BaseException, why: str
) -> Exception:
    failure = FlagWriteError(
        f"{what}: {why} after {attempts} attempt{'s' if attempts > 1 else ''} over "
        f"{elapsed:.1f} s ({type(error).__name__}: {error}); the rows were not written"
    )
    failure.__cause__ = None
    return failure


class _Backoff:
    """The retry schedule the two retry loops share: what a failed attempt leads to."""

    def __init__(
        self,
        is_transient: Callable[[BaseException], bool],
        retry_for: float,
        what: str,
        on_retry: Callable[[BaseException], None] | None,
    ) -> None:
        self.is_transient = is_transient
        self.retry_for = retry_for
        self.what = what
        self.on_retry = on_retry
        self.start = time.monotonic()
        self.delay = FIRST_DELAY
        self.attempts = 0

    def failed(self, error: Exception) -> float:
        """The pause before the next attempt after ``error``.

        :raises Exception: ``error`` itself when it is not transient, or
            :class:`FlagWriteError` when the next attempt would come past ``retry_for``
        """
        elapsed = time.monotonic() - self.start
        if not self.is_transient(error):
            raise error
        if elapsed + self.delay > self.retry_for:
            raise _given_up(self.what, self.attempts, elapsed, error, "still failing") from None
        if self.on_retry is not None:
            self.on_retry(error)
        delay, self.delay = self.delay, min(self.delay * 2, MAX_DELAY)
        return delay


async def retry_async(
    attempt: Callable[[], Awaitable[_T]],
    *,
    is_transient: Callable[[BaseException], bool],
    retry_for: float,
    what: str,
    on_retry: Callable[[BaseException], None] | None = None,
) -> _T:
    """``await attempt()`` until it succeeds, again after a transient failure, with a
    pause doubling from :data:`FIRST_DELAY` to :data:`MAX_DELAY`, for at most
    ``retry_for`` seconds in all. The pauses are on the event loop (nothing blocks it).

    :param what: names the target in the error (with no credentials)
    :param on_retry: called with each transient error before its pause
    :raises FlagWriteError: when a transient failure lasts past ``retry_for``; a failure
        that is not transient is raised as it is, at once
    """
    backoff = _Backoff(is_transient, retry_for, what, on_retry)
    while True:
        backoff.attempts += 1
        try:
            return await attempt()
        except Exception as exc:
            pause = backoff.failed(exc)
        await anyio.sleep(pause)


def retry_sync(
    attempt: Callable[[], _T],
    *,
    is_transient: Callable[[BaseException], bool],
    retry_for: float,
    what: str,
    on_retry: Callable[[BaseException], None] | None = None,
) -> _T:
    """:func:`retry_async` for a blocking ``attempt`` (the pauses block this thread)."""
    backoff = _Backoff(is_transient, retry_for, what, on_retry)
    while True:
        backoff.attempts += 1
        try:
            return attempt()
        except Exception as exc:
            pause = backoff.failed(exc)
        time.sleep(pause)


# -- the flagging callback -----------------------------------------------------------------


class SQLLogger(FlaggingCallback):
    """The flagging callback the SQL loggers share: setup, file saves, encoding, event
    ids and retries. A dialect's logger supplies :meth:`_attempt` (one transaction,
    async) and :meth:`_attempt_now` (the same, blocking, for :meth:`flag`).

    :param table: the table's base name (any text: it is quoted); by default derived
        from the flagging directory's name (:func:`derived_table_name`)
    :param durability: ``"flush"`` or ``"fsync"`` (see each logger)
    :param retry_for: how long a batch is retried after transient failures, in seconds
    :param max_concurrent_saves: the most file saves at once: as many as the cores
        while saves keep them busy, up to this many while they wait on storage
    :param disk: the file operations the saves use
    """

    dialect: ClassVar[Dialect] = Dialect()

    def __init__(
        self,
        *,
        table: str | None = None,
        durability: Literal["flush", "fsync"] = "flush",
        retry_for: float = 30.0,
        max_concurrent_saves: int = 8,
        disk: Disk | None = None,
    ) -> None:
        self.durability: Literal["flush", "fsync"] = one_of(
            "durability", durability, ("flush", "fsync")
        )
        if isinstance(retry_for, bool) or not isinstance(retry_for, int | float):
            raise FlagValueError(f"retry_for must be a number of seconds, got {retry_for!r}")
        if not retry_for >= 0:
            raise FlagValueError(f"retry_for must be 0 or more seconds, got {retry_for!r}")
        positive_int("max_concurrent_saves", max_concurrent_saves)
        if table is not None:
            self.dialect.check_identifier(table, "the table name")
            for prefix in ("asyncflag_", *self.dialect.reserved_prefixes):
                if table.lower().startswith(prefix):
                    keeper = "asyncflag" if prefix == "asyncflag_" else self.dialect.name
                    raise FlagValueError(
                        f"the table name {table!r} starts with {prefix!r}, which {keeper} "
                        "keeps for its own tables: choose another"
                    )
        self.table_base = table
        self.retry_for = float(retry_for)
        self.max_concurrent_saves = max_concurrent_saves
        self.disk = disk or Disk()
        self.components: list[Component] = []
        self.columns: list[SQLColumn] = []
        self.flagging_dir = Path("flagged")
        #: the transient failures retried so far
        self.retries = 0
        self._saver = FileSaver(FileStore(self.flagging_dir), [], [], max_concurrent_saves)
        self._schema = ""
        self._kinds = ""
        self._specs = ""
        self._ready = False

    # -- setup ---------------------------------------------------------------------------

    def setup(self, components: Sequence[Component | str], flagging_dir: str | Path) -> None:
        """Check the components make a table and remember where rows go; nothing is
        opened until the first row.

        :raises FlagValueError: for labels that cannot be column names
        :raises MissingExtraError: without pyarrow
        """
        self.close()
        self.components = [component_from(c) for c in components]
        self.flagging_dir = Path(flagging_dir)
        labels = [c.label or f"component {i}" for i, c in enumerate(self.components)]
        self.columns = [
            SQLColumn(label, column_kind(c), c.holds_files)
            for label, c in zip(labels, self.components, strict=True)
        ]
        if self.table_base is None:
            self.table_base = derived_table_name(self.flagging_dir)
        # checks the labels and the name now, not at the first row
        SQLTable(self.dialect, versioned_name(self.table_base, 2), self.columns)
        self._schema = msgspec.json.encode(DatasetSchema.of(labels, self.components)).decode()
        self._kinds = msgspec.json.encode([c.kind for c in self.columns]).decode()
        self._specs = _component_specs(self.components)
        store = FileStore(self.flagging_dir, fsync=self.durability == "fsync", disk=self.disk)
        self._saver = FileSaver(store, self.components, labels, self.max_concurrent_saves)
        self._ready = True

    def new_record(
        self, records: Sequence[TableRecord], flagging_dir: str
    ) -> tuple[TableRecord, bool]:
        """The table this logger's rows go to among ``records`` (see :func:`choose_table`)."""
        assert self.table_base is not None
        return choose_table(
            records, self.table_base, self._schema, self._kinds, self._specs, flagging_dir
        )

    # -- rows ----------------------------------------------------------------------------

    def encode(
        self,
        rows: Sequence[FlagRow],
        saved: Mapping[tuple[int, int], Any],
        failed: Mapping[int, Exception],
        event_ids: Sequence[str],
    ) -> tuple[list[RowResult], EncodedRows]:
        """The parameters of the rows that can be written; why the others cannot be (in
        the results)."""
        self._check_ready()
        results: list[RowResult] = [0] * len(rows)
        params: list[tuple[Any, ...]] = []
        ids: list[str] = []
        d = self.dialect
        width = len(self.components)
        good: list[int] = []
        for i, row in enumerate(rows):
            if i in failed:
                results[i] = as_write_error(failed[i])
                continue
            try:
                if len(row.data) != width:
                    raise FlagValueError(f"expected {width} values, got {len(row.data)}")
                values = tuple(
                    d.to_db(
                        column.kind,
                        encode_value(component, column.kind, saved.get((i, j), value)),
                    )
                    for j, (component, column, value) in enumerate(
                        zip(self.components, self.columns, row.data, strict=True)
                    )
                )
            except Exception as exc:
                results[i] = as_write_error(exc)
                continue
            good.append(i)
            params.append((*values, row.option, row.username))
            ids.append(event_ids[i])
        stamps = d.timestamps([rows[i].timestamp for i in good])
        params = [(*p, stamp) for p, stamp in zip(params, stamps, strict=True)]
        given = [r.event_id for r in rows if r.event_id is not None]
        return results, EncodedRows(good, params, ids, given)

    async def flag_batch(self, rows: Sequence[FlagRow]) -> list[RowResult]:
        """Save the rows' files, then write every row in one transaction (retried after
        a transient failure; a row whose event id is stored already is not written
        again and gets its stored count)."""
        self._check_ready()
        # Made once, before the first attempt: a retry of this batch reuses them.
        event_ids = [row.event_id or new_event_id() for row in rows]
        saved, failed = await self._saver.save_batch(rows)
        results, encoded = self.encode(rows, saved, failed, event_ids)
        if not encoded.indexes:
            return results
        numbers = await retry_async(
            lambda: self._attempt(encoded),
            is_transient=self.dialect.is_transient,
            retry_for=self.retry_for,
            what=self.describe(),
            on_retry=lambda error: self._note_retry(error, encoded),
        )
        for i, number in zip(encoded.indexes, numbers, strict=True):
            results[i] = number
        return results

    def flag(
        self,
        flag_data: Sequence[Any],
        flag_option: str | None = None,
        username: str | None = None,
    ) -> int:
        """Store one row now (blocking), as Gradio's loggers do."""
        self._check_ready()
        if len(flag_data) != len(self.components):
            raise FlagValueError(f"expected {len(self.components)} values, got {len(flag_data)}")
        data = tuple(c.check(v) for c, v in zip(self.components, flag_data, strict=True))
        row = FlagRow(data, flag_option, username, datetime.now(UTC))
        saved = {
            (0, j): self._saver.save(data[j], j)
            for j in self._saver.file_columns
            if data[j] is not None
        }
        results, encoded = self.encode([row], saved, {}, [new_event_id()])
        result = results[0]
        if isinstance(result, Exception):
            raise result
        (number,) = retry_sync(
            lambda: self._attempt_now(encoded),
            is_transient=self.dialect.is_transient,
            retry_for=self.retry_for,
            what=self.describe(),
            on_retry=lambda error: self._note_retry(error, encoded),
        )
        return number

    def _note_retry(self, error: BaseException, rows: EncodedRows) -> None:
        """Count a retry; from now on every event id is looked up: the failed attempt
        may have committed (a connection lost after its ``COMMIT`` was sent), and its
        rows must then get their stored numbers, not be inserted twice."""
        self.retries += 1
        rows.given_ids = None

    def _check_ready(self) -> None:
        if not self._ready:
            raise FlagValueError(
                f"{type(self).__name__} is not set up: call setup(components, "
                "flagging_dir) first (an Interface does)"
            )

    # -- what a dialect's logger supplies ------------------------------------------------

    @abstractmethod
    def describe(self) -> str:
        """The target, for messages: a path, or a DSN with its password masked."""

    @abstractmethod
    async def _attempt(self, rows: EncodedRows) -> list[int]:
        """Write the rows in one transaction (one attempt); return their numbers."""

    @abstractmethod
    def _attempt_now(self, rows: EncodedRows) -> list[int]:
        """:meth:`_attempt`, blocking."""


def relative_flagging_dir(flagging_dir: Path, anchor: Path) -> str:
    """The flagging directory as the registry records it: relative to ``anchor`` (the
    database's folder) when it can be, else absolute."""
    absolute = flagging_dir.resolve()
    try:
        return os.path.relpath(absolute, anchor.resolve())
    except ValueError:  # another drive
        return str(absolute)
