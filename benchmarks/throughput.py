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

#: rounds of each case, the baseline and asyncflag taken in turn; each figure is the best of
#: its rounds (page-cache writes on this VM move by up to 2x from one minute to the next)
ROUNDS = 3


async def flag_nowait_case(settings: Settings) -> list[Result]:
    """``flag_nowait`` of ready values, timed until the last row is written."""
    count = settings.rows(1_000_000, 20_000)
    rows = make_rows(count)
    raw = rate = 0.0
    for round_ in range(rounds(settings)):
        with scratch_dir() as tmp:
            raw = max(raw, raw_writerows_rate(rows, tmp))
            iface = six_column_interface(tmp / "nowait")
            receipts: list[FlagReceipt] = []
            with progress() as bar:
                task = bar.add_task(f"flag_nowait -> disk, round {round_ + 1}", total=count)
                started = time.perf_counter()
                async with iface:
                    for i, row in enumerate(rows):
                        await flag_nowait_or_wait(iface, row, receipts)
                        if i % 10_000 == 0:
                            bar.update(task, completed=i)
                    await receipts[-1].wait()
                    elapsed = time.perf_counter() - started
            assert receipts[-1].result() == count
            del receipts
        rate = max(rate, count / elapsed)
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
    raw = rate = 0.0
    for round_ in range(rounds(settings)):
        with scratch_dir() as tmp:
            raw = max(raw, raw_writerows_rate(rows, tmp))
            iface = six_column_interface(tmp / "many")
            with progress() as bar:
                task = bar.add_task(f"flag_many -> disk, round {round_ + 1}", total=count)
                started = time.perf_counter()
                async with iface:
                    for start in range(0, count, chunk):
                        counts = await iface.flag_many(rows[start : start + chunk])
                        bar.update(task, completed=start + len(counts))
                elapsed = time.perf_counter() - started
            assert counts[-1] == count
        rate = max(rate, count / elapsed)
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
    raw = rate = 0.0
    growth = 0.0
    rss_first = 0
    process = psutil.Process()
    for round_ in range(rounds(settings)):
        with scratch_dir() as tmp:
            raw = max(raw, raw_writerows_rate(rows, tmp))
            iface = six_column_interface(tmp / "auto", mode="auto")
            rss_before = peak = process.memory_info().rss
            with progress() as bar:
                task = bar.add_task(f"auto submit -> disk, round {round_ + 1}", total=count)
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
        rate = max(rate, count / elapsed)
        if round_ == 0:  # later rounds reuse memory the first one grew
            growth = (peak - rss_before) / 2**20
            rss_first = rss_before
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


def rounds(settings: Settings) -> int:
    return 1 if settings.quick else ROUNDS


async def run(settings: Settings) -> list[Result]:
    """Both cases, in the order the suite runs them (``--cases throughput``)."""
    results = await flag_nowait_case(settings)
    await anyio.lowlevel.checkpoint()
    results += await flag_many_case(settings)
    return results + await auto_submit_case(settings)
