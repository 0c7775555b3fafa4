"""Rows/s from the caller to rows on disk, beside raw ``csv.writer.writerows``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import psutil
from rich.progress import Progress, TaskID

from ._common import (
    Result,
    Settings,
    flag_all_nowait,
    make_rows,
    progress,
    raw_writerows_rate,
    scratch_dir,
    six_column_interface,
)

#: rounds of each case, the baseline and asyncflag taken in turn; each figure is the best of
#: its rounds (page-cache writes on this VM move by up to 2x from one minute to the next)
ROUNDS = 3


#: one measured round: rows/s into a fresh folder, with a progress bar's task to move
Measure = Callable[[Path, Progress, TaskID], Awaitable[float]]


async def best_of_rounds(
    settings: Settings, rows: list[tuple[Any, ...]], label: str, measure: Measure
) -> tuple[float, float]:
    """The best rows/s of raw ``writerows`` and of ``measure`` over the rounds, each round
    measuring both, in that order, in a fresh folder."""
    raw = rate = 0.0
    for round_ in range(rounds(settings)):
        with scratch_dir() as tmp:
            raw = max(raw, raw_writerows_rate(rows, tmp))
            with progress() as bar:
                task = bar.add_task(f"{label}, round {round_ + 1}", total=len(rows))
                rate = max(rate, await measure(tmp, bar, task))
    return raw, rate


def rounds(settings: Settings) -> int:
    return 1 if settings.quick else ROUNDS


async def flag_nowait_case(settings: Settings) -> list[Result]:
    """``flag_nowait`` of ready values, timed until the last row is written."""
    count = settings.rows(1_000_000, 20_000)
    rows = make_rows(count)

    async def measure(tmp: Path, bar: Progress, task: TaskID) -> float:
        iface = six_column_interface(tmp / "nowait")
        async with iface:
            receipts, elapsed = await flag_all_nowait(iface, rows, bar, task)
        assert receipts[-1].result() == count
        return count / elapsed

    raw, rate = await best_of_rounds(settings, rows, "flag_nowait -> disk", measure)
    return [
        Result(
            "throughput",
            "flag_nowait -> rows on disk",
            rate,
            "rows/s",
            "raw csv writerows",
            raw,
            rate / raw,
            f"{count:,} six-column rows; best of {rounds(settings)} rounds each; target >= 0.50",
        )
    ]


async def flag_many_case(settings: Settings) -> list[Result]:
    """``flag_many`` of ready values in chunks (a bulk import), until every row is written."""
    count = settings.rows(1_000_000, 20_000)
    chunk = 10_000
    rows = make_rows(count)

    async def measure(tmp: Path, bar: Progress, task: TaskID) -> float:
        iface = six_column_interface(tmp / "many")
        started = time.perf_counter()
        async with iface:
            for start in range(0, count, chunk):
                counts = await iface.flag_many(rows[start : start + chunk])
                bar.update(task, completed=start + len(counts))
        elapsed = time.perf_counter() - started
        assert counts[-1] == count
        return count / elapsed

    raw, rate = await best_of_rounds(settings, rows, "flag_many -> disk", measure)
    return [
        Result(
            "throughput",
            "flag_many (10k-row chunks) -> rows on disk",
            rate,
            "rows/s",
            "raw csv writerows",
            raw,
            rate / raw,
            f"{count:,} six-column rows, each call waiting for its rows; "
            f"best of {rounds(settings)} rounds each",
        )
    ]


async def auto_submit_case(settings: Settings) -> list[Result]:
    """``auto`` mode: ``submit()`` of a trivial async function, until everything is on disk."""
    count = settings.rows(1_000_000, 20_000)
    rows = make_rows(count)
    process = psutil.Process()
    #: the RSS before the first round, and its growth during it (later rounds reuse that
    #: memory, so only the first says what logging the rows grew)
    memory: list[tuple[int, float]] = []

    async def measure(tmp: Path, bar: Progress, task: TaskID) -> float:
        iface = six_column_interface(tmp / "auto", mode="auto")
        rss_before = peak = process.memory_info().rss
        started = time.perf_counter()
        async with iface:
            for i, row in enumerate(rows):
                await iface.submit(*row[:5])
                if i % 10_000 == 0:
                    bar.update(task, completed=i)
                    peak = max(peak, process.memory_info().rss)
        elapsed = time.perf_counter() - started
        peak = max(peak, process.memory_info().rss)
        assert iface.stats.written == count
        memory.append((rss_before, (peak - rss_before) / 2**20))
        return count / elapsed

    raw, rate = await best_of_rounds(settings, rows, "auto submit -> disk", measure)
    rss_first, growth = memory[0]
    return [
        Result(
            "memory",
            f"peak RSS growth over {count:,} auto-logged rows",
            growth,
            "MiB",
            "50 MiB target",
            50.0,
            50.0 / max(growth, 0.1),
            f"RSS before {rss_first / 2**20:.0f} MiB (the rows to send were built before); "
            "first round",
        ),
        Result(
            "throughput",
            "auto submit() -> rows on disk",
            rate,
            "rows/s",
            "raw csv writerows",
            raw,
            rate / raw,
            f"{count:,} predictions; best of {rounds(settings)} rounds each; target >= 0.25",
        ),
    ]


async def run(settings: Settings) -> list[Result]:
    """Both cases, in the order the suite runs them (``--cases throughput``)."""
    results = await flag_nowait_case(settings)
    await anyio.lowlevel.checkpoint()
    results += await flag_many_case(settings)
    return results + await auto_submit_case(settings)
