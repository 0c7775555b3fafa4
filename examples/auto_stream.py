"""Auto-flag a stream of predictions, read them back and say where the rows went.

Run: python examples/auto_stream.py [--rows N] [--dir DIR]
The rows go to a folder of their own, ./flagged-auto-stream by default (not the demo's
./flagged: that one holds the calculator's columns, which this interface cannot read).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import anyio

from asyncflag import FlaggedRow, Interface, components, iter_flagged
from asyncflag.errors import FlagReadError


async def sentiment(text: str, threshold: float) -> tuple[str, float]:
    """A stand-in model: scores how shouty a sentence is."""
    score = sum(ch.isupper() for ch in text) / max(len(text), 1)
    return ("positive" if score >= threshold else "negative"), round(score, 3)


async def main(rows: int, flagging_dir: Path) -> None:
    iface = Interface(
        sentiment,
        [components.Textbox(label="text"), components.Number(label="threshold")],
        [components.Textbox(label="label"), components.Number(label="score")],
        flagging_mode="auto",
        flagging_dir=flagging_dir,
    )
    started = time.perf_counter()
    async with iface:
        for i in range(rows):
            await iface.submit(f"Sentence number {i} SAYS HELLO" if i % 3 else f"-{i} = quiet", 0.3)
    elapsed = time.perf_counter() - started
    stats = iface.stats
    print(
        f"{stats.written} predictions auto-flagged in {elapsed:.2f}s "
        f"({stats.written / elapsed:,.0f} rows/s), {stats.failed} failed, {stats.dropped} dropped"
    )
    # Read back what was written, one row at a time (earlier runs' rows included).
    count, datasets = 0, set[str]()
    last: FlaggedRow | None = None
    try:
        for row in iter_flagged(flagging_dir, iface.components):
            count, last = count + 1, row
            datasets.add(row.file)
    except FlagReadError as error:
        raise SystemExit(
            f"{flagging_dir} also holds rows of another interface ({error}); "
            "give this example a folder of its own with --dir"
        ) from None
    print(f"rows went to: {', '.join(sorted(datasets))}")
    print(f"{count} rows in {flagging_dir} (earlier runs' included); the last one reads back as:")
    if last is not None:
        values = zip(last.labels, last.values, strict=True)
        print("  " + ", ".join(f"{k}={v!r}" for k, v in values))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("flagged-auto-stream"))
    args = parser.parse_args()
    anyio.run(main, args.rows, args.dir)
