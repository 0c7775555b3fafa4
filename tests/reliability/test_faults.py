"""Injected faults through the Disk seam: a failed batch fails only its own rows."""

from __future__ import annotations

import csv
import errno
from pathlib import Path

import pytest

from asyncflag import CSVLogger, Disk, FlagWriteError, Interface, components, load_flagged

pytestmark = pytest.mark.anyio

ERRORS = [errno.ENOSPC, errno.EFBIG, errno.EIO, errno.EACCES]


class FaultyDisk(Disk):
    """Fails chosen calls of one operation; a failing write first writes half its bytes."""

    def __init__(self, operation: str, failing_calls: set[int], code: int) -> None:
        self.operation = operation
        self.failing_calls = failing_calls
        self.code = code
        self.calls = 0

    def _maybe_fail(self, operation: str) -> bool:
        if operation != self.operation:
            return False
        self.calls += 1
        return self.calls in self.failing_calls

    def write(self, fd: int, data: memoryview) -> int:
        if self._maybe_fail("write"):
            super().write(fd, data[: len(data) // 2])  # a torn write, then the error
            raise OSError(self.code, "injected")
        return super().write(fd, data)

    def fsync(self, fd: int) -> None:
        if self._maybe_fail("fsync"):
            raise OSError(self.code, "injected")
        super().fsync(fd)

    def replace(self, source: Path, target: Path) -> None:
        if self._maybe_fail("replace"):
            raise OSError(self.code, "injected")
        super().replace(source, target)


def whole_rows(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    assert data.endswith(b"\r\n")
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert all(len(row) == len(rows[0]) for row in rows)
    return rows


def text_interface(tmp_path: Path, disk: Disk, **kwargs: object) -> Interface:
    return Interface(
        lambda t: t.upper(),
        "text",
        "text",
        flagging_dir=tmp_path,
        flagging_callback=CSVLogger(disk=disk, **kwargs),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("code", ERRORS)
async def test_a_failed_write_fails_its_batch_and_the_next_one_lands(
    tmp_path: Path, code: int
) -> None:
    # write 1: header, 2: the schema file (.asyncflag/), 3: first batch, 4: second
    disk = FaultyDisk("write", {4}, code)
    iface = text_interface(tmp_path, disk)
    async with iface:
        assert await iface.flag(["a", "A"]) == 1
        batch = [iface.flag_nowait([f"b{i}", "B"]) for i in range(10)]  # one batch
        for receipt in batch:
            with pytest.raises(FlagWriteError) as info:
                await receipt.wait()
            assert info.value.os_error is not None and info.value.os_error.errno == code
        prediction = await iface.submit("still serving")
        assert prediction.outputs == ("STILL SERVING",)
        assert await iface.flag(["c", "C"]) == 2
    assert iface.stats.failed == 10 and iface.stats.written == 2
    rows = whole_rows(tmp_path / "dataset1.csv")
    assert [row[0] for row in rows[1:]] == ["a", "c"]


@pytest.mark.parametrize("code", ERRORS)
async def test_a_failed_fsync_fails_the_batch(tmp_path: Path, code: int) -> None:
    disk = FaultyDisk("fsync", {1}, code)
    iface = text_interface(tmp_path, disk, durability="fsync")
    async with iface:
        with pytest.raises(FlagWriteError):
            await iface.flag(["a", "A"])
        assert await iface.flag(["b", "B"]) == 1
    assert [row[0] for row in whole_rows(tmp_path / "dataset1.csv")[1:]] == ["b"]


@pytest.mark.parametrize("saves", [1, 3])
@pytest.mark.parametrize("code", ERRORS)
async def test_a_failed_file_save_fails_only_its_row(tmp_path: Path, code: int, saves: int) -> None:
    # With up to 3 saves at once, 7 files go through more than one lane on a machine of
    # 2 cores or more (one worker thread each, taking the next file from a shared queue):
    # the failed save shares its lane with other rows' saves, which must still be
    # written, each to its own row.
    disk = FaultyDisk("replace", {2}, code)
    iface = Interface(
        lambda f, t: t,
        [components.File(label="doc"), "text"],
        "text",
        flagging_dir=tmp_path,
        flagging_callback=CSVLogger(disk=disk, max_concurrent_saves=saves),
    )
    count = 4 if saves == 1 else 7
    async with iface:
        receipts = [
            iface.flag_nowait([f"payload {i}".encode(), str(i), str(i)]) for i in range(count)
        ]
        outcomes: list[int | None] = []
        for receipt in receipts:
            try:
                outcomes.append(await receipt.wait())
            except FlagWriteError as error:
                assert error.os_error is not None and error.os_error.errno == code
                outcomes.append(None)
    assert outcomes.count(None) == 1
    assert sorted(n for n in outcomes if n is not None) == list(range(1, count))
    flagged = load_flagged(tmp_path, iface.components)
    assert len(flagged) == count - 1
    for row in flagged:
        assert Path(row.values[0]).read_bytes() == f"payload {row.values[1]}".encode()
    assert not list((tmp_path / "doc").glob(".*.tmp"))


@pytest.mark.parametrize("code", ERRORS)
async def test_a_failed_header_on_a_recreated_file_is_written_again(
    tmp_path: Path, code: int
) -> None:
    # write 1: header, 2: schema file, 3: row a; then the file is deleted;
    # write 4: the new header fails half-way
    disk = FaultyDisk("write", {4}, code)
    iface = text_interface(tmp_path, disk)
    async with iface:
        assert await iface.flag(["a", "A"]) == 1
        (tmp_path / "dataset1.csv").unlink()
        with pytest.raises(FlagWriteError) as info:
            await iface.flag(["b", "B"])
        assert info.value.os_error is not None and info.value.os_error.errno == code
        assert await iface.flag(["c", "C"]) == 1
        assert await iface.flag(["d", "D"]) == 2
    rows = whole_rows(tmp_path / "dataset1.csv")
    assert rows[0] == ["t", "output", "flag", "username", "timestamp"]
    assert [row[0] for row in rows[1:]] == ["c", "d"]
    assert not (tmp_path / "dataset1.csv.torn").exists()
