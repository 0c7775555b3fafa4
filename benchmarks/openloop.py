"""Flag-to-disk latency at fixed offered rates, open loop, in ``flush`` and ``fsync`` durability.

Open loop: flag *i* is sent at ``start + i / rate`` whether or not earlier ones are written
(sending never waits for the writer), so a slow writer shows up as latency instead of hiding
as a lower rate. Latency runs from the ``flag_nowait`` call to when the writer saw the row
written (``receipt.written_at``); a send the event loop's timer made late is sent at once.
The baseline for ``fsync`` is this machine's own ``write`` + ``fsync`` latency, measured
in the same run on the same file system; the ``fsync`` figures are taken in rounds (the
bare fsyncs, asyncflag, then the least a group commit can do, for a third of the time
each, three times over, each histogram the sum of its rounds), so that all three meet the
same disk weather (a few stalls of tens of milliseconds in a minute decide a p99, and a
floor timed once, apart from asyncflag's runs, gave ratios from 2.0x to 11x between runs).
Beside it, the dataset's own fsyncs are timed
through the :class:`~asyncflag.Disk` seam (the disk's weather during the run, GIL
re-acquisition included), and the rows each fsync made durable are counted (the group
commit: rows queued while an fsync runs share the next one).
"""

from __future__ import annotations

import os
import time
from array import array
from pathlib import Path

import anyio
from hdrh.histogram import HdrHistogram

from asyncflag import CSVLogger, Disk, FlagReceipt
from asyncflag.sinks import Durability

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

#: histograms of the last run, kept for ``--plot``
LAST_HISTOGRAMS: dict[str, object] = {}


def machine_fsync(path: Path, seconds: float, hist: HdrHistogram) -> None:
    """Latency of appending one short line and fsyncing it, one after another for
    ``seconds``, recorded into ``hist``: the disk's own floor."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    deadline = time.perf_counter() + seconds
    try:
        i = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter_ns()
            os.write(fd, f"row {i},some,text,1.5,True,answer,,,2026-11-25\r\n".encode())
            os.fsync(fd)
            hist.record_value(max(1, (time.perf_counter_ns() - started) // 1000))
            i += 1
    finally:
        os.close(fd)


class TimingDisk(Disk):
    """Times each fsync the logger makes (the dataset's, once the file is open)."""

    def __init__(self) -> None:
        self.fsyncs = histogram()

    def fsync(self, fd: int) -> None:
        started = time.perf_counter_ns()
        super().fsync(fd)
        self.fsyncs.record_value(max(1, (time.perf_counter_ns() - started) // 1000))


async def minimal_group_commit(rate: int, seconds: float, path: Path, hist: HdrHistogram) -> None:
    """Per-row latency of the least a group commit off the event loop can do, at the
    same offered rate on the same file system: rows (one fixed line each) queue on the
    loop; one task writes all that are queued and fsyncs them in a worker thread, one
    batch at a time. No checks, formatting, receipts or locks: what is left is the
    disk's own weather (a stalled fsync delays every row queued behind it) and the two
    thread hops per batch. Its p99 is what the dataset's rows could get at best.
    Recorded into ``hist``."""
    line = b"row,some,text,1.5,True,answer,,,2026-11-25T00:00:00.000000+00:00\r\n"
    count = int(rate * seconds)
    sent_at = array("d")
    queued: list[int] = []
    wake = anyio.Event()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def commit(data: bytes) -> None:
        os.write(fd, data)
        os.fsync(fd)

    async def writer() -> None:
        nonlocal wake
        written = 0
        while written < count:
            if not queued:
                wake = anyio.Event()
                await wake.wait()
                continue
            batch = queued[:]
            queued.clear()
            await anyio.to_thread.run_sync(commit, line * len(batch))
            now = time.perf_counter()
            for i in batch:
                hist.record_value(max(1, int((now - sent_at[i]) * 1e6)))
            written += len(batch)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer)
            start = time.perf_counter() + 0.01
            for i in range(count):
                delay = start + i / rate - time.perf_counter()
                if delay > 0.0005:
                    await anyio.sleep(delay)
                sent_at.append(time.perf_counter())
                queued.append(i)
                wake.set()
    finally:
        os.close(fd)


async def offered(
    rate: int,
    seconds: float,
    durability: Durability,
    directory: Path,
    hist: HdrHistogram,
    fsyncs: HdrHistogram,
) -> None:
    """Flags sent at ``rate`` for ``seconds``; each one's latency recorded into ``hist``,
    and the dataset's own fsyncs into ``fsyncs``."""
    count = int(rate * seconds)
    rows = make_rows(min(count, 50_000))
    disk = TimingDisk()
    iface = six_column_interface(
        directory,
        flagging_callback=CSVLogger(durability=durability, disk=disk),
        max_pending=count + 1,
    )
    # Kept apart, the send times in an array of doubles: a (time, receipt) pair per flag
    # would be 50,000 tuples the cycle collector tracks, whose full collections (the
    # bench's own, not the pipeline's) would pause the loop and show in the tail.
    sent_at = array("d")
    receipts: list[FlagReceipt] = []
    with progress() as bar:
        task = bar.add_task(f"open loop {rate:,}/s {durability}", total=count)
        async with iface:
            await iface.flag(rows[0])  # opens the file: not part of what is measured
            disk.fsyncs = histogram()  # the fsyncs of the rows measured, not of the opening
            start = time.perf_counter() + 0.01
            for i in range(count):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0.0005:
                    await anyio.sleep(delay)
                sent_at.append(time.perf_counter())
                receipts.append(iface.flag_nowait(rows[i % len(rows)]))
                if i % 1000 == 0:
                    bar.update(task, completed=i)
    for sent, receipt in zip(sent_at, receipts, strict=True):
        assert receipt.written_at is not None, receipt
        hist.record_value(max(1, int((receipt.written_at - sent) * 1e6)))
    fsyncs.add(disk.fsyncs)


async def measure(
    rate: int, seconds: float, durability: Durability, directory: Path
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """asyncflag's latency at ``rate`` (with, in ``fsync``, the dataset's own fsyncs and the
    rows per fsync), the bare fsyncs' and the minimal group commit's (``fsync`` only; else
    empty), in interleaved rounds for ``fsync`` (see the module's docstring)."""
    ours, fsyncs, floor, minimal = histogram(), histogram(), histogram(), histogram()
    rounds = ROUNDS if durability == "fsync" else 1
    for round_ in range(rounds):
        os.sync()
        part = seconds / rounds
        where = directory / f"round{round_}"
        where.mkdir(parents=True)
        if durability == "fsync":
            machine_fsync(where / "fsync-floor.csv", part, floor)
        await offered(rate, part, durability, where / "dataset", ours, fsyncs)
        if durability == "fsync":
            await minimal_group_commit(rate, part, where / "minimal.csv", minimal)
    LAST_HISTOGRAMS[f"{rate:,}/s {durability}"] = ours
    measured = percentiles(ours)
    if durability != "fsync":
        return measured, {}, {}
    in_run = percentiles(fsyncs)
    measured |= {f"run fsync {name}": value for name, value in in_run.items()}
    measured["rows per fsync"] = ours.get_total_count() / max(1, fsyncs.get_total_count())
    return measured, percentiles(floor), percentiles(minimal)


#: rounds of the ``fsync`` measurements (bare fsyncs, asyncflag, minimal group commit)
ROUNDS = 3


async def run(settings: Settings) -> list[Result]:
    seconds = 0.3 if settings.quick else 5.0
    results = []
    with scratch_dir() as tmp:
        # Each round first has the kernel write back what earlier cases left (hundreds of
        # MB), which would otherwise be written back during these fsyncs, and stall them.
        durabilities: tuple[Durability, ...] = ("flush", "fsync")
        for durability in durabilities:
            for rate in (1_000, 10_000):
                measured, floor, minimal = await measure(
                    rate, seconds, durability, tmp / f"{durability}-{rate}"
                )
                if durability == "fsync":
                    results.append(
                        Result(
                            "open loop",
                            f"{rate:,} flags/s fsync: flag -> on disk p99 vs the least a "
                            "group commit can do",
                            measured["p99"],
                            "us",
                            "minimal group commit p99, same rate",
                            minimal["p99"],
                            minimal["p99"] / measured["p99"],
                            "the same open loop of fixed lines, write+fsync in a worker thread: "
                            "the disk's stalls and the thread hops, no pipeline "
                            f"(its p50 {minimal['p50']:,.0f} us); {ROUNDS} interleaved rounds",
                            extra={"minimal": minimal},
                        )
                    )
                    results.append(
                        Result(
                            "open loop",
                            f"{rate:,} flags/s fsync: rows per fsync (group commit)",
                            measured["rows per fsync"],
                            "rows",
                            "one fsync per row",
                            1.0,
                            measured["rows per fsync"],
                            f"the dataset's own fsync p50/p99 in this run: "
                            f"{measured['run fsync p50']:,.0f}/{measured['run fsync p99']:,.0f} us",
                        )
                    )
                for name in ("p50", "p99", "p99.9"):
                    if durability == "fsync":
                        baseline, base_value = f"machine write+fsync {name}", floor[name]
                        note = (
                            "target: p99 within 3x the machine's fsync p99 "
                            f"({ROUNDS} interleaved rounds)"
                        )
                    else:
                        baseline, base_value = "2 ms target", 2000.0
                        note = "target: p99 under 2 ms at 10k/s"
                    results.append(
                        Result(
                            "open loop",
                            f"{rate:,} flags/s {durability}: flag -> on disk {name}",
                            measured[name],
                            "us",
                            baseline,
                            base_value,
                            base_value / measured[name],
                            note if name == "p99" else "",
                            extra={"asyncflag": measured, "fsync_floor": floor},
                        )
                    )
    return results
