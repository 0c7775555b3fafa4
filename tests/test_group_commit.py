"""``fsync`` durability: a row is reported written only once an fsync covered it, and the
rows queued while an fsync runs share the next one (group commit), in order, counted
exactly.

Nothing here is timed: a gate holds an fsync until the test releases it, and the order
of what happened is read from ``perf_counter`` stamps, never from durations.
"""

from __future__ import annotations

import csv
import os
import threading
import time
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from asyncflag import CSVLogger, Disk, FlagReceipt, Interface

pytestmark = pytest.mark.anyio

HANG = 60


class RecordingDisk(Disk):
    """Records, for each fsync of a ``.csv`` file, its size and when the fsync returned;
    once :attr:`gate` is armed, the next such fsync waits for it to be released."""

    def __init__(self) -> None:
        #: (size of the file fsync'ed, perf_counter when the fsync returned)
        self.synced: list[tuple[int, float]] = []
        self.armed = False
        self.entered = threading.Event()
        self.gate = threading.Event()

    def fsync(self, fd: int) -> None:
        is_dataset = os.readlink(f"/proc/self/fd/{fd}").endswith(".csv")
        if is_dataset and self.armed:
            self.armed = False
            self.entered.set()
            if not self.gate.wait(HANG):
                raise TimeoutError("the test never released the fsync gate")
        super().fsync(fd)
        if is_dataset:
            self.synced.append((os.fstat(fd).st_size, time.perf_counter()))


def text_interface(tmp_path: Path, disk: Disk) -> Interface:
    return Interface(
        lambda t: t,
        "text",
        "text",
        flagging_dir=tmp_path,
        flagging_callback=CSVLogger(durability="fsync", disk=disk),
    )


def row_ends(path: Path) -> list[int]:
    """The byte offset just past each data row of a dataset file."""
    data = path.read_bytes()
    ends = []
    at = data.index(b"\r\n") + 2  # past the header
    while at < len(data):
        at = data.index(b"\r\n", at) + 2
        ends.append(at)
    return ends


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name an fd")
async def test_a_receipt_resolves_only_after_an_fsync_covered_its_row(tmp_path: Path) -> None:
    disk = RecordingDisk()
    iface = text_interface(tmp_path, disk)
    receipts: list[FlagReceipt] = []
    async with iface:
        for burst in range(20):
            receipts += [iface.flag_nowait([f"row {burst}-{i}", "out"]) for i in range(burst)]
            await anyio.lowlevel.checkpoint()
        counts = [await receipt.wait() for receipt in receipts]
    assert counts == list(range(1, len(receipts) + 1))
    ends = row_ends(tmp_path / "dataset1.csv")
    assert len(ends) == len(receipts)
    for receipt, end in zip(receipts, ends, strict=True):
        assert receipt.written_at is not None
        covering = [at for size, at in disk.synced if size >= end]
        # some fsync covered the row's bytes, and it had returned before the receipt said so
        assert covering and min(covering) <= receipt.written_at


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name an fd")
async def test_rows_queued_during_a_slow_fsync_share_the_next_one_in_order(
    tmp_path: Path,
) -> None:
    disk = RecordingDisk()
    iface = text_interface(tmp_path, disk)
    async with iface:
        assert await iface.flag(["first", "out"]) == 1  # creates the file: not gated
        before = len(disk.synced)
        disk.armed = True
        held = [iface.flag_nowait([f"held {i}", "out"]) for i in range(10)]
        await anyio.to_thread.run_sync(disk.entered.wait, HANG)
        # the writer is inside the gated fsync: these 50 bursts queue behind it
        queued: list[FlagReceipt] = []
        for burst in range(50):
            queued += [iface.flag_nowait([f"queued {burst}-{i}", "out"]) for i in range(10)]
            await anyio.lowlevel.checkpoint()
        disk.gate.set()
        counts = [await receipt.wait() for receipt in [*held, *queued]]
    assert counts == list(range(2, 2 + len(held) + len(queued)))
    # one fsync for the held batch, one for everything queued behind it
    assert len(disk.synced) - before == 2
    with (tmp_path / "dataset1.csv").open(newline="", encoding="utf-8") as file:
        names = [row[0] for row in list(csv.reader(file))[1:]]
    assert names == [
        "first",
        *[f"held {i}" for i in range(10)],
        *[f"queued {b}-{i}" for b in range(50) for i in range(10)],
    ]
