"""Restart: the first ``await flag()`` after ``async with`` on a big dataset (1M rows,
about 72 MiB; 20k with ``--quick``), beside the 10 ms goal.

Timed three ways, in the same run:

- with the row count kept beside the file (``.asyncflag/dataset1.rows.json``): only
  the bytes past the counted rows are read;
- with that record removed: the whole file is counted, in 4 MiB chunks
  (:class:`~asyncflag.sinks.records.RecordCounter`);
- the scan a restart made before the record (one read of the whole file, then one
  Python step per line), timed on the same file: kept here only, as the baseline.

Each figure is the median of a few restarts.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from asyncflag.sinks.datasets import rows_path
from asyncflag.sinks.records import record_ends

from ._common import Result, Settings, make_rows, scratch_dir, six_column_interface

STAMP = "2026-01-02T03:04:05.000006+00:00"
#: six cells, flag, username, timestamp; one row in seven has a quoted cell
PLAIN = f"what is 1+2?,calc,user4,0.4,True,3,,,{STAMP}\n"
QUOTED = f'"=SUM(A1:A9), ""q""",calc,user1,0.1,False,3,,,{STAMP}\n'
BLOCK = (PLAIN * 6 + QUOTED).encode()
BLOCK_ROWS = 7
GOAL_MS = 10.0


def line_walk_scan(path: Path) -> tuple[int, int]:
    """The restart's count before the row-count record: read it all, walk its lines."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, os.fstat(fd).st_size, 0)
    finally:
        os.close(fd)
    records = end = 0
    for end in record_ends(data):  # noqa: B007 - the last value is the answer
        records += 1
    return records, end


async def first_flag_ms(flagging_dir: Path, row: tuple[object, ...]) -> tuple[float, int]:
    """Milliseconds from entering ``async with`` to the first flag's row on disk."""
    iface = six_column_interface(flagging_dir)
    started = time.perf_counter()
    async with iface:
        count = await iface.flag(row)
        elapsed = time.perf_counter() - started
    return elapsed * 1000, count


async def run(settings: Settings) -> list[Result]:
    rows = settings.rows(1_000_000, 20_000)
    repeats = settings.rows(5, 2)
    (row,) = make_rows(1)
    with scratch_dir() as tmp:
        dataset = tmp / "dataset1.csv"
        await first_flag_ms(tmp, row)  # the header, the schema, the record
        with dataset.open("ab") as file:
            for _ in range(rows // BLOCK_ROWS):
                file.write(BLOCK)
        size = dataset.stat().st_size
        expected = 1 + rows // BLOCK_ROWS * BLOCK_ROWS
        await first_flag_ms(tmp, row)  # counts the appended rows; the record kept
        expected += 1

        kept = []
        for _ in range(repeats):
            ms, count = await first_flag_ms(tmp, row)
            expected += 1
            assert count == expected, (count, expected)
            kept.append(ms)
        scanned = []
        for _ in range(repeats):
            rows_path(dataset).unlink()
            ms, count = await first_flag_ms(tmp, row)
            expected += 1
            assert count == expected, (count, expected)
            scanned.append(ms)
        walked = []
        for _ in range(repeats):
            started = time.perf_counter()
            records, _ = line_walk_scan(dataset)
            walked.append((time.perf_counter() - started) * 1000)
            assert records == expected + 1  # and the header
    with_record = statistics.median(kept)
    without = statistics.median(scanned)
    before = statistics.median(walked)
    note = f"{rows:,} rows, {size / 2**20:.0f} MiB"
    extra = {"rows": rows, "bytes": size, "with_record_ms": kept, "without_ms": scanned}
    return [
        Result(
            "restart",
            "first flag() after restart, row count kept (ms)",
            with_record,
            "ms",
            "goal",
            GOAL_MS,
            GOAL_MS / with_record,
            note,
            extra,
        ),
        Result(
            "restart",
            "first flag() after restart, no row count: chunked scan (ms)",
            without,
            "ms",
            "the line-walk scan it replaced (scan only)",
            before,
            before / without,
            note,
        ),
        Result(
            "restart",
            "first flag() after restart, row count kept (ms)",
            with_record,
            "ms",
            "the line-walk scan (scan only)",
            before,
            before / with_record,
            note,
        ),
    ]
