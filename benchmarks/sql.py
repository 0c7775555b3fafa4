"""The SQL sinks beside the CSV sink, in the same run: rows/s from ``flag_nowait`` to rows
committed, and the open-loop latency from ``flag_nowait`` to committed at 1,000 flags/s.

Each sink is a factory in :data:`SINKS` (a name and a function making the flagging
callback for a folder); the CSV sink is the baseline every other one is compared to.
PostgreSQL is measured in a throwaway server the run starts (``fsync`` on), when
PostgreSQL and psycopg are installed: its sink, then COPY against executemany on 100,000
rows and the worker-thread hop a batch pays (:mod:`benchmarks.sql_postgres`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from asyncflag import CSVLogger, FlagReceipt, SQLiteLogger

from ._common import (
    Result,
    Settings,
    flag_all_nowait,
    histogram,
    make_rows,
    percentiles,
    progress,
    scratch_dir,
    six_column_interface,
)
from .sql_postgres import postgres_bench

#: makes a sink's flagging callback for a folder (``None``: the sink is not available)
SinkFactory = Callable[[Path], Any]

#: the sinks measured, by name; the first is the baseline of the others
SINKS: list[tuple[str, SinkFactory]] = [
    ("csv", lambda folder: CSVLogger()),
    ("sqlite", lambda folder: SQLiteLogger(folder / "flagged.db")),
]

#: the offered rate of the latency measurement, in flags/s
RATE = 1_000


async def rows_per_second(callback: Any, folder: Path, count: int, name: str) -> float:
    """``flag_nowait`` of ``count`` ready rows, timed until the last is committed."""
    rows = make_rows(count)
    iface = six_column_interface(folder, flagging_callback=callback)
    with progress() as bar:
        task = bar.add_task(f"{name}: flag_nowait -> committed", total=count)
        async with iface:
            await iface.flag(rows[0])  # opens the file or database: not measured
            receipts, elapsed = await flag_all_nowait(iface, rows, bar, task)
    assert receipts[-1].result() == count + 1, receipts[-1].result()
    return count / elapsed


async def open_loop(callback: Any, folder: Path, seconds: float, name: str) -> dict[str, float]:
    """Flags sent at :data:`RATE` per second whether or not earlier ones are written (as
    :mod:`benchmarks.openloop` sends them); latency from ``flag_nowait`` to the writer
    seeing the row committed."""
    count = int(RATE * seconds)
    rows = make_rows(min(count, 50_000))
    iface = six_column_interface(folder, flagging_callback=callback, max_pending=count + 1)
    receipts: list[tuple[float, FlagReceipt]] = []
    hist = histogram()
    with progress() as bar:
        task = bar.add_task(f"{name}: open loop {RATE:,}/s", total=count)
        async with iface:
            await iface.flag(rows[0])  # opens the file or database: not measured
            start = time.perf_counter() + 0.01
            for i in range(count):
                delay = start + i / RATE - time.perf_counter()
                if delay > 0.0005:
                    await anyio.sleep(delay)
                receipts.append((time.perf_counter(), iface.flag_nowait(rows[i % len(rows)])))
                if i % 1000 == 0:
                    bar.update(task, completed=i)
    for sent, receipt in receipts:
        assert receipt.written_at is not None, receipt
        hist.record_value(max(1, int((receipt.written_at - sent) * 1e6)))
    return percentiles(hist)


async def run(settings: Settings) -> list[Result]:
    count = settings.rows(200_000, 5_000)
    seconds = 0.5 if settings.quick else 10.0
    results: list[Result] = []
    postgres: list[Result] = []
    with scratch_dir() as tmp, postgres_bench() as pg:
        rates: dict[str, float] = {}
        latencies: dict[str, dict[str, float]] = {}
        for name, factory in [*SINKS, *pg.sinks]:
            callback = factory(tmp / f"{name}-rate")
            if callback is None:
                continue
            rates[name] = await rows_per_second(callback, tmp / f"{name}-rate", count, name)
            callback = factory(tmp / f"{name}-latency")
            latencies[name] = await open_loop(callback, tmp / f"{name}-latency", seconds, name)
        p50 = latencies["postgresql"]["p50"] if "postgresql" in latencies else None
        postgres = await pg.results(settings, tmp / "postgresql-insert", p50)
    base, *others = list(rates)
    for name in [base, *others]:
        ratio = rates[name] / rates[base]
        results.append(
            Result(
                "sql",
                f"{name}: flag_nowait -> rows committed",
                rates[name],
                "rows/s",
                f"{base} sink, same run",
                rates[base],
                ratio,
                f"{count:,} six-column rows" if name == base else "",
                extra={"rows": count},
            )
        )
    for name in [base, *others]:
        measured = latencies[name]
        results.append(
            Result(
                "sql",
                f"{name}: {RATE:,} flags/s open loop, flag -> committed p99",
                measured["p99"],
                "us",
                f"{base} sink p99, same run",
                latencies[base]["p99"],
                latencies[base]["p99"] / measured["p99"],
                f"p50 {measured['p50']:,.0f} us, p99.9 {measured['p99.9']:,.0f} us, "
                f"max {measured['max']:,.0f} us",
                extra={"latency_us": measured},
            )
        )
    return results + postgres
