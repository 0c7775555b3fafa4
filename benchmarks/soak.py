"""Soak: auto-log at a steady rate for minutes and watch memory, latency and rate not drift.

A leak, a queue that creeps up or a cost that grows with the file only shows over time.
The interface auto-logs every prediction (text, and a small file every 20th one) at a
fixed offered rate; one call in ten also flags, and its flag-to-disk latency is
recorded. Each window reports RSS, the p99 latency and the rows written. The figures
compare the last window with the first one (after a warm-up window) of the same run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import anyio

from asyncflag import FlagReceipt, Interface, components

from ._common import Result, Settings, histogram, percentiles, progress, scratch_dir

RATE = 5_000


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def soak_interface(directory: Path) -> Interface:
    async def model(prompt: str, attachment: Any) -> str:
        return prompt[::-1]

    return Interface(
        model,
        [components.Textbox(label="prompt"), components.File(label="attachment")],
        components.Textbox(label="answer"),
        flagging_mode="auto",
        flagging_dir=directory,
    )


async def soak(directory: Path, seconds: float, windows: int) -> list[dict[str, float]]:
    """Run for ``seconds`` at :data:`RATE` calls/s; return one figure set per window."""
    iface = soak_interface(directory)
    per_window = seconds / windows
    figures: list[dict[str, float]] = []
    with progress() as bar:
        task = bar.add_task(f"soak {RATE:,}/s for {seconds:.0f}s", total=int(seconds * RATE))
        async with iface:
            start = time.perf_counter()
            i = 0
            for window in range(windows):
                receipts: list[tuple[float, FlagReceipt]] = []
                written_before = iface.stats.written
                window_end = start + (window + 1) * per_window
                while (due := start + i / RATE) < window_end:
                    delay = due - time.perf_counter()
                    if delay > 0.0005:
                        await anyio.sleep(delay)
                    attachment = f"attachment {i % 500}".encode() * 20 if i % 20 == 0 else None
                    prediction = await iface.submit(f"prompt {i}", attachment)
                    if i % 10 == 0:
                        sent = time.perf_counter()
                        receipts.append((sent, iface.flag_nowait(prediction, option="soak")))
                    i += 1
                    if i % 1000 == 0:
                        bar.update(task, completed=i)
                for _, receipt in receipts:
                    await receipt.wait()
                hist = histogram()
                for sent, receipt in receipts:
                    assert receipt.written_at is not None
                    hist.record_value(max(1, int((receipt.written_at - sent) * 1e6)))
                elapsed = time.perf_counter() - start - window * per_window
                figures.append(
                    {
                        "rss_mib": rss_mib(),
                        "rows_per_s": (iface.stats.written - written_before) / elapsed,
                        "pending": iface.stats.pending,
                    }
                    | {f"latency_{k}": v for k, v in percentiles(hist).items()}
                )
        stats = iface.stats
    assert stats.failed == 0 and stats.dropped == 0, stats
    assert stats.written == stats.published, stats
    return figures


async def run(settings: Settings) -> list[Result]:
    seconds = 3.0 if settings.quick else settings.soak_seconds
    windows = 3 if settings.quick else 6
    with scratch_dir() as tmp:
        figures = await soak(tmp / "soak", seconds, windows)
    first, last = figures[1], figures[-1]  # window 0 is the warm-up
    extra = {"windows": figures, "seconds": seconds, "rate": RATE}
    grown = last["rss_mib"] - first["rss_mib"]
    return [
        Result(
            "soak",
            f"RSS after {seconds:.0f}s at {RATE:,} calls/s (auto + files)",
            last["rss_mib"],
            "MiB",
            "RSS after the warm-up window",
            first["rss_mib"],
            first["rss_mib"] / last["rss_mib"],
            f"grew {grown:+.1f} MiB; goal: flat (ratio ~1)",
            extra=extra,
        ),
        Result(
            "soak",
            "flag -> on disk p99, last window",
            last["latency_p99"],
            "us",
            "p99 in the first window",
            first["latency_p99"],
            first["latency_p99"] / last["latency_p99"],
            "goal: no drift (ratio ~1)",
        ),
        Result(
            "soak",
            "rows written/s, last window",
            last["rows_per_s"],
            "rows/s",
            "rows/s in the first window",
            first["rows_per_s"],
            last["rows_per_s"] / first["rows_per_s"],
            f"offered {RATE * 1.1:,.0f}/s (auto rows + 1 in 10 flagged); none dropped or failed",
        ),
    ]
