"""File flags: 256x256 PNG images flagged per second, saves concurrent vs one at a time."""

from __future__ import annotations

import io
import os
import time
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


async def run(settings: Settings) -> list[Result]:
    pngs = make_pngs(settings.rows(400, 20))
    size = sum(map(len, pngs)) / len(pngs)
    with scratch_dir() as tmp:
        one = await images_per_second(pngs, 1, tmp / "one")
        many = await images_per_second(pngs, 8, tmp / "eight")
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
        )
    ]
