"""Auto-flag a stream of predictions and say where the rows went.

Run: python examples/auto_stream.py [--rows N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import anyio

from asyncflag import Interface, components, load_flagged


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
    flagged = load_flagged(flagging_dir, iface.components)
    datasets = sorted({row.file for row in flagged})
    print(
        f"{stats.written} predictions auto-flagged in {elapsed:.2f}s "
        f"({stats.written / elapsed:,.0f} rows/s), {stats.failed} failed, {stats.dropped} dropped"
    )
    print(f"rows went to: {', '.join(datasets)}")
    print(f"{len(flagged)} rows in the flagging directory; the last one reads back as:")
    last = flagged[-1]
    print("  " + ", ".join(f"{k}={v!r}" for k, v in zip(last.labels, last.values, strict=True)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("flagged"))
    args = parser.parse_args()
    anyio.run(main, args.rows, args.dir)
