"""File flags: 256x256 PNG images flagged per second, saves concurrent vs one at a time.

Beside it, the ceiling any threaded save can reach on this machine in the same run:
hashing the same PNGs (``hashlib`` releases the GIL) in two threads vs one. A saved
PNG's time is mostly its hash and its write, both without the GIL; when two threads
of pure hashing do not run twice as fast (cores busy with other work), neither can
the saves.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from asyncflag import CSVLogger, FlagReceipt, Interface, components

from ._common import Result, Settings, progress, scratch_dir


def make_pngs(count: int) -> list[bytes]:
    """Distinct 256x256 PNGs (random pixels, so nothing deduplicates and nothing compresses)."""
    from PIL import Image

    images = []
    for _ in range(count):
        buffer = io.BytesIO()
        Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3)).save(buffer, "PNG")
        images.append(buffer.getvalue())
    return images


async def images_per_second(pngs: list[bytes], concurrency: int, directory: Path) -> float:
    iface = Interface(
        lambda image: "ok",
        components.Image(label="image"),
        "text",
        flagging_dir=directory,
        flagging_callback=CSVLogger(max_concurrent_saves=concurrency),
        max_batch=64,
    )
    with progress() as bar:
        task = bar.add_task(f"images, {concurrency} save(s) at once", total=len(pngs))
        async with iface:
            started = time.perf_counter()
            receipts: list[FlagReceipt] = [iface.flag_nowait([png, "ok"]) for png in pngs]
            for receipt in receipts:
                await receipt.wait()
                bar.advance(task)
            elapsed = time.perf_counter() - started
    assert len(list((directory / "image").iterdir())) == len(pngs)
    return len(pngs) / elapsed


def hashes_per_second(pngs: list[bytes], threads: int, rounds: int = 5) -> float:
    """PNGs hashed per second by ``threads`` threads, each hashing its share."""

    def hash_all(share: list[bytes]) -> None:
        for _ in range(rounds):
            for png in share:
                hashlib.sha256(png).digest()

    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        list(pool.map(hash_all, [pngs[i::threads] for i in range(threads)]))
        elapsed = time.perf_counter() - started
    return len(pngs) * rounds / elapsed


async def run(settings: Settings) -> list[Result]:
    pngs = make_pngs(settings.rows(400, 20))
    size = sum(map(len, pngs)) / len(pngs)
    with scratch_dir() as tmp:
        one = await images_per_second(pngs, 1, tmp / "one")
        many = await images_per_second(pngs, 8, tmp / "eight")
    hashed_one = hashes_per_second(pngs, 1)
    hashed_two = hashes_per_second(pngs, 2)
    return [
        Result(
            "files",
            "256x256 PNG flags, 8 saves at once",
            many,
            "images/s",
            "1 save at a time",
            one,
            many / one,
            f"{len(pngs):,} distinct PNGs of {size / 1024:.0f} KiB, flush durability",
        ),
        Result(
            "files",
            "machine ceiling: sha256 of the PNGs in 2 threads",
            hashed_two,
            "images/s",
            "1 thread",
            hashed_one,
            hashed_two / hashed_one,
            "GIL released: what 2 cores give threaded saves in this run",
        ),
    ]
