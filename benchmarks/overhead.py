"""Caller overhead: what ``auto`` flagging adds to ``submit()``, against ``never`` mode.

Calls are made in bursts that never fill the queue and never yield to the writer, so the
time measured is the caller's own work (checking values, the prediction, the publish),
not the writer's. Bursts alternate between the two modes to spread machine noise.
"""

from __future__ import annotations

import time

import anyio
from hdrh.histogram import HdrHistogram

from ._common import Result, Settings, make_rows, progress, scratch_dir, six_column_interface


def nanoseconds() -> HdrHistogram:
    return HdrHistogram(1, 10_000_000_000, 3)


async def run(settings: Settings) -> list[Result]:
    bursts = settings.rows(200, 10)
    burst = 1000
    rows = make_rows(burst)
    hists = {"never": nanoseconds(), "auto": nanoseconds()}
    with scratch_dir() as tmp:
        ifaces = {
            mode: six_column_interface(tmp / mode, mode=mode, max_pending=burst * 2)
            for mode in hists
        }
        async with ifaces["never"], ifaces["auto"]:
            with progress() as bar:
                task = bar.add_task("submit() overhead", total=bursts * 2)
                for _ in range(bursts):
                    for mode, iface in ifaces.items():
                        hist = hists[mode]
                        for row in rows:
                            started = time.perf_counter_ns()
                            await iface.submit(*row[:5])
                            hist.record_value(time.perf_counter_ns() - started)
                        # let the writer drain between bursts (polling: no event for it)
                        while iface.stats.pending:  # noqa: ASYNC110
                            await anyio.sleep(0.001)
                        bar.advance(task)
    never, auto = hists["never"], hists["auto"]
    results = []
    for name, percentile in (("p50", 50), ("p99", 99)):
        n = never.get_value_at_percentile(percentile) / 1000
        a = auto.get_value_at_percentile(percentile) / 1000
        results.append(
            Result(
                "overhead",
                f"auto submit() {name} (never: same interface, no flagging)",
                a,
                "us",
                f"never submit() {name}",
                n,
                n / a,
                f"auto adds {a - n:.2f} us"
                + ("; target <= 5 us at p50" if percentile == 50 else ""),
            )
        )
    return results
