"""A restart does not read the dataset file: its row count is kept beside it.

Each test counts the bytes read through the :class:`~asyncflag.Disk` seam
(``Disk.pread``), never the time taken. The row count record
(``.asyncflag/<stem>.rows.json``) must never make a count wrong: missing, stale,
garbage, hostile or another file's record, the count is exact.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asyncflag import CSVLogger, Disk, Interface, components
from asyncflag.sinks.appendfile import COUNT_EVERY_BYTES
from asyncflag.sinks.datasets import rows_path
from asyncflag.sinks.records import RecordCounter, record_ends, scan_records
from asyncflag.sinks.rowcount import RECORD_SIZE, RowCount

STAMP = "2026-01-02T03:04:05.000006+00:00"
#: two rows as a flagging directory holds them: a plain one, and one with a quoted cell
#: holding a comma, a newline, a \r\n and doubled quotes (~72 bytes a row)
PLAIN = f"a plain row of some length,A PLAIN ROW OF SOME LENGTH,,,{STAMP}\n".encode()
QUOTED = f'"two\nlines, ""q""\r\n",X,,,{STAMP}\n'.encode()
BIG = 1_000_000
#: what a restart may read of a dataset file whatever its size (header check, the
#: record, the bytes before its offset)
SMALL = 256 * 1024


class CountingDisk(Disk):
    """Counts the bytes read through the seam."""

    def __init__(self) -> None:
        self.read = 0

    def pread(self, fd: int, size: int, offset: int) -> bytes:
        data = super().pread(fd, size, offset)
        self.read += len(data)
        return data


#: the columns of :func:`interface`, for a logger opening its dataset
COLUMNS = [components.Textbox(label="t"), components.Textbox(label="output")]


def interface(flagging_dir: Path, disk: Disk) -> Interface:
    return Interface(
        lambda t: t.upper(),
        "text",
        "text",
        flagging_dir=flagging_dir,
        flagging_callback=CSVLogger(disk=disk),
    )


def flag_once(flagging_dir: Path, value: str = "x", disk: Disk | None = None) -> int:
    """Open the dataset (as a restart does) with a plain logger and flag one row."""
    logger = CSVLogger(disk=disk)
    logger.setup(COLUMNS, flagging_dir)
    try:
        return logger.flag([value, value.upper()])
    finally:
        logger.close()


def append_rows(path: Path, pairs: int) -> None:
    """Append ``2 * pairs`` rows as another writer would, without updating the record."""
    with path.open("ab") as file:
        for start in range(0, pairs, 100_000):
            file.write((PLAIN + QUOTED) * min(100_000, pairs - start))


def data_rows(path: Path) -> int:
    return scan_records(path.read_bytes())[0] - 1


# -- the proof: a 1M-row file opens without reading it ---------------------------------


@pytest.mark.anyio
async def test_a_big_dataset_restarts_without_reading_it(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset1.csv"
    async with interface(tmp_path, Disk()) as iface:
        assert await iface.flag(["first", "FIRST"]) == 1
    append_rows(dataset, BIG // 2)  # 1M rows, ~70 MiB, the record not updated
    size = dataset.stat().st_size
    assert size > 68 * 2**20

    # the record lags: only the rows appended since are read, then the record is kept
    disk = CountingDisk()
    async with interface(tmp_path, disk) as iface:
        assert await iface.flag(["second", "SECOND"]) == BIG + 2
    assert size <= disk.read < size + SMALL

    # the proof: opening it again reads almost nothing, and the count is exact
    disk = CountingDisk()
    async with interface(tmp_path, disk) as iface:
        assert await iface.flag(["third", "THIRD"]) == BIG + 3
    assert disk.read < SMALL
    assert data_rows(dataset) == BIG + 3

    # without the record: the whole file is scanned, and the count is as exact
    rows_path(dataset).unlink()
    disk = CountingDisk()
    async with interface(tmp_path, disk) as iface:
        assert await iface.flag(["fourth", "FOURTH"]) == BIG + 4
    assert disk.read >= size
    # ...and the record is there again for the next restart
    disk = CountingDisk()
    assert flag_once(tmp_path, disk=disk) == BIG + 5
    assert disk.read < SMALL


# -- a record that must not be trusted -------------------------------------------------


def started(tmp_path: Path, rows: int = 1000) -> Path:
    """A dataset with ``rows + 1`` rows and its record up to date."""
    assert flag_once(tmp_path, "first") == 1
    dataset = tmp_path / "dataset1.csv"
    append_rows(dataset, rows // 2)
    assert flag_once(tmp_path) == rows + 2  # counted by a tail scan; the record kept
    return dataset


def restart_reads(tmp_path: Path, expected: int) -> int:
    """Flag one row after a restart; check its count; return the bytes read."""
    disk = CountingDisk()
    assert flag_once(tmp_path, disk=disk) == expected
    assert data_rows(tmp_path / "dataset1.csv") == expected
    return disk.read


def record_of(dataset: Path) -> dict[str, object]:
    data = rows_path(dataset).read_bytes()
    assert len(data) == RECORD_SIZE
    return dict(json.loads(data))


def forge(dataset: Path, **changes: object) -> None:
    """Rewrite the record with ``changes``, its checksum made right (as a forger could)."""
    fields = record_of(dataset) | changes
    fields.pop("check")
    tail = fields.pop("tail")
    assert isinstance(tail, str)
    fields["tail"] = base64.b64decode(tail)
    rows_path(dataset).write_bytes(RowCount.of(**fields).encode())  # type: ignore[arg-type]


def test_an_up_to_date_record_is_used(tmp_path: Path) -> None:
    dataset = started(tmp_path)
    size = dataset.stat().st_size
    assert restart_reads(tmp_path, 1003) < size // 4
    assert record_of(dataset)["rows"] == 1003
    assert record_of(dataset)["offset"] == dataset.stat().st_size


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"{not json",
        b"null",
        b'{"rows": -1, "offset": 5}',
        b"x" * (RECORD_SIZE + 1),
        "\N{SNOWMAN}".encode() * 100,
    ],
)
def test_a_garbage_record_falls_back_to_the_scan(tmp_path: Path, garbage: bytes) -> None:
    dataset = started(tmp_path)
    rows_path(dataset).write_bytes(garbage)
    assert restart_reads(tmp_path, 1003) >= dataset.stat().st_size - 100
    assert record_of(dataset)["rows"] == 1003  # a whole record again


def test_a_record_written_in_part_is_not_used(tmp_path: Path) -> None:
    dataset = started(tmp_path)
    data = rows_path(dataset).read_bytes()
    assert b'"rows":1002,' in data
    # one number changed, the checksum not (as a write cut short could leave it)
    rows_path(dataset).write_bytes(data.replace(b'"rows":1002,', b'"rows":1001,'))
    assert restart_reads(tmp_path, 1003) >= dataset.stat().st_size - 100


@pytest.mark.parametrize(
    "changes",
    [
        {"offset": 10**12},  # past the end of the file
        {"ino": 1},  # another file's
        {"dev": 12345},
        {"tail": "c2FtZSBzaXplLCBvdGhlciBieXRlcwo="},  # other bytes before the offset
        {"rows": 0},  # not the empty file it would be
        {"rows": 10**9},  # more rows than bytes
        {"offset": 7},  # not at a row boundary
    ],
)
def test_a_record_that_does_not_fit_the_file_is_not_used(
    tmp_path: Path, changes: dict[str, object]
) -> None:
    dataset = started(tmp_path)
    forge(dataset, **changes)
    assert restart_reads(tmp_path, 1003) >= dataset.stat().st_size - 100


@pytest.mark.parametrize("what", ["directory", "symlink"])
def test_a_record_that_is_not_a_file_is_left_alone(tmp_path: Path, what: str) -> None:
    dataset = started(tmp_path)
    rows_path(dataset).unlink()
    outside = tmp_path / "outside.json"
    if what == "directory":
        rows_path(dataset).mkdir()
    else:
        outside.write_bytes(b"keep")
        rows_path(dataset).symlink_to(outside)
    assert restart_reads(tmp_path, 1003) >= dataset.stat().st_size - 100
    assert restart_reads(tmp_path, 1004) >= dataset.stat().st_size - 100  # still no record
    assert what == "directory" or outside.read_bytes() == b"keep"


def test_a_stale_record_counts_what_others_appended(tmp_path: Path) -> None:
    # another writer (Gradio, or a crash between a write and the record's update)
    dataset = started(tmp_path)
    before = dataset.stat().st_size
    append_rows(dataset, 500)
    appended = dataset.stat().st_size - before
    read = restart_reads(tmp_path, 2003)
    assert appended <= read < appended + 4096


class RecordWritesFail(Disk):
    """The record's in-place write fails (a full disk, an I/O error): rows still land."""

    def pwrite(self, fd: int, data: bytes, offset: int) -> int:
        raise OSError(28, "No space left on device")


def test_a_record_that_cannot_be_written_leaves_counts_exact(tmp_path: Path) -> None:
    dataset = started(tmp_path)
    logger = CSVLogger(disk=RecordWritesFail())
    logger.setup(COLUMNS, tmp_path)
    assert [logger.flag([f"r{i}", "R"]) for i in range(3)] == [1003, 1004, 1005]
    logger.close()
    assert record_of(dataset)["rows"] == 1002  # lagging
    assert restart_reads(tmp_path, 1006) < dataset.stat().st_size // 4


def test_two_loggers_keep_one_exact_record(tmp_path: Path) -> None:
    dataset = started(tmp_path)
    first, second = CSVLogger(), CSVLogger()
    for logger in (first, second):
        logger.setup(COLUMNS, tmp_path)
    counts = [logger.flag([f"r{i}", "R"]) for i in range(10) for logger in (first, second)]
    assert counts == list(range(1003, 1023))
    first.close()
    second.close()
    assert record_of(dataset)["rows"] == 1022
    assert restart_reads(tmp_path, 1023) < dataset.stat().st_size // 4


def test_a_file_replaced_by_one_of_the_same_size_is_counted_again(tmp_path: Path) -> None:
    dataset = started(tmp_path)
    size = dataset.stat().st_size
    data = dataset.read_bytes()
    # the same size and the same last bytes, one row fewer: two rows joined into one
    header_end = data.index(b"\n") + 1
    joined = data[:header_end] + data[header_end:].replace(PLAIN, PLAIN[:-1] + b" ", 1)
    assert len(joined) == size
    replacement = tmp_path / "replacement.csv"
    replacement.write_bytes(joined)
    os.replace(replacement, dataset)  # another inode
    assert restart_reads(tmp_path, 1002) >= size - 100


def test_a_file_edited_in_place_keeping_its_size_is_counted_again(tmp_path: Path) -> None:
    dataset = started(tmp_path)
    size = dataset.stat().st_size
    mtime_ns = dataset.stat().st_mtime_ns
    with dataset.open("r+b") as file:  # the same inode: two rows joined into one
        data = file.read()
        file.seek(data.index(PLAIN) + len(PLAIN) - 1)
        file.write(b" ")
    # an edit a second after the last append (one within the file system's timestamp
    # granularity of it is what the record cannot tell: see asyncflag.sinks.rowcount)
    os.utime(dataset, ns=(mtime_ns, mtime_ns + 10**9))
    assert restart_reads(tmp_path, 1002) >= size - 100


def test_a_torn_tail_is_moved_aside_with_a_record(tmp_path: Path) -> None:
    dataset = started(tmp_path)
    tail = b'torn,"never finished\nstill inside'
    with dataset.open("ab") as file:
        file.write(tail)
    assert restart_reads(tmp_path, 1003) < dataset.stat().st_size // 4
    assert (tmp_path / "dataset1.csv.torn").read_bytes() == tail


def test_a_truncated_file_is_counted_again(tmp_path: Path) -> None:
    dataset = started(tmp_path)
    data = dataset.read_bytes()
    cut = data.rindex(PLAIN, 0, len(data) // 2) + len(PLAIN)
    os.truncate(dataset, cut)
    assert restart_reads(tmp_path, scan_records(data[:cut])[0]) >= cut - 100


# -- the full scan: chunked, with the same answers as the line walk --------------------


def line_walk(data: bytes) -> tuple[int, int]:
    """The scan as it was: one Python step per line."""
    records = end = 0
    for end in record_ends(data):  # noqa: B007
        records += 1
    return records, end


cells = st.text(st.sampled_from(['"', "\n", "\r", ",", "a", "é", "\N{SNOWMAN}", " "]), max_size=8)
csv_bytes = st.lists(
    st.one_of(
        st.lists(cells, min_size=1, max_size=4).map(
            lambda row: (",".join('"' + c.replace('"', '""') + '"' for c in row) + "\r\n").encode()
        ),
        cells.map(str.encode),  # anything, torn rows and stray quotes too
    ),
    max_size=12,
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(data=csv_bytes, cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6))
def test_the_chunked_count_is_the_line_walk(data: bytes, cuts: list[int]) -> None:
    assert scan_records(data) == line_walk(data)
    counter = RecordCounter()
    previous = 0
    for cut in [*sorted(min(cut, len(data)) for cut in cuts), len(data)]:
        counter.feed(data[previous:cut])  # chunks split records, quotes and \r\n anywhere
        previous = cut
    assert (counter.records, counter.end) == line_walk(data)
    assert counter.fed == len(data)


def test_a_scan_across_many_chunks() -> None:
    data = (PLAIN + QUOTED) * 150_000  # > 2 chunks of 4 MiB, records across boundaries
    assert len(data) > 2 * (4 << 20)
    assert scan_records(data) == line_walk(data) == (300_000, len(data))
    torn = data + b'"open\n'
    assert scan_records(torn) == line_walk(torn) == (300_000, len(data))


def test_a_row_append_writes_no_record_until_a_megabyte_a_second_or_the_close(
    tmp_path: Path,
) -> None:
    # A one-row append pays no record write; a process that stops without closing
    # leaves what it appended since the record (at most about COUNT_EVERY_BYTES, or a
    # second's rows) for the next open to scan, and the count stays exact.
    path = tmp_path / "dataset1.csv"
    assert flag_once(tmp_path) == 1
    append_rows(path, 100_000)
    assert flag_once(tmp_path) == 200_002  # scans, records, closes
    logger = CSVLogger()
    logger.setup(COLUMNS, tmp_path)
    assert logger.flag(["first", "FIRST"]) == 200_003
    record = rows_path(path)
    written = record.read_bytes()
    for i in range(200):
        logger.flag([f"row {i}", "x"])
    assert record.read_bytes() == written  # not rewritten per append
    # the process stops here without closing: the next open scans only what came after
    disk = CountingDisk()
    assert flag_once(tmp_path, "after", disk) == 200_204
    assert disk.read < SMALL < path.stat().st_size
    # that logger closed cleanly: its record is up to date, the next open reads little
    disk = CountingDisk()
    assert flag_once(tmp_path, "again", disk) == 200_205
    assert disk.read < SMALL
    logger.close()


def test_a_megabyte_of_rows_rewrites_the_record(tmp_path: Path) -> None:
    logger = CSVLogger()
    logger.setup(COLUMNS, tmp_path)
    logger.flag(["first", "FIRST"])
    record = rows_path(tmp_path / "dataset1.csv")
    written = record.read_bytes()
    big = "x" * 4096
    for _ in range(COUNT_EVERY_BYTES // 8192 + 2):
        logger.flag([big, big])
    assert record.read_bytes() != written
    counted = json.loads(record.read_bytes())
    assert counted["rows"] > 1
    logger.close()
