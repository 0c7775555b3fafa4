"""The PostgreSQL side of the ``sql`` case: how a batch goes in, and what a batch pays to
run psycopg's blocking API in a worker thread.

- ``COPY`` vs ``executemany``: the same rows through :class:`~asyncflag.PostgresLogger`'s
  ``flag_batch`` in batches of 4,096 (the writer's largest), with ``insert="copy"`` and
  ``insert="executemany"`` (psycopg sends the ``INSERT`` s in a pipeline), into a
  throwaway server (:mod:`benchmarks.postgres_server`) on this machine;
- the thread hop: one ``anyio.to_thread.run_sync`` round trip, the price of running on
  asyncio and trio alike (psycopg's async API runs on asyncio only), beside the time a
  batch's transaction takes.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from asyncflag import FlagRow, PostgresLogger, components
from asyncflag.sinks.postgres import InsertMethod

from ._common import Result, Settings, make_rows
from .postgres_server import PostgresServer, postgres_bin_dir

#: the writer's largest batch (Interface(max_batch=...) by default)
BATCH = 4096


def six_components() -> list[components.Component]:
    """The columns of benchmarks._common.six_column_interface."""
    return [
        components.Textbox(label="prompt"),
        components.Textbox(label="context"),
        components.Textbox(label="user"),
        components.Number(label="temperature"),
        components.Checkbox(label="stream"),
        components.Textbox(label="answer"),
    ]


def flag_rows(values: Sequence[tuple[Any, ...]]) -> list[FlagRow]:
    stamp = datetime.now(UTC)
    return [FlagRow(tuple(row), None, None, stamp) for row in values]


async def insert_rate(dsn: str, directory: Path, count: int, method: InsertMethod) -> float:
    """Rows/s of ``count`` six-column rows through ``flag_batch`` in batches of
    :data:`BATCH`, with ``insert=method`` (the table made and the pool connected before
    the clock starts)."""
    rows = flag_rows(make_rows(count))
    logger = PostgresLogger(dsn, table=f"insert_{method}", insert=method)
    logger.setup(six_components(), directory)
    try:
        await logger.flag_batch(rows[:1])
        started = time.perf_counter()
        for start in range(0, count, BATCH):
            results = await logger.flag_batch(rows[start : start + BATCH])
            assert all(isinstance(r, int) for r in results), results[:3]
        elapsed = time.perf_counter() - started
    finally:
        await anyio.to_thread.run_sync(logger.close)
    return count / elapsed


async def thread_hop_us(count: int) -> float:
    """The mean round trip of ``anyio.to_thread.run_sync`` doing nothing, in microseconds."""
    await anyio.to_thread.run_sync(lambda: None)  # the worker thread exists
    started = time.perf_counter()
    for _ in range(count):
        await anyio.to_thread.run_sync(lambda: None)
    return (time.perf_counter() - started) / count * 1e6


class PostgresBench:
    """The PostgreSQL sink for :mod:`benchmarks.sql`: its factory (a table per folder, in
    a throwaway server) and its own rows; nothing when PostgreSQL is not installed.

    :param server: the running server, or ``None`` to leave PostgreSQL out
    """

    def __init__(self, server: PostgresServer | None) -> None:
        self.server = server

    @property
    def sinks(self) -> list[tuple[str, Callable[[Path], Any]]]:
        """``[("postgresql", factory)]`` with a server, else nothing."""
        server = self.server
        if server is None:
            return []
        # the table is named after the folder (postgresql-rate, postgresql-latency)
        return [("postgresql", lambda folder: PostgresLogger(server.dsn))]

    async def results(
        self, settings: Settings, directory: Path, latency_p50: float | None
    ) -> list[Result]:
        """COPY against executemany on the same rows, and the thread hop per batch
        beside ``latency_p50`` (the sink's flag -> committed p50 at 1,000 flags/s)."""
        if self.server is None:
            return []
        count = settings.rows(100_000, 5_000)
        rates = {
            method: await insert_rate(self.server.dsn, directory, count, method)
            for method in ("copy", "executemany")
        }
        results = [
            Result(
                "sql",
                f"postgresql: COPY, {count:,} rows in batches of {BATCH:,}",
                rates["copy"],
                "rows/s",
                "executemany (pipeline), same rows",
                rates["executemany"],
                rates["copy"] / rates["executemany"],
                "PostgresLogger(insert='copy') is the default",
                extra={"rows": count, "batch": BATCH},
            )
        ]
        hop = await thread_hop_us(settings.rows(20_000, 1_000))
        if latency_p50 is not None:
            results.append(
                Result(
                    "sql",
                    "postgresql: worker-thread hop per batch (asyncio and trio alike)",
                    hop,
                    "us",
                    "flag -> committed p50 at 1,000 flags/s",
                    latency_p50,
                    latency_p50 / hop,
                    "psycopg's blocking API in one thread hop per batch",
                )
            )
        return results


@contextmanager
def postgres_bench() -> Iterator[PostgresBench]:
    """A throwaway PostgreSQL server for the run (fsync on), or none when PostgreSQL or
    psycopg is not installed."""
    if postgres_bin_dir() is None or importlib.util.find_spec("psycopg") is None:
        yield PostgresBench(None)
        return
    with PostgresServer(fsync=True) as server:
        yield PostgresBench(server)
