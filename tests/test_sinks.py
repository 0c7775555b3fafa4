"""The sinks package's public parts: a user's sink, and the dataset's one lock order."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import asyncflag
from asyncflag import (
    Disk,
    FlaggingCallback,
    FlagRow,
    FlagWriteError,
    Interface,
    RowResult,
    components,
)
from asyncflag.sinks.csvfile import RowFormatter
from asyncflag.sinks.datasets import Dataset

pytestmark = pytest.mark.anyio

HANG = 60


def shout(text: str) -> str:
    return text.upper()


class EveryOtherRow(FlaggingCallback):
    """A user's sink that takes whole batches and refuses some rows, using only the
    names ``asyncflag`` exports."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def setup(self, components: Any, flagging_dir: str) -> None:
        pass

    def flag(self, flag_data: Any, flag_option: Any = None, username: Any = None) -> int:
        raise AssertionError("the writer calls flag_batch")

    async def flag_batch(self, rows: Sequence[FlagRow]) -> list[RowResult]:
        results: list[RowResult] = []
        for row in rows:
            if row.data[0] == "refuse":
                results.append(ValueError("this sink refuses 'refuse'"))
            else:
                self.rows.append(row.data)
                results.append(len(self.rows))
        return results


def test_the_names_a_sink_needs_are_exported() -> None:
    assert "FlagRow" in asyncflag.__all__
    for name in ("FlaggingCallback", "RowResult", "Disk", "CSVLogger", "SimpleCSVLogger"):
        assert name in asyncflag.__all__
        assert getattr(asyncflag, name) is getattr(asyncflag.sinks, name)


async def test_a_sink_overriding_flag_batch_gets_rows_and_settles_each(tmp_path: Path) -> None:
    sink = EveryOtherRow()
    iface = Interface(shout, "text", "text", flagging_dir=tmp_path, flagging_callback=sink)
    async with iface:
        assert await iface.flag(["a", "A"]) == 1
        refused = iface.flag_nowait(["refuse", "REFUSE"])
        assert await iface.flag(["b", "B"]) == 2
        with pytest.raises(FlagWriteError, match="refuses 'refuse'"):
            await refused.wait()
    assert sink.rows == [("a", "A"), ("b", "B")]


class HeldDisk(Disk):
    """Holds the writes of threads named ``holder`` until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def write(self, fd: int, data: memoryview) -> int:
        if threading.current_thread().name == "holder":
            self.entered.set()
            self.release.wait(HANG)
        return super().write(fd, data)


def test_try_append_never_waits_for_a_thread_holding_the_dataset(tmp_path: Path) -> None:
    """A thread appending (holding the thread lock, then the flock) keeps try_append
    from writing; try_append returns at once instead of waiting, and the rows of both
    land whole, in order, once the thread is done."""
    formatter = RowFormatter([components.Textbox(label="t")])
    disk = HeldDisk()
    dataset = Dataset(
        lambda: tmp_path / "dataset1.csv",
        formatter.header(),
        formatter.schema(),
        fsync=False,
        disk=disk,
    )
    assert dataset.open() == (tmp_path / "dataset1.csv", 0)
    rows = [FlagRow((text,), None, None, None) for text in ("held", "tried", "later")]
    data = [formatter.format([row], [row.data]).encode() for row in rows]
    counts: list[int] = []
    holder = threading.Thread(
        target=lambda: counts.append(dataset.append(data[0], 1)), name="holder", daemon=True
    )
    holder.start()
    assert disk.entered.wait(HANG)
    assert dataset.try_append(data[1], 1) is None  # did not wait, wrote nothing
    disk.release.set()
    holder.join(HANG)
    assert counts == [0]
    assert dataset.try_append(data[2], 1) == 1  # both locks free now: written at once
    dataset.close()
    text = (tmp_path / "dataset1.csv").read_text()
    assert text.splitlines() == ["t,flag,username,timestamp", "held,,,", "later,,,"]


class RecordingDisk(Disk):
    """Records every operation made through the seam."""

    def __init__(self) -> None:
        self.operations: list[tuple[str, Any]] = []

    def write(self, fd: int, data: memoryview) -> int:
        self.operations.append(("write", bytes(data)))
        return super().write(fd, data)

    def fsync(self, fd: int) -> None:
        self.operations.append(("fsync", None))
        super().fsync(fd)

    def truncate(self, fd: int, size: int) -> None:
        self.operations.append(("truncate", size))
        super().truncate(fd, size)

    def fsync_directory(self, directory: Path) -> None:
        self.operations.append(("fsync_directory", directory.name))
        super().fsync_directory(directory)


def test_repairing_a_torn_tail_goes_through_the_disk_seam(tmp_path: Path) -> None:
    """Moving a torn tail aside (its copy, its fsync, the cut) and the folders' fsyncs
    are made through the Disk, like every other write: a fault test can reach them."""
    from asyncflag import CSVLogger

    first = CSVLogger()
    first.setup([components.Textbox(label="t")], tmp_path)
    assert first.flag(["whole"]) == 1
    first.close()
    whole = (tmp_path / "dataset1.csv").stat().st_size
    tail = b'torn,"never finished'
    with (tmp_path / "dataset1.csv").open("ab") as file:
        file.write(tail)
    disk = RecordingDisk()
    logger = CSVLogger(durability="fsync", disk=disk)
    logger.setup([components.Textbox(label="t")], tmp_path)
    assert logger.flag(["next"]) == 2
    logger.close()
    assert (tmp_path / "dataset1.csv.torn").read_bytes() == tail
    assert ("write", tail) in disk.operations
    assert ("truncate", whole) in disk.operations
    # the row saved with durability="fsync": the file's fsync after its write
    row = next(i for i, op in enumerate(disk.operations) if op[0] == "write" and b"next" in op[1])
    assert disk.operations[row + 1] == ("fsync", None)
    assert not any(op[0] == "fsync_directory" for op in disk.operations)
    # other labels: a new dataset file and a new schema record, whose folders' entries
    # are made durable
    other = CSVLogger(durability="fsync", disk=disk)
    other.setup([components.Textbox(label="u")], tmp_path)
    assert other.flag(["elsewhere"]) == 1
    other.close()
    assert (tmp_path / "dataset2.csv").exists()
    assert ("fsync_directory", ".asyncflag") in disk.operations
    assert ("fsync_directory", tmp_path.name) in disk.operations
