"""Overload, shutdown and cancellation: exact accounting, bounded memory, nothing twice."""

from __future__ import annotations

import csv
import os
import random
import time
from pathlib import Path

import anyio
import pytest

from asyncflag import CSVLogger, Disk, Interface

pytestmark = pytest.mark.anyio
FULL = bool(os.environ.get("ASYNCFLAG_RELIABILITY_FULL"))


class SlowDisk(Disk):
    """Every write takes a little longer, as on a busy disk."""

    def write(self, fd: int, data: memoryview) -> int:
        time.sleep(0.002)
        return super().write(fd, data)


def rss_mib() -> float:
    """This process's resident memory now (not its peak, which earlier tests may have set)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def data_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))[1:]


@pytest.mark.parametrize("overflow", ["drop", "wait"])
async def test_eight_producers_against_a_slow_disk(tmp_path: Path, overflow: str) -> None:
    per_producer = 100_000 if FULL else 5_000

    async def echo(text: str) -> str:
        return text

    iface = Interface(
        echo, "text", "text", flagging_mode="auto", flagging_dir=tmp_path, max_pending=1_000,
        overflow=overflow, flagging_callback=CSVLogger(disk=SlowDisk()),  # type: ignore[arg-type]
    )  # fmt: skip
    deepest = 0
    rss_before = rss_peak = rss_mib()

    async def producer(name: str) -> None:
        nonlocal deepest, rss_peak
        for i in range(per_producer):
            await iface.submit(f"{name}-{i}")
            deepest = max(deepest, iface.stats.pending)
            if i % 100 == 0:
                await anyio.lowlevel.checkpoint()
            if i % 1_000 == 0:
                rss_peak = max(rss_peak, rss_mib())

    async with iface, anyio.create_task_group() as tg:
        for k in range(8):
            tg.start_soon(producer, f"p{k}")
    stats = iface.stats
    submitted = 8 * per_producer
    assert stats.published + stats.dropped == submitted
    assert stats.written == stats.published and stats.pending == 0 and stats.failed == 0
    assert deepest <= 1_000 + 4096  # the queue bound plus one batch being written
    growth = rss_peak - rss_before
    # 800k queued events would take hundreds of MiB; a bounded queue takes a few
    assert growth < 64, f"memory grew by {growth:.1f} MiB"
    assert len(data_rows(tmp_path / "dataset1.csv")) == stats.written
    if overflow == "wait":
        assert stats.dropped == 0
    print(f"{overflow}: submitted {submitted:,} = written {stats.written:,} + dropped "
          f"{stats.dropped:,}; deepest queue {deepest:,}; RSS grew {growth:.1f} MiB")  # fmt: skip


async def test_leaving_the_block_writes_everything_queued(tmp_path: Path) -> None:
    count = 100_000 if FULL else 20_000
    iface = Interface(lambda t: t, "text", "text", flagging_dir=tmp_path, max_pending=count)
    async with iface:
        receipts = [iface.flag_nowait([str(i), str(i)]) for i in range(count)]
        assert iface.stats.pending == count
    assert [r.result() for r in receipts[-3:]] == [count - 2, count - 1, count]
    assert len(data_rows(tmp_path / "dataset1.csv")) == count


async def test_a_cancellation_storm_writes_each_accepted_row_once(tmp_path: Path) -> None:
    callers = 1_000
    rng = random.Random(7)
    iface = Interface(lambda t: t, "text", "text", flagging_dir=tmp_path, max_pending=50)
    returned: list[str] = []

    async def caller(i: int) -> None:
        with anyio.move_on_after(rng.uniform(0, 0.05)):
            await iface.flag([f"row {i}", "x"])
            returned.append(f"row {i}")

    async with iface:
        async with anyio.create_task_group() as tg:
            for i in range(callers):
                tg.start_soon(caller, i)
        accepted = iface.stats.published
    rows = [row[0] for row in data_rows(tmp_path / "dataset1.csv")]
    assert len(rows) == len(set(rows)) == accepted == iface.stats.written
    assert set(returned) <= set(rows)  # every flag() that returned has its row
    print(f"{callers} callers, {callers - len(returned)} cancelled: {accepted} accepted rows, "
          "each written once")  # fmt: skip
