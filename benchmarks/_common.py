"""What the cases share: the rows, the raw-CSV baseline, histograms, results, progress."""

from __future__ import annotations

import csv
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from asyncflag import FlagReceipt, Interface, QueueFullError, components


@dataclass
class Settings:
    """How much work each case does; ``quick`` keeps the whole suite to a few seconds."""

    quick: bool
    backend: str
    #: how long the soak case runs (not in ``--quick``)
    soak_seconds: float = 60.0

    def rows(self, full: int, quick: int) -> int:
        return quick if self.quick else full


@dataclass
class Result:
    """One row of the summary table."""

    case: str
    metric: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    #: value / baseline, oriented so that bigger is better for asyncflag
    ratio: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def six_column_interface(flagging_dir: Path, mode: str = "manual", **kwargs: Any) -> Interface:
    """The interface the throughput cases flag into: six columns, like the issue's baseline."""

    async def model(prompt: str, context: str, user: str, temperature: float, stream: bool) -> str:
        return prompt

    return Interface(
        model,
        [
            components.Textbox(label="prompt"),
            components.Textbox(label="context"),
            components.Textbox(label="user"),
            components.Number(label="temperature"),
            components.Checkbox(label="stream"),
        ],
        components.Textbox(label="answer"),
        flagging_mode=mode,
        flagging_dir=flagging_dir,
        **kwargs,
    )


async def flag_nowait_or_wait(
    iface: Interface, row: tuple[Any, ...], receipts: list[FlagReceipt]
) -> None:
    """``flag_nowait`` one row; when the queue is full, wait for the writer to take half."""
    while True:
        try:
            receipts.append(iface.flag_nowait(row))
            return
        except QueueFullError:
            await receipts[len(receipts) - iface.max_pending // 2].wait()


async def flag_all_nowait(
    iface: Interface, rows: list[tuple[Any, ...]], bar: Progress, task: TaskID
) -> tuple[list[FlagReceipt], float]:
    """``flag_nowait`` every row (waiting for room whenever the queue is full), moving
    ``task`` of ``bar`` every 10,000; the receipts, and the seconds from the first flag
    until the last row was written."""
    receipts: list[FlagReceipt] = []
    started = time.perf_counter()
    for i, row in enumerate(rows):
        await flag_nowait_or_wait(iface, row, receipts)
        if i % 10_000 == 0:
            bar.update(task, completed=i)
    await receipts[-1].wait()
    return receipts, time.perf_counter() - started


def make_rows(count: int) -> list[tuple[Any, ...]]:
    """Six-column rows with a little variety (and some text that needs escaping)."""
    return [
        (
            f"what is {i} plus {i + 1}?",
            "calculator context" if i % 7 else "=SUM(A1:A9)",
            f"user{i % 97}",
            (i % 100) / 10,
            i % 2 == 0,
            f"the answer is {2 * i + 1}",
        )
        for i in range(count)
    ]


def raw_writerows_rate(rows: list[tuple[Any, ...]], directory: Path, chunk: int = 4096) -> float:
    """Rows/s of a plain ``csv.writer.writerows`` loop writing the same cells asyncflag writes.

    The limit for Python CSV writing: the same nine cells per row (six values, flag,
    username, an ISO timestamp), chunked and flushed like asyncflag's batches.
    """
    stamp = datetime.now(UTC).isoformat()
    lines = [[*row, "", "", stamp] for row in rows]
    path = directory / "raw.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        started = time.perf_counter()
        for start in range(0, len(lines), chunk):
            writer.writerows(lines[start : start + chunk])
            file.flush()
        elapsed = time.perf_counter() - started
    path.unlink()
    return len(lines) / elapsed


def histogram() -> HdrHistogram:
    """Latencies in microseconds, 1 us to 60 s, 3 significant digits."""
    return HdrHistogram(1, 60_000_000, 3)


def percentiles(hist: HdrHistogram) -> dict[str, float]:
    return {
        "p50": hist.get_value_at_percentile(50),
        "p99": hist.get_value_at_percentile(99),
        "p99.9": hist.get_value_at_percentile(99.9),
        "max": hist.get_max_value(),
        "count": hist.get_total_count(),
    }


@contextmanager
def scratch_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="asyncflag-bench-") as name:
        yield Path(name)


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        transient=True,
    )


def machine_facts() -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "-"

    disk = os.statvfs(tempfile.gettempdir())
    return {
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "asyncflag": version("asyncflag"),
        "anyio": version("anyio"),
        "msgspec": version("msgspec"),
        "trio": version("trio"),
        "tmp free": f"{disk.f_bavail * disk.f_frsize / 2**30:.0f} GiB",
    }
