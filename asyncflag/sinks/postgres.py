"""PostgresLogger: flagged rows into a PostgreSQL table, with psycopg 3 and its pool.

The table model (typed columns, the registry of versions, event ids, gap-free row
numbers, retries) is :mod:`asyncflag.sinks.sql`'s; this module is what PostgreSQL does
its own way:

- **psycopg's blocking API in a worker thread, one hop per batch.** asyncflag runs on
  asyncio and on trio; psycopg's async API (and asyncpg) run on asyncio only. A batch is
  one transaction in one thread hop, so the hop is paid once per batch, not per row
  (docs/sql.md has the figure). Connections come from a
  :class:`psycopg_pool.ConnectionPool` (``pool_size`` at most), which reconnects in the
  background after the server went away.
- **One lock per table.** A batch's transaction locks its table's row of the registry
  (``SELECT ... FOR UPDATE``), then reads the last row number, looks up the batch's
  event ids, and inserts the new rows numbered after it: writers in any number of
  processes and machines take turns per batch, and the numbers stay gap-free.
- **COPY.** The new rows go in with ``COPY ... FROM STDIN``: under the lock, the rows
  already stored are known, so the copy never meets a duplicate (the ``UNIQUE``
  constraints on ``event_id`` and ``row_number`` stand guard all the same).
  ``insert="executemany"`` sends parameterised ``INSERT`` s in a pipeline instead.
- **Durability** per transaction: ``"fsync"`` commits with ``synchronous_commit = on``
  (the commit returns once its WAL is on disk); ``"flush"`` with ``off`` (it returns at
  once; a crash of the server, not a clean restart, can lose the last few hundred
  milliseconds of commits, never part of one).
- **Failures.** The server away, restarting or shutting down, a lost connection, a
  serialization failure or a deadlock: the batch is tried again (the same event ids,
  so rows that did commit are not written twice) with a backoff, for ``retry_for``
  seconds, then its rows fail with :class:`~asyncflag.FlagWriteError`. The DSN's
  password never appears in a message, a log line or a ``repr``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import anyio
import msgspec

from ..checks import one_of, positive_int, require_extra
from ..components import Component, component_from
from ..errors import FlagReadError, FlagValueError
from .disk import Disk
from .sql import (
    REGISTRY_TABLE,
    SQL_METADATA_COLUMNS,
    ColumnKind,
    Dialect,
    EncodedRows,
    SQLLogger,
    SQLTable,
    TableRecord,
    mask_dsn,
    quote_identifier,
    record_from_row,
    registry_create_statement,
    registry_insert_statement,
    registry_select_statement,
)
from .sqlread import TableReader, chosen_tables

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

    from ..read import FlaggedRow

__all__ = [
    "InsertMethod",
    "PostgresDialect",
    "PostgresLogger",
    "is_transient",
    "iter_postgres",
    "postgres_tables",
]

logger = logging.getLogger("asyncflag")

#: how a batch's new rows go in: ``COPY ... FROM STDIN`` or ``executemany`` (pipelined)
InsertMethod = Literal["copy", "executemany"]

#: what connecting fails with for good: no use waiting for these
_PERMANENT_CONNECT_FAILURES = (
    "password authentication failed",
    "no password supplied",
    "does not exist",
    "no pg_hba.conf entry",
    "permission denied",
    "invalid dsn",
    "invalid connection option",
    "invalid integer value",
    "invalid sslmode",
    "certificate",
)
#: an escaped NUL in JSON text (``\u0000`` after an even number of backslashes), which
#: ``jsonb`` refuses
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1
#: the key of the advisory lock taken while the registry or a table is created
_DDL_LOCK = 0x6173796E63666C67  # "asyncflg"


def is_transient(error: BaseException) -> bool:
    """Whether a failed batch may succeed if tried again: the server is away, restarting
    or shutting down, the connection was lost, the pool had no connection in time, or
    the transaction lost a serialization race or a deadlock. A wrong password, an
    unknown database or role, a table the role may not write, a value a column refuses
    are not: their rows fail at once."""
    import psycopg
    from psycopg import errors

    if isinstance(
        error,
        errors.SerializationFailure
        | errors.DeadlockDetected
        | errors.AdminShutdown
        | errors.CrashShutdown
        | errors.CannotConnectNow
        | errors.ConnectionException
        | errors.LockNotAvailable,
    ):
        return True
    if isinstance(error, errors.InvalidAuthorizationSpecification | errors.InvalidCatalogName):
        return False
    if isinstance(error, psycopg.OperationalError):
        # Connecting fails with libpq's message and no SQLSTATE: refused, reset or timed
        # out (the server is away), or refused for good (the password, the database).
        text = str(error).lower()
        return not any(reason in text for reason in _PERMANENT_CONNECT_FAILURES)
    return isinstance(error, OSError | TimeoutError)


class PostgresDialect(Dialect):
    """PostgreSQL's types (``JSONB``, ``TIMESTAMPTZ``, ``BOOLEAN``, ``BIGINT``,
    ``DOUBLE PRECISION``, ``TEXT``), psycopg's ``%s`` parameters and its errors."""

    name: ClassVar[str] = "PostgreSQL"
    placeholder: ClassVar[str] = "%s"
    max_identifier_bytes: ClassVar[int | None] = 63
    types: ClassVar[Mapping[ColumnKind, str]] = {
        "integer": "BIGINT",
        "real": "DOUBLE PRECISION",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMPTZ",
        "json": "JSONB",
        "text": "TEXT",
        "cell": "TEXT",
    }
    #: PostgreSQL keeps ``pg_`` for its system catalogs
    reserved_prefixes: ClassVar[tuple[str, ...]] = ("pg_",)
    counter_type: ClassVar[str] = "BIGINT"
    timestamp_type: ClassVar[str] = "TIMESTAMPTZ"

    def parameter(self, kind: ColumnKind | None = None) -> str:
        """``%s``; ``%s::jsonb`` for JSON given as text."""
        return "%s::jsonb" if kind == "json" else "%s"

    def to_db(self, kind: ColumnKind, value: Any) -> Any:
        """Text and JSON as they are (the server parses JSON text as ``jsonb``), after
        checking PostgreSQL can hold them: its text holds no NUL character.

        :raises FlagValueError: for text with a NUL character (the row alone fails)
        """
        if kind == "integer" and value is not None and not isinstance(value, bool):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or not _BIGINT_MIN <= value <= _BIGINT_MAX:
                raise FlagValueError(
                    f"PostgreSQL BIGINT holds whole numbers from {_BIGINT_MIN} to "
                    f"{_BIGINT_MAX}, not {value!r}"
                )
        if isinstance(value, str):
            if "\x00" in value:
                raise FlagValueError(
                    "PostgreSQL text cannot hold a NUL character (\\x00): remove it from the value"
                )
            if kind == "json" and "\\u0000" in value and _JSON_NUL.search(value):
                raise FlagValueError(
                    "PostgreSQL jsonb cannot hold a NUL character (\\u0000) in a string: "
                    "remove it from the value"
                )
        return value

    def from_db(self, kind: ColumnKind, value: Any) -> Any:
        """``jsonb`` comes back as Python values: made JSON text again."""
        if kind == "json" and value is not None and not isinstance(value, str):
            return msgspec.json.encode(value).decode()
        return value

    def is_transient(self, error: BaseException) -> bool:
        return is_transient(error)


class PostgresLogger(SQLLogger):
    """Logs rows to a PostgreSQL table: typed columns, one transaction per batch,
    exact counts with any number of writers. Files stay in the flagging directory
    (content-addressed, as with :class:`~asyncflag.CSVLogger`); the table holds their
    paths relative to it.

    ``Interface(fn, ..., flagging_callback=PostgresLogger("postgresql://app:secret@db/flags"))``

    The table is named ``table``, or after the flagging directory's folder; the registry
    table ``asyncflag_tables`` records its columns, and other labels or types start the
    next version (``<name>_v2``...). Nothing connects until the first batch.
    ``load_flagged(dsn)``, ``asyncflag show`` and ``asyncflag export`` read it back.

    :param dsn: ``postgresql://user:password@host:port/database`` or libpq's
        ``host=... dbname=... user=... password=...``; shown with its password masked
    :param table: the table's base name (any text up to 63 bytes: it is quoted)
    :param durability: ``"flush"``: commits with ``synchronous_commit = off``;
        ``"fsync"``: with ``on`` (a row counted is on the server's disk)
    :param pool_size: the most connections this logger holds
    :param insert: ``"copy"`` (``COPY ... FROM STDIN``, the default) or
        ``"executemany"`` (``INSERT`` s in a pipeline): see docs/sql.md
    :param retry_for: how long a batch is retried while the server is away, in seconds;
        then its rows fail with :class:`~asyncflag.FlagWriteError`
    :param connect_timeout: how long one attempt waits for a connection, in seconds
    :raises MissingExtraError: without psycopg (``pip install 'asyncflag[postgres]'``)
    :raises FlagValueError: for a DSN psycopg cannot read (shown masked)
    """

    dialect: ClassVar[Dialect] = PostgresDialect()

    def __init__(
        self,
        dsn: str,
        *,
        table: str | None = None,
        durability: Literal["flush", "fsync"] = "flush",
        pool_size: int = 4,
        insert: InsertMethod = "copy",
        retry_for: float = 30.0,
        connect_timeout: float = 5.0,
        max_concurrent_saves: int = 8,
        disk: Disk | None = None,
    ) -> None:
        require_extra("postgres", "PostgresLogger", "psycopg", "psycopg_pool")
        if not isinstance(dsn, str):
            raise FlagValueError(
                f"dsn must be a string (postgresql://user:password@host/db), got "
                f"{type(dsn).__name__}"
            )
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(dsn)
        except Exception:  # psycopg's message quotes the DSN: never shown
            raise FlagValueError(
                f"cannot read the DSN {mask_dsn(dsn)!r}: give "
                "postgresql://user:password@host:port/database or "
                "'host=... dbname=... user=... password=...'"
            ) from None
        super().__init__(
            table=table,
            durability=durability,
            retry_for=retry_for,
            max_concurrent_saves=max_concurrent_saves,
            disk=disk,
        )
        positive_int("pool_size", pool_size)
        if isinstance(connect_timeout, bool) or not isinstance(connect_timeout, int | float):
            raise FlagValueError(
                f"connect_timeout must be a number of seconds, got {connect_timeout!r}"
            )
        if not connect_timeout > 0:
            raise FlagValueError(f"connect_timeout must be over 0 seconds, got {connect_timeout}")
        self._dsn = dsn
        self.pool_size = pool_size
        self.insert: InsertMethod = one_of("insert", insert, ("copy", "executemany"))
        self.connect_timeout = float(connect_timeout)
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._lock = threading.Lock()
        self._table: SQLTable | None = None
        #: the registry record of the table rows go to (known after the first batch)
        self.record: TableRecord | None = None

    @property
    def dsn(self) -> str:
        """The DSN with its password masked (the one given is never shown)."""
        return mask_dsn(self._dsn)

    def __repr__(self) -> str:
        return f"PostgresLogger({self.dsn!r}, table={self.table_base!r})"

    def describe(self) -> str:
        return f"PostgreSQL {self.dsn}"

    @property
    def table(self) -> str | None:
        """The name of the table rows go to, once the first batch found or made it."""
        return self.record.table if self.record is not None else None

    # -- connections -------------------------------------------------------------------

    def _connections(self) -> ConnectionPool[psycopg.Connection[Any]]:
        """The pool, opened on first use (it connects in the background)."""
        with self._lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                # Once, before the pool: what connecting fails with is raised here (the
                # pool would only time out), so a wrong password fails the first batch
                # at once, and a server away is retried.
                self._connect_once()

                pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                    self._dsn,
                    min_size=1,
                    max_size=self.pool_size,
                    open=False,
                    name="asyncflag",
                    timeout=self.connect_timeout,
                    # A connection the server dropped fails its batch, which is tried
                    # again on another: no check query per batch.
                    kwargs={
                        "application_name": "asyncflag",
                        "connect_timeout": max(1, round(self.connect_timeout)),
                    },
                )
                pool.open(wait=False)
                self._pool = pool
            return self._pool

    def close(self) -> None:
        """Close the pool's connections; the next batch opens it again (and looks its
        table up again)."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._table = self.record = None
        if pool is not None:
            pool.close()

    # -- a batch -----------------------------------------------------------------------

    async def _attempt(self, rows: EncodedRows) -> list[int]:
        # A transaction is atomic: cancelled mid-way (a timed-out shutdown), the thread
        # goes on and commits all of the batch or none of it.
        try:
            return await anyio.to_thread.run_sync(self._attempt_now, rows, abandon_on_cancel=True)
        except Exception as exc:
            if is_transient(exc):
                logger.warning(
                    "asyncflag: %s: %s: %s; the batch of %d rows is tried again",
                    self.describe(),
                    type(exc).__name__,
                    str(exc).strip(),
                    len(rows.indexes),
                )
            raise

    def _attempt_now(self, rows: EncodedRows) -> list[int]:
        """Write the rows in one transaction: lock the table, number them, COPY."""
        from psycopg_pool import PoolTimeout

        try:
            with self._connections().connection(timeout=self.connect_timeout) as conn:
                return self._write(conn, rows)
        except PoolTimeout:
            # The pool says only that no connection came in time; connecting once here
            # says why: refused (the server is away: tried again) or for good (a wrong
            # password, an unknown database: the rows fail now, not after retry_for).
            self._connect_once()
            raise

    def _connect_once(self) -> None:
        """Connect and disconnect, raising what connecting fails with."""
        import psycopg

        timeout = max(1, round(self.connect_timeout))
        psycopg.connect(self._dsn, connect_timeout=timeout, application_name="asyncflag").close()

    def _write(self, conn: psycopg.Connection[Any], rows: EncodedRows) -> list[int]:
        """One transaction: the durability, the table's lock and what the batch needs to
        know (its event ids stored already, the last row number) in one round trip
        (psycopg's pipeline mode, the ``BEGIN`` with them), then the rows, then the
        commit. Whatever fails rolls the whole batch back."""
        table, record = self._table_of(conn)
        synchronous = "on" if self.durability == "fsync" else "off"
        # the ids that may be stored: those the rows came with, every one after a retry
        ids = rows.ids_to_look_up()
        try:
            with conn.pipeline():
                conn.execute(f"SET LOCAL synchronous_commit TO {synchronous}")
                # the per-table lock: writers anywhere take turns per batch
                conn.execute(
                    f'SELECT 1 FROM {quote_identifier(REGISTRY_TABLE)} WHERE "table" = %s '
                    "FOR UPDATE",
                    (record.table,),
                )
                stored = (
                    conn.execute(
                        f'SELECT "event_id", "row_number" FROM {table.quoted} '
                        'WHERE "event_id" = ANY(%s)',
                        (ids,),
                    )
                    if ids
                    else None
                )
                last = conn.execute(table.last_number_statement())
            found_ids = stored.fetchall() if stored is not None else []
            existing = {str(event_id): int(number) for event_id, number in found_ids}
            found = last.fetchone()
            inserts, numbers = table.number_rows(rows, existing, int(found[0]) if found else 0)
            if inserts:
                with conn.cursor() as cursor:
                    insert_rows(cursor, table, inserts, self.insert)
            conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):  # a connection lost cannot roll back
                conn.rollback()
            raise
        return numbers

    def _table_of(self, conn: psycopg.Connection[Any]) -> tuple[SQLTable, TableRecord]:
        """The table this logger's rows go to: found in the registry, or created and
        registered (under an advisory lock, so that writers starting together agree)."""
        if self._table is not None and self.record is not None:
            return self._table, self.record
        d = self.dialect
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
            cursor.execute(registry_create_statement(d))
            cursor.execute(registry_select_statement(d), (self.table_base,))
            records = [record_from_row(row) for row in cursor.fetchall()]
            record, new = self.new_record(records, str(self.flagging_dir.resolve()))
            table = SQLTable(d, record.table, record.columns())
            if new:
                cursor.execute(table.create_statement())
                cursor.execute(registry_insert_statement(d), msgspec.structs.astuple(record))
        self._table, self.record = table, record
        return table, record


def insert_rows(
    cursor: psycopg.Cursor[Any],
    table: SQLTable,
    rows: Sequence[Sequence[Any]],
    method: InsertMethod,
) -> None:
    """Insert whole rows (every column, in order) into ``table``.

    ``copy``: ``COPY ... FROM STDIN`` in text format, each value written by psycopg's
    dumpers (JSON text is parsed by the server as the column's ``jsonb``).
    ``executemany``: the parameterised ``INSERT``, sent for every row in a pipeline.
    """
    if method == "copy":
        names = [*(c.name for c in table.columns), *SQL_METADATA_COLUMNS]
        columns = ", ".join(map(quote_identifier, names))
        with cursor.copy(f"COPY {table.quoted} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        cursor.executemany(table.insert_statement(), rows)


# -- reading back ------------------------------------------------------------------------


def _connect_to_read(dsn: str) -> psycopg.Connection[Any]:
    """A connection for reading, or a clear error (the DSN masked).

    :raises FlagReadError: when the server cannot be reached or refuses
    """
    require_extra("postgres", "reading a PostgreSQL table", "psycopg")
    import psycopg

    try:
        conn = psycopg.connect(
            dsn, connect_timeout=10, application_name="asyncflag", autocommit=True
        )
        conn.execute("SET TIME ZONE 'UTC'")  # timestamps come back in UTC, as from a CSV
        return conn
    except psycopg.Error as exc:
        raise FlagReadError(
            f"cannot read {mask_dsn(dsn)}: {type(exc).__name__}: {str(exc).strip()}",
            file=mask_dsn(dsn),
        ) from None


def _records(conn: psycopg.Connection[Any], dsn: str) -> list[TableRecord]:
    found = conn.execute("SELECT to_regclass(%s)", (quote_identifier(REGISTRY_TABLE),)).fetchone()
    if found is None or found[0] is None:
        raise FlagReadError(
            f"{mask_dsn(dsn)} has no flagged rows: the database has no {REGISTRY_TABLE} "
            "table (PostgresLogger makes it with its first batch)",
            file=mask_dsn(dsn),
        )
    statement = registry_select_statement(PostgresLogger.dialect, base=False)
    return [record_from_row(row) for row in conn.execute(statement)]


def postgres_tables(dsn: str) -> list[TableRecord]:
    """The flagging tables of a PostgreSQL database, by base name and version.

    :raises FlagReadError: when it cannot be read or has no asyncflag tables
    """
    with _connect_to_read(dsn) as conn:
        return _records(conn, dsn)


def iter_postgres(
    dsn: str,
    components: Sequence[Component | str] | None = None,
    *,
    table: str | Sequence[str] | None = None,
    unsafe_paths: Literal["raise", "skip"] = "raise",
) -> Iterator[FlaggedRow]:
    """Yield the rows of a PostgreSQL database's flagging tables, as
    :func:`~asyncflag.sinks.sqlite.iter_sqlite` yields a SQLite database's: table by
    table (each base name's versions in order), in row-number order, typed by the
    components recorded with each table (or ``components``). Rows are fetched a
    thousand at a time through a server-side cursor, so a table of any size streams.
    A row's ``file`` is ``<masked DSN>#<table>``.

    :param table: a table name or base name (every version of it), or several
    :raises FlagReadError: when the database cannot be read or a value not decoded
    :raises UnsafePathError: for a file path outside the flagging directory (unless
        ``unsafe_paths="skip"``)
    :raises FlagValueError: for a table the database does not have
    """
    one_of("unsafe_paths", unsafe_paths, ("raise", "skip"))
    given = [component_from(c) for c in components] if components is not None else None
    with _connect_to_read(dsn) as conn:  # the tables are checked now, not at the first row
        records = chosen_tables(_records(conn, dsn), table, mask_dsn(dsn))
    return _iter_rows(dsn, records, given, unsafe_paths)


def _iter_rows(
    dsn: str, records: list[TableRecord], given: list[Component] | None, unsafe_paths: str
) -> Iterator[FlaggedRow]:
    import psycopg

    shown = mask_dsn(dsn)
    with _connect_to_read(dsn) as conn:
        for record in records:
            reader = TableReader(
                PostgresLogger.dialect,
                record,
                given,
                name=f"{shown}#{record.table}",
                root=Path(record.flagging_dir),
            )
            statement = SQLTable(PostgresLogger.dialect, record.table, reader.columns)
            try:
                with conn.transaction(), conn.cursor(name="asyncflag_read") as cursor:
                    cursor.execute(statement.select_statement())
                    while batch := cursor.fetchmany(1000):
                        for raw in batch:
                            row = reader.row(raw, unsafe_paths)
                            if row is not None:
                                yield row
            except psycopg.Error as exc:
                raise FlagReadError(
                    f"{reader.name}: {type(exc).__name__}: {str(exc).strip()}", file=reader.name
                ) from None
