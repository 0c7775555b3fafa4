"""SQLiteLogger: flagged rows in a SQLite database (stdlib ``sqlite3``), and reading
them back.

The database is in WAL mode; each batch is one ``BEGIN IMMEDIATE`` transaction, which
takes SQLite's one write lock, so several processes writing one file each get whole
rows and exact, gap-free counts. The model (tables, versions, event ids, retries) is
:mod:`asyncflag.sinks.sql`'s.

Threads: the logger has one connection, opened with ``check_same_thread=False`` and
used only under a ``threading.Lock``, from anyio's worker threads behind a
``CapacityLimiter(1)``. So one thread at a time uses it, never the event loop's. A
dedicated thread of our own would do the same with more to start and stop; Python's
``sqlite3`` (its library built thread-safe, ``sqlite3.threadsafety`` 3 here) lets a
connection move between threads when the calls never overlap, which the lock makes
sure of. A shutdown that gives up waiting abandons the worker thread: its transaction
still commits or rolls back whole, under the lock, before :meth:`SQLiteLogger.close`
closes the connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import quote

import anyio
import msgspec

from ..components import Component, component_from
from ..errors import FlagReadError, FlagValueError, FlagWriteError
from .csvfile import timestamp_cells
from .disk import Disk
from .sql import (
    REGISTRY_TABLE,
    ColumnKind,
    Dialect,
    EncodedRows,
    SQLLogger,
    SQLTable,
    TableRecord,
    record_from_row,
    registry_create_statement,
    registry_insert_statement,
    registry_select_statement,
    relative_flagging_dir,
)
from .sqlread import TableReader, chosen_tables

if TYPE_CHECKING:
    from ..read import FlaggedRow

__all__ = [
    "DEFAULT_DATABASE",
    "SQLITE_SUFFIXES",
    "SQLiteDialect",
    "SQLiteLogger",
    "chosen_tables",
    "is_sqlite_source",
    "iter_sqlite",
    "sqlite_path",
    "sqlite_tables",
    "table_root",
]

#: the database's file name in the flagging directory when no path is given
DEFAULT_DATABASE = "flagged.db"
#: the file name endings read as a SQLite database (``load_flagged``, the CLI)
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_HEADER = b"SQLite format 3\x00"
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_NOTADB = 26
_SQLITE_CORRUPT = 11


class SQLiteDialect(Dialect):
    """SQLite: ``?`` parameters, booleans as 0/1 integers, timestamps as ISO 8601 text
    with their zone, JSON as text; a busy or locked database is transient."""

    name = "SQLite"
    types: ClassVar[dict[ColumnKind, str]] = {
        "integer": "INTEGER",
        "real": "REAL",
        "boolean": "INTEGER",
        "timestamp": "TEXT",
        "json": "TEXT",
        "text": "TEXT",
        "cell": "TEXT",
    }
    counter_type = "INTEGER"
    timestamp_type = "TEXT"
    reserved_prefixes = ("sqlite_",)

    def to_db(self, kind: ColumnKind, value: Any) -> Any:
        if value is None:
            return None
        if kind == "boolean":
            return int(bool(value))
        if kind == "timestamp" and isinstance(value, datetime):
            return value.isoformat()
        return value

    def from_db(self, kind: ColumnKind, value: Any) -> Any:
        if value is None:
            return None
        if kind == "boolean":
            return bool(value)
        if kind == "timestamp":
            return datetime.fromisoformat(str(value))
        return value

    def timestamps(self, stamps: Sequence[datetime | None]) -> list[Any]:
        return [cell or None for cell in timestamp_cells(stamps)]

    def is_transient(self, error: BaseException) -> bool:
        if not isinstance(error, sqlite3.OperationalError):
            return False
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None:
            return (code & 0xFF) in (_SQLITE_BUSY, _SQLITE_LOCKED)
        text = str(error)
        return "locked" in text or "busy" in text


def sqlite_path(source: str | Path) -> Path | None:
    """The database file a source names: ``sqlite:///path`` (``sqlite:////abs/path``
    for an absolute one) or a path ending ``.db``, ``.sqlite`` or ``.sqlite3``; ``None``
    for anything else (a flagging directory)."""
    text = str(source)
    if text.startswith("sqlite:///"):
        return Path(text[len("sqlite:///") :])
    path = Path(source)
    if path.suffix.lower() in SQLITE_SUFFIXES and not path.is_dir():
        return path
    return None


def is_sqlite_source(source: str | Path) -> bool:
    """Whether ``source`` names a SQLite database (see :func:`sqlite_path`)."""
    return sqlite_path(source) is not None


@contextmanager
def _write_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, begun at once (``BEGIN IMMEDIATE``: the write lock, or the
    busy timeout, now rather than at the first write), committed, or rolled back when
    anything (a cancellation too) ends it early."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _check_header(path: Path) -> None:
    """Refuse a file that is not a SQLite database (an empty file is a new one).

    :raises FlagValueError: naming the file and what to do
    """
    try:
        with path.open("rb") as file:
            head = file.read(len(_HEADER))
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise FlagValueError(f"{path} is a directory, not a SQLite database file") from None
    if head and head != _HEADER:
        raise FlagValueError(_not_a_database(path))


def _not_a_database(path: Path, detail: str = "") -> str:
    if detail:
        return (
            f"{path} is not a SQLite database, or a damaged one ({detail}): move it away "
            "or give another path"
        )
    return (
        f"{path} is not a SQLite database: it does not start as one (is it another kind "
        "of file, or encrypted?); move it away or give another path"
    )


def _database_error(path: Path, error: sqlite3.DatabaseError) -> Exception:
    """A clear error for a file SQLite cannot use (not a database, corrupted)."""
    code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
    if code in (_SQLITE_NOTADB, _SQLITE_CORRUPT) or "not a database" in str(error):
        failure = FlagWriteError(_not_a_database(path, str(error)))
        failure.__cause__ = error
        return failure
    return error


class SQLiteLogger(SQLLogger):
    """Logs rows to a SQLite database, one table per interface (see
    :mod:`asyncflag.sinks.sql` for the table, its versions, event ids and retries).

    Saved files stay in the flagging directory (content-addressed, as the CSV loggers
    save them); the table holds their paths relative to it, and the registry records
    where it is relative to the database.

    :param path: the database file (``sqlite:///path`` too); by default
        ``<flagging_dir>/flagged.db``
    :param table: the table's base name (any text; quoted); by default derived from
        the flagging directory's name
    :param durability: ``"flush"``: ``synchronous=NORMAL`` in WAL mode (a committed batch
        survives the process crashing; the last ones may be lost if the machine does);
        ``"fsync"``: ``synchronous=FULL`` (each commit waits for the disk), and saved
        files fsynced
    :param busy_timeout: how long SQLite itself waits for another writer's lock, in
        seconds, before an attempt fails as busy (and is retried)
    :param retry_for: how long a batch is retried after busy failures, in seconds
    :param max_concurrent_saves: the most file saves at once: as many as the cores
        while saves keep them busy, up to this many while they wait on storage
    :param disk: the file operations the saves use
    """

    dialect: ClassVar[Dialect] = SQLiteDialect()

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        table: str | None = None,
        durability: Literal["flush", "fsync"] = "flush",
        busy_timeout: float = 5.0,
        retry_for: float = 30.0,
        max_concurrent_saves: int = 8,
        disk: Disk | None = None,
    ) -> None:
        super().__init__(
            table=table,
            durability=durability,
            retry_for=retry_for,
            max_concurrent_saves=max_concurrent_saves,
            disk=disk,
        )
        if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, int | float):
            raise FlagValueError(f"busy_timeout must be a number of seconds, got {busy_timeout!r}")
        if not busy_timeout >= 0:
            raise FlagValueError(f"busy_timeout must be 0 or more seconds, got {busy_timeout!r}")
        self.busy_timeout = float(busy_timeout)
        self._given_path = None if path is None else (sqlite_path(path) or Path(path))
        #: the database file (known once set up)
        self.path: Path = self._given_path or Path(DEFAULT_DATABASE)
        self._lock = threading.Lock()
        self._limiter = anyio.CapacityLimiter(1)
        self._connection: sqlite3.Connection | None = None
        self._table: SQLTable | None = None
        #: the registry record of the table rows go to (known after the first batch)
        self.record: TableRecord | None = None

    def setup(self, components: Sequence[Component | str], flagging_dir: str | Path) -> None:
        """Check the components and the database file; nothing is written until the
        first row.

        :raises FlagValueError: for a file that is not a SQLite database, or labels
            that cannot be column names
        """
        super().setup(components, flagging_dir)
        self.record = None
        self.path = self._given_path or Path(flagging_dir) / DEFAULT_DATABASE
        _check_header(self.path)

    def describe(self) -> str:
        return f"the SQLite database {self.path}"

    @property
    def table(self) -> str | None:
        """The table rows go to (known after the first batch)."""
        return self.record.table if self.record else None

    async def _attempt(self, rows: EncodedRows) -> list[int]:
        return await anyio.to_thread.run_sync(
            self._attempt_now, rows, limiter=self._limiter, abandon_on_cancel=True
        )

    def _attempt_now(self, rows: EncodedRows) -> list[int]:
        with self._lock:
            connection = self._connect()
            table = self._table or self._choose_table(connection)
            try:
                with _write_transaction(connection):
                    return table.write(connection.cursor(), rows)
            except sqlite3.DatabaseError as exc:
                raise _database_error(self.path, exc) from None

    def _connect(self) -> sqlite3.Connection:
        """The connection, opened (WAL, synchronous, busy timeout) on first use."""
        if self._connection is not None:
            return self._connection
        _check_header(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise FlagWriteError(f"cannot open the SQLite database {self.path}: {exc}") from None
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            connection.execute("PRAGMA journal_mode = WAL").fetchone()
            synchronous = "FULL" if self.durability == "fsync" else "NORMAL"
            connection.execute(f"PRAGMA synchronous = {synchronous}")
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise _database_error(self.path, exc) from None
        self._connection = connection
        return connection

    def _choose_table(self, connection: sqlite3.Connection) -> SQLTable:
        """Find or create the table of this logger's columns (one transaction)."""
        d = self.dialect
        try:
            with _write_transaction(connection):
                connection.execute(registry_create_statement(d))
                assert self.table_base is not None
                records = [
                    record_from_row(row)
                    for row in connection.execute(registry_select_statement(d), (self.table_base,))
                ]
                anchor = relative_flagging_dir(self.flagging_dir, self.path.parent)
                record, new = self.new_record(records, anchor)
                table = SQLTable(d, record.table, self.columns)
                if new:
                    exists = connection.execute(
                        "SELECT 1 FROM sqlite_master WHERE name = ?", (record.table,)
                    ).fetchone()
                    if exists:
                        raise FlagValueError(
                            f"{self.path} has a table {record.table!r} that asyncflag did not "
                            "create (it is not in asyncflag_tables): give SQLiteLogger another "
                            "table= name"
                        )
                    connection.execute(table.create_statement())
                    connection.execute(
                        registry_insert_statement(d), msgspec.structs.astuple(record)
                    )
        except sqlite3.DatabaseError as exc:
            raise _database_error(self.path, exc) from None
        self._table = table
        self.record = record
        return table

    def close(self) -> None:
        """Close the connection (after any batch being written); the next row opens it
        again."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            self._table = None


# -- reading back -------------------------------------------------------------------------


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing database.

    :raises FlagReadError: for a missing file or one that is not a SQLite database
    """
    if not path.is_file():
        raise FlagReadError(f"{path}: no such SQLite database file", file=str(path))
    try:
        _check_header(path)
    except FlagValueError as exc:
        raise FlagReadError(str(exc), file=str(path)) from None
    uri = f"file:{quote(str(path.absolute()))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        connection.execute("PRAGMA query_only = 1")
    except sqlite3.Error as exc:
        raise FlagReadError(
            f"cannot open the SQLite database {path}: {exc}", file=str(path)
        ) from None
    return connection


def sqlite_tables(path: str | Path) -> list[TableRecord]:
    """The flagging tables of a SQLite database, by base name and version.

    :raises FlagReadError: for a file that is not a SQLite database or has no
        asyncflag tables
    """
    database = sqlite_path(path) or Path(path)
    connection = _open_read_only(database)
    try:
        return _records(connection, database)
    finally:
        connection.close()


def _records(connection: sqlite3.Connection, path: Path) -> list[TableRecord]:
    try:
        found = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (REGISTRY_TABLE,)
        ).fetchone()
        if not found:
            raise FlagReadError(
                f"{path} has no flagged rows: it is a SQLite database without the "
                f"{REGISTRY_TABLE} table SQLiteLogger writes",
                file=str(path),
            )
        dialect = SQLiteLogger.dialect
        return [
            record_from_row(row)
            for row in connection.execute(registry_select_statement(dialect, base=False))
        ]
    except sqlite3.DatabaseError as exc:
        raise FlagReadError(_not_a_database(path, str(exc)), file=str(path)) from None


def iter_sqlite(
    source: str | Path,
    components: Sequence[Component | str] | None = None,
    *,
    table: str | Sequence[str] | None = None,
    unsafe_paths: Literal["raise", "skip"] = "raise",
) -> Iterator[FlaggedRow]:
    """Yield the rows of a SQLite database's flagging tables as
    :class:`~asyncflag.FlaggedRow` values, table by table (each base name's versions in
    order), one row at a time, each table in row-number order.

    Values are decoded by the components recorded with each table (numbers, booleans,
    JSON, the absolute paths of saved files, confined to the flagging directory as
    :func:`~asyncflag.iter_flagged` confines them); ``components`` given decode instead
    (the first ``len(components)`` columns). A comment column (a last ``comment``) and
    correction columns (``"<label> (correction)"`` for the last values) are given as
    the row's ``comment`` and ``correction``, as from a dataset file. A row's ``file``
    is ``<database>#<table>``.

    :param table: a base name (``flagged``: every version of it) or one version's table
        (``flagged_v2``; ``flagged_v1`` for the first), or several (see
        :func:`chosen_tables`); every table by default
    :raises FlagReadError: for a file that is not a SQLite database or holds no
        flagging tables, or a value that cannot be read (naming table, row and column)
    :raises UnsafePathError: for a file path outside the flagging directory (unless
        ``unsafe_paths="skip"``, which leaves such rows out)
    :raises FlagValueError: for a table the database does not have
    """
    database = sqlite_path(source) or Path(source)
    given = [component_from(c) for c in components] if components is not None else None
    records = chosen_tables(sqlite_tables(database), table, database)  # checked now
    return _iter_rows(database, records, given, unsafe_paths)


def table_root(database: Path, record: TableRecord) -> Path:
    """The flagging directory holding a table's saved files (the registry records it
    relative to the database's folder)."""
    root = Path(record.flagging_dir)
    return root if root.is_absolute() else database.parent / root


def _iter_rows(
    database: Path,
    records: list[TableRecord],
    given: list[Component] | None,
    unsafe_paths: str,
) -> Iterator[FlaggedRow]:
    connection = _open_read_only(database)
    try:
        for record in records:
            reader = TableReader(
                SQLiteLogger.dialect,
                record,
                given,
                name=f"{database}#{record.table}",
                root=table_root(database, record),
            )
            sql = SQLTable(SQLiteLogger.dialect, record.table, reader.columns)
            try:
                cursor = connection.execute(sql.select_statement())
                while batch := cursor.fetchmany(1024):
                    for raw in batch:
                        row = reader.row(raw, unsafe_paths)
                        if row is not None:
                            yield row
            except sqlite3.DatabaseError as exc:
                raise FlagReadError(f"{reader.name}: {exc}", file=reader.name) from None
    finally:
        connection.close()
