"""Rows/s from the caller to rows on disk, beside raw ``csv.writer.writerows``."""

from __future__ import annotations

import time

import anyio
import psutil

from asyncflag import FlagReceipt

from ._common import (
    Result,
    Settings,
    flag_nowait_or_wait,
    make_rows,
    progress,
    raw_writerows_rate,
    scratch_dir,
    six_column_interface,
)


async def flag_nowait_case(settings: Settings) -> list[Result]:
    """``flag_nowait`` of ready values, timed until the last row is written."""
    count = settings.rows(1_000_000, 20_000)
    rows = make_rows(count)
    with scratch_dir() as tmp:
        raw = raw_writerows_rate(rows, tmp)
        iface = six_column_interface(tmp / "nowait")
        receipts: list[FlagReceipt] = []
        with progress() as bar:
            task = bar.add_task("flag_nowait -> disk", total=count)
            started = time.perf_counter()
            async with iface:
                for i, row in enumerate(rows):
                    await flag_nowait_or_wait(iface, row, receipts)
                    if i % 10_000 == 0:
                        bar.update(task, completed=i)
                await receipts[-1].wait()
                elapsed = time.perf_counter() - started
        assert receipts[-1].result() == count
    rate = count / elapsed
    return [
        Result(
            "throughput",
            "flag_nowait -> rows on disk",
            rate,
            "rows/s",
            "raw csv writerows",
            raw,
            rate / raw,
            f"{count:,} six-column rows; target >= 0.50",
        )
    ]


async def flag_many_case(settings: Settings) -> list[Result]:
    """``flag_many`` of ready values in chunks (a bulk import), until every row is written."""
    count = settings.rows(1_000_000, 20_000)
    chunk = 10_000
    rows = make_rows(count)
    with scratch_dir() as tmp:
        raw = raw_writerows_rate(rows, tmp)
        iface = six_column_interface(tmp / "many")
        with progress() as bar:
            task = bar.add_task("flag_many -> disk", total=count)
            started = time.perf_counter()
            async with iface:
                for start in range(0, count, chunk):
                    counts = await iface.flag_many(rows[start : start + chunk])
                    bar.update(task, completed=start + len(counts))
            elapsed = time.perf_counter() - started
        assert counts[-1] == count
    rate = count / elapsed
    return [
        Result(
            "throughput",
            "flag_many (10k-row chunks) -> rows on disk",
            rate,
            "rows/s",
            "raw csv writerows",
            raw,
            rate / raw,
            f"{count:,} six-column rows, each call waiting for its rows",
        )
    ]


async def auto_submit_case(settings: Settings) -> list[Result]:
    """``auto`` mode: ``submit()`` of a trivial async function, until everything is on disk."""
    count = settings.rows(1_000_000, 20_000)
    rows = make_rows(count)
    with scratch_dir() as tmp:
        raw = raw_writerows_rate(rows, tmp)
        iface = six_column_interface(tmp / "auto", mode="auto")
        process = psutil.Process()
        rss_before = peak = process.memory_info().rss
        with progress() as bar:
            task = bar.add_task("auto submit -> disk", total=count)
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
    rate = count / elapsed
    growth = (peak - rss_before) / 2**20
    return [
        Result(
            "memory",
            f"peak RSS growth over {count:,} auto-logged rows",
            growth,
            "MiB",
            "50 MiB target",
            50.0,
            50.0 / max(growth, 0.1),
            f"RSS before {rss_before / 2**20:.0f} MiB (the rows to send were built before)",
        ),
        Result(
            "throughput",
            "auto submit() -> rows on disk",
            rate,
            "rows/s",
            "raw csv writerows",
            raw,
            rate / raw,
            f"{count:,} predictions; target >= 0.25",
        ),
    ]


async def run(settings: Settings) -> list[Result]:
    """Both cases, in the order the suite runs them (``--cases throughput``)."""
    results = await flag_nowait_case(settings)
    await anyio.lowlevel.checkpoint()
    results += await flag_many_case(settings)
    return results + await auto_submit_case(settings)
