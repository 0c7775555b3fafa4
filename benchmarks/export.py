"""Export: a flagging directory's CSV to typed Parquet with ``asyncflag.export``, in rows
per second beside pyarrow's own CSV reader (``pyarrow.csv.read_csv`` then
``write_table``) on the same file, and the export's peak memory (RSS growth, sampled,
after a 20k-row warm-up export).

The file has 1M rows (20k with ``--quick``) of a text, an int, a float and a checkbox,
with flag, username and timestamp, as asyncflag writes them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asyncflag import components

from ._common import Result, Settings, scratch_dir

STAMP = "2026-01-02T03:04:05.000006+00:00"
LINE = f"a flagged text value of some length,12345,0.5,True,wrong,ada,{STAMP}\n"


def write_dataset(folder: Path, rows: int) -> Path:
    folder.mkdir(parents=True)
    path = folder / "dataset1.csv"
    with path.open("w") as file:
        file.write("text,count,score,ok,flag,username,timestamp\n")
        for start in range(0, rows, 10_000):
            file.write(LINE * min(10_000, rows - start))
    return path


def peak_rss_growth(work: Callable[[], Any]) -> tuple[float, float]:
    """Seconds ``work()`` took and its peak RSS growth in bytes (sampled every ms)."""
    import psutil

    process = psutil.Process()
    base = process.memory_info().rss
    peak = base
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            done.wait(0.001)

    thread = threading.Thread(target=sample)
    thread.start()
    started = time.perf_counter()
    try:
        work()
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        thread.join()
    return elapsed, max(peak, process.memory_info().rss) - base


async def run(settings: Settings) -> list[Result]:
    import pyarrow.csv
    import pyarrow.parquet

    from asyncflag.export import export

    rows = settings.rows(1_000_000, 20_000)
    comps = [
        components.Textbox(label="text"),
        components.Number(label="count", precision=0),
        components.Number(label="score"),
        components.Checkbox(label="ok"),
    ]
    with scratch_dir() as tmp:
        path = write_dataset(tmp / "flagged", rows)
        # warm-up: imports, Arrow's memory pool and the Parquet writer's first buffers
        write_dataset(tmp / "warm", 20_000)
        export(tmp / "warm", "parquet", tmp / "warm.parquet", components=comps)
        seconds, grown = peak_rss_growth(
            lambda: export(tmp / "flagged", "parquet", tmp / "asyncflag.parquet", components=comps)
        )
        assert pyarrow.parquet.ParquetFile(tmp / "asyncflag.parquet").metadata.num_rows == rows

        def baseline() -> None:
            table = pyarrow.csv.read_csv(path)
            pyarrow.parquet.write_table(table, tmp / "pyarrow.parquet")

        base_seconds, base_grown = peak_rss_growth(baseline)
    rate, base_rate = rows / seconds, rows / base_seconds
    return [
        Result(
            "export",
            "CSV -> typed Parquet (asyncflag.export, streamed)",
            rate,
            "rows/s",
            "pyarrow.csv.read_csv + write_table",
            base_rate,
            rate / base_rate,
            f"{rows:,} rows; peak RSS +{grown / 2**20:.0f} MiB (pyarrow, whole file in "
            f"memory: +{base_grown / 2**20:.0f} MiB)",
            {"rows": rows, "peak_rss_mib": grown / 2**20, "pyarrow_rss_mib": base_grown / 2**20},
        )
    ]
