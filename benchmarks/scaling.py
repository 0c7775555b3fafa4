"""Per-row cost with a small file vs a large one already on disk: it must stay flat."""

from __future__ import annotations

import csv
import time
from datetime import UTC, datetime
from pathlib import Path

from asyncflag import FlagReceipt

from ._common import Result, Settings, make_rows, scratch_dir, six_column_interface

HEADER = ["prompt", "context", "user", "temperature", "stream", "answer"]


def prefill(directory: Path, rows: int) -> None:
    """Write a dataset file of ``rows`` rows directly, as an earlier run would have left it."""
    directory.mkdir(parents=True)
    stamp = datetime.now(UTC).isoformat()
    with (directory / "dataset1.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([*HEADER, "flag", "username", "timestamp"])
        for start in range(0, rows, 10_000):
            writer.writerows([*row, "", "", stamp] for row in make_rows(min(10_000, rows - start)))


async def per_row_cost(existing: int, count: int) -> float:
    """Microseconds per row to flag ``count`` rows into a file holding ``existing`` rows."""
    rows = make_rows(count)
    with scratch_dir() as tmp:
        prefill(tmp / "flags", existing)
        iface = six_column_interface(tmp / "flags", max_pending=count + 1)
        async with iface:
            # the first flag opens the file and counts what is there: not per-row cost
            assert await iface.flag(rows[0]) == existing + 1
            started = time.perf_counter()
            receipts: list[FlagReceipt] = [iface.flag_nowait(row) for row in rows]
            await receipts[-1].wait()
            elapsed = time.perf_counter() - started
        assert receipts[-1].result() == existing + 1 + count
    return elapsed / count * 1e6


async def run(settings: Settings) -> list[Result]:
    """1k rows in the file against 100k (issue 3) and 1M (issue 5); quick: 1k against 20k."""
    small = 1_000
    larger = (20_000,) if settings.quick else (100_000, 1_000_000)
    count = settings.rows(100_000, 5_000)
    costs: dict[int, list[float]] = {size: [] for size in (small, *larger)}
    # Alternate the sizes to spread machine noise over all of them; keep the best of each.
    for _ in range(2):
        for size in costs:
            costs[size].append(await per_row_cost(size, count))
    small_cost = min(costs[small])
    results = []
    for large in larger:
        large_cost = min(costs[large])
        results.append(
            Result(
                "scaling",
                f"per-row cost with {large:,} rows in the file",
                large_cost,
                "us/row",
                f"with {small:,} rows",
                small_cost,
                small_cost / large_cost,
                f"{large:,} costs {large_cost / small_cost:.2f}x {small:,} "
                "(flat is 1.0; target <= 1.2x)",
                extra={"cost_ratio_large_over_small": large_cost / small_cost},
            )
        )
    return results
