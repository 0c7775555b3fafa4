"""Database targets named by a URL: ``postgresql://...``.

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
    "is_postgres_target",
    "shown_source",
    "sql_logger",
    "sql_target_kind",
]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_target(target: object) -> bool:
    """Whether ``target`` is a PostgreSQL URL (``postgresql://`` or ``postgres://``)."""
    return isinstance(target, str) and target.lower().startswith(_POSTGRES_SCHEMES)


def sql_target_kind(target: object) -> Literal["postgresql"] | None:
    """``"postgresql"`` for a PostgreSQL URL, else ``None`` (a flagging directory)."""
    if is_postgres_target(target):
        return "postgresql"
    return None


def check_sql_target(target: str) -> Literal["postgresql"]:
    """The kind of a database target.

    :raises FlagValueError: for anything else, shown without its password
    """
    kind = sql_target_kind(target)
    if kind is None:
        raise FlagValueError(
            f"cannot write rows to {mask_dsn(target)!r}: give postgresql://user:password@"
            "host:port/database"
        )
    return kind


def sql_logger(
    target: str, *, table: str | None = None, durability: Durability = "flush"
) -> SQLLogger:
    """The logger writing into a database target: a :class:`~asyncflag.PostgresLogger`
    or a :class:`~asyncflag.SQLiteLogger`.

    :raises FlagValueError: for a target that is neither
    """
    check_sql_target(target)
    from .postgres import PostgresLogger

    return PostgresLogger(target, table=table, durability=durability)


def database_tables(source: str | Path) -> list[TableRecord]:
    """The flagging tables of a SQLite database or a PostgreSQL one, by base name and
    version.

    :raises FlagReadError: when the database cannot be read or holds no flagging tables
    """
    from .postgres import postgres_tables

    return postgres_tables(str(source))


def shown_source(source: str | Path) -> str:
    """A database or folder as messages show it: a DSN with its password masked."""
    return mask_dsn(str(source)) if is_postgres_target(source) else str(source)
