"""Flag latency: from ``flag()`` to the row on disk, beside one raw ``writerow`` + flush."""

from __future__ import annotations

import csv
import time
from datetime import UTC, datetime
from pathlib import Path

import anyio

from ._common import (
    Result,
    Settings,
    histogram,
    make_rows,
    percentiles,
    progress,
    scratch_dir,
    six_column_interface,
)


def raw_writerow_flush(rows: list[tuple[object, ...]], path: Path) -> dict[str, float]:
    """Latency of the simplest synchronous logger: ``writerow`` then ``flush`` per row."""
    hist = histogram()
    stamp = datetime.now(UTC).isoformat()
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        for row in rows:
            started = time.perf_counter_ns()
            writer.writerow([*row, "", "", stamp])
            file.flush()
            hist.record_value(max(1, (time.perf_counter_ns() - started) // 1000))
    return percentiles(hist)


async def sequential_flags(settings: Settings, concurrency: int) -> dict[str, float]:
    count = settings.rows(20_000, 1_000)
    rows = make_rows(count)
    hist = histogram()
    with scratch_dir() as tmp:
        iface = six_column_interface(tmp)
        with progress() as bar:
            task = bar.add_task(f"flag() latency x{concurrency}", total=count)
            async with iface:

                async def flagger(part: list[tuple[object, ...]]) -> None:
                    for row in part:
                        started = time.perf_counter_ns()
                        await iface.flag(row)
                        hist.record_value(max(1, (time.perf_counter_ns() - started) // 1000))
                        bar.advance(task)

                async with anyio.create_task_group() as tg:
                    for k in range(concurrency):
                        tg.start_soon(flagger, rows[k::concurrency])
    return percentiles(hist)


async def run(settings: Settings) -> list[Result]:
    with scratch_dir() as tmp:
        raw = raw_writerow_flush(make_rows(settings.rows(20_000, 1_000)), tmp / "raw.csv")
    results = []
    for concurrency in (1, 16):
        measured = await sequential_flags(settings, concurrency)
        results += [
            Result(
                "latency",
                f"flag() to disk {name}, {concurrency} caller(s)",
                measured[name],
                "us",
                f"writerow+flush {name}",
                raw[name],
                raw[name] / measured[name],
                "a blocking writerow+flush per row is the floor",
                extra={"asyncflag": measured, "raw": raw},
            )
            for name in ("p50", "p99")
        ]
    return results
