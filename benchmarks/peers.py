"""Peers in the same run, same rows: Python's logging queue, aiofiles, and Gradio's loggers.

Gradio's ``CSVLogger`` and ``SimpleCSVLogger`` are measured when ``gradio`` is installed
(``pip install 'asyncflag[bench]'``), with 1k and 20k rows already in their file, beside
asyncflag flagging into a file of the same size.

aiofiles (the design card's first idea for file I/O) is measured on asyncio when it is
installed: the same rows formatted the same way on the loop, written with one awaited
``write`` per row, and with one per batch of the size asyncflag's writer takes, beside
asyncflag's ``flag_nowait`` -> rows on disk in the same run.
"""

from __future__ import annotations

import csv
import io
import logging
import logging.handlers
import queue
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncflag import FlagReceipt

from ._common import (
    Result,
    Settings,
    make_rows,
    progress,
    raw_writerows_rate,
    scratch_dir,
    six_column_interface,
)
from .scaling import prefill


def logging_queue_rate(rows: list[tuple[Any, ...]], path: Path) -> float:
    """rows/s of a QueueHandler + QueueListener writing each row's CSV line to a file."""
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    listener = logging.handlers.QueueListener(records, handler)
    log = logging.getLogger(f"asyncflag-bench-{id(rows)}")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(logging.handlers.QueueHandler(records))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="")
    listener.start()
    started = time.perf_counter()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([*row, "", "", datetime.now().isoformat()])
        log.info(buffer.getvalue())
    listener.stop()  # drains the queue: every line is in the file
    elapsed = time.perf_counter() - started
    handler.close()
    return len(rows) / elapsed


def gradio_rate(kind: str, existing: int, flags: int, directory: Path) -> float | None:
    """flags/s of Gradio's logger flagging into a file that already holds ``existing`` rows."""
    try:
        import gradio as gr
    except ImportError:
        return None
    labels = ["prompt", "context", "user", "temperature", "stream", "answer"]
    components = [gr.Textbox(label=label) for label in labels]
    logger = gr.CSVLogger() if kind == "CSVLogger" else gr.SimpleCSVLogger()
    logger.setup(components, str(directory))
    rows = make_rows(max(existing, flags))
    as_text = [[str(value) for value in row] for row in rows]
    logger.flag(as_text[0])  # creates the file with Gradio's own header
    path = next(p for p in directory.glob("*.csv"))
    with path.open("a", newline="", encoding="utf-8") as file:
        stamp = str(datetime.now())
        csv.writer(file).writerows([*row, stamp] for row in as_text[1:existing])
    started = time.perf_counter()
    for row in as_text[:flags]:
        logger.flag(row)
    return flags / (time.perf_counter() - started)


async def asyncflag_rate(existing: int, count: int, directory: Path) -> float:
    """rows/s of asyncflag into a file that already holds ``existing`` rows."""
    prefill(directory, existing)
    rows = make_rows(count)
    iface = six_column_interface(directory, max_pending=count + 1)
    async with iface:
        await iface.flag(rows[0])  # opens the file
        started = time.perf_counter()
        receipts: list[FlagReceipt] = [iface.flag_nowait(row) for row in rows]
        await receipts[-1].wait()
        elapsed = time.perf_counter() - started
    return count / elapsed


async def aiofiles_rate(
    rows: list[tuple[Any, ...]], path: Path, batch: int, backend: str
) -> float | None:
    """rows/s of aiofiles writing the rows' CSV lines: one awaited write per ``batch`` rows.

    Each row gets its own timestamp and is formatted on the loop with ``csv.writer``, as
    asyncflag's writer formats its batches; the file is flushed at the end. ``None`` when
    aiofiles is not installed or the loop is not asyncio's (aiofiles runs on asyncio only).
    """
    if backend != "asyncio":
        return None
    try:
        import aiofiles
    except ImportError:
        return None
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    started = time.perf_counter()
    async with aiofiles.open(path, "w", newline="", encoding="utf-8") as file:
        for start in range(0, len(rows), batch):
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(
                [*row, "", "", datetime.now(UTC).isoformat()] for row in rows[start : start + batch]
            )
            await file.write(buffer.getvalue())
        await file.flush()
    return len(rows) / (time.perf_counter() - started)


async def aiofiles_results(settings: Settings, tmp: Path) -> list[Result]:
    """aiofiles per row and per batch vs asyncflag's flag_nowait -> disk, same rows."""
    count = settings.rows(100_000, 2_000)
    rows = make_rows(count)
    batch = six_column_interface(tmp / "unused").max_batch  # the writer's default batch
    ours = await asyncflag_rate(0, count, tmp / "ours-aiofiles")
    results = []
    for label, size in (("one awaited write per row", 1), (f"one per {batch:,}-row batch", batch)):
        theirs = await aiofiles_rate(rows, tmp / f"aiofiles-{size}.csv", size, settings.backend)
        if theirs is None:
            return []
        results.append(
            Result(
                "peers",
                f"asyncflag flag_nowait -> disk vs aiofiles, {label}",
                ours,
                "rows/s",
                f"aiofiles, {label}",
                theirs,
                ours / theirs,
                f"{count:,} rows; aiofiles' side is csv.writer + write only "
                "(no checks, escaping or receipts)",
            )
        )
    return results


async def run(settings: Settings) -> list[Result]:
    results = []
    rows = make_rows(settings.rows(200_000, 5_000))
    with scratch_dir() as tmp:
        results += await aiofiles_results(settings, tmp)
        raw = raw_writerows_rate(rows, tmp)
        logged = logging_queue_rate(rows, tmp / "logging.csv")
        results.append(
            Result(
                "peers",
                "logging QueueHandler+QueueListener, same lines",
                logged,
                "rows/s",
                "raw csv writerows",
                raw,
                logged / raw,
                f"{len(rows):,} rows",
            )
        )
        sizes = (1_000, 20_000) if not settings.quick else (1_000, 2_000)
        with progress() as bar:
            task = bar.add_task("Gradio loggers", total=len(sizes) * 2)
            for existing in sizes:
                ours = await asyncflag_rate(
                    existing, settings.rows(100_000, 2_000), tmp / f"ours-{existing}"
                )
                for kind in ("CSVLogger", "SimpleCSVLogger"):
                    flags = settings.rows(500 if existing <= 1_000 else 100, 10)
                    theirs = gradio_rate(kind, existing, flags, tmp / f"{kind}-{existing}")
                    bar.advance(task)
                    if theirs is None:
                        continue
                    results.append(
                        Result(
                            "peers",
                            f"asyncflag vs Gradio {kind}, {existing:,} rows in the file",
                            ours,
                            "rows/s",
                            f"Gradio {kind} flags/s",
                            theirs,
                            ours / theirs,
                            "target: >= 200x at 1k, >= 5,000x at 20k"
                            if kind == "CSVLogger"
                            else "",
                        )
                    )
    return results
