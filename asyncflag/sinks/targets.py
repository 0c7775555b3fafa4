"""Databases named by a URL or a path: ``postgresql://...``, ``sqlite:///path``.

What ``asyncflag consume --to``, ``asyncflag show`` and ``load_flagged`` accept besides a
flagging directory, and the logger each one names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..errors import FlagValueError
from .csvfile import Durability
from .sql import SQLLogger, TableRecord, mask_dsn

__all__ = [
    "check_sql_target",
    "database_tables",
    "is_database_source",
    "is_postgres_target",
    "shown_source",
    "sql_logger",
    "sql_target_kind",
]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_SQLITE_SCHEME = "sqlite:///"


def is_postgres_target(target: object) -> bool:
    """Whether ``target`` is a PostgreSQL URL (``postgresql://`` or ``postgres://``)."""
    return isinstance(target, str) and target.lower().startswith(_POSTGRES_SCHEMES)


def sql_target_kind(target: object) -> Literal["postgresql", "sqlite"] | None:
    """``"postgresql"`` for a PostgreSQL URL, ``"sqlite"`` for ``sqlite:///path``, else
    ``None`` (a flagging directory)."""
    if is_postgres_target(target):
        return "postgresql"
    if isinstance(target, str) and target.lower().startswith(_SQLITE_SCHEME):
        return "sqlite"
    return None


def check_sql_target(target: str) -> Literal["postgresql", "sqlite"]:
    """The kind of a database target.

    :raises FlagValueError: for anything else, shown without its password
    """
    kind = sql_target_kind(target)
    if kind is None:
        raise FlagValueError(
            f"cannot write rows to {mask_dsn(target)!r}: give postgresql://user:password@"
            "host:port/database (PostgreSQL) or sqlite:///path/to/flags.db (SQLite)"
        )
    return kind


def sql_logger(
    target: str, *, table: str | None = None, durability: Durability = "flush"
) -> SQLLogger:
    """The logger writing into a database target: a :class:`~asyncflag.PostgresLogger`
    or a :class:`~asyncflag.SQLiteLogger`.

    :raises FlagValueError: for a target that is neither
    """
    if check_sql_target(target) == "postgresql":
        from .postgres import PostgresLogger

        return PostgresLogger(target, table=table, durability=durability)
    from .sqlite import SQLiteLogger

    return SQLiteLogger(target, table=table, durability=durability)


def database_tables(source: str | Path) -> list[TableRecord]:
    """The flagging tables of a SQLite database or a PostgreSQL one, by base name and
    version.

    :raises FlagReadError: when the database cannot be read or holds no flagging tables
    """
    if is_postgres_target(source):
        from .postgres import postgres_tables

        return postgres_tables(str(source))
    from .sqlite import sqlite_tables

    return sqlite_tables(source)


def is_database_source(source: str | Path) -> bool:
    """Whether ``source`` names a database to read: a PostgreSQL URL or a SQLite file
    (:func:`~asyncflag.sinks.sqlite.sqlite_path`)."""
    from .sqlite import sqlite_path

    return is_postgres_target(source) or sqlite_path(source) is not None


def shown_source(source: str | Path) -> str:
    """A database as messages and rows' ``file`` name it: a DSN with its password
    masked, a SQLite file by its path."""
    if is_postgres_target(source):
        return mask_dsn(str(source))
    from .sqlite import sqlite_path

    return str(sqlite_path(source) or source)
