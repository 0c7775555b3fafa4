"""File flags: 256x256 images flagged per second, saves concurrent vs one at a time.

Two kinds of image value, each with the ceiling any threaded save can reach on this
machine in the same run:

- PNG bytes (an upload): a save is the hash and the file-system work, both without the
  GIL; the ceiling is the same saves made by hand (hash, create, write, rename into one
  folder) in two threads vs one, beside hashing alone (``hashlib`` releases the GIL).
  When the file system does not go faster from two threads (on a VM, page-cache writes
  and file creation may not), neither can the saves.
- numpy arrays (what ``fn`` returns, as in Gradio): a save encodes the PNG first, in the
  save's worker thread (Pillow's encoder releases the GIL), then hashes and writes it;
  the ceiling is the PNG encoding alone in two threads vs one.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from asyncflag import CSVLogger, FlagReceipt, Interface, components
from asyncflag.sinks.storage import usable_cores

from ._common import Result, Settings, progress, scratch_dir


def make_arrays(count: int) -> list[Any]:
    """Distinct 256x256 RGB arrays of random pixels (numpy), encoded only when saved."""
    import numpy as np

    rng = np.random.default_rng(17)
    return [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(count)]


def encodes_per_second(arrays: list[Any], threads: int) -> float:
    """Arrays encoded as PNG per second by ``threads`` threads, each encoding its share."""
    from PIL import Image

    def encode_all(share: list[Any]) -> None:
        for array in share:
            Image.fromarray(array).save(io.BytesIO(), format="PNG")

    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        list(pool.map(encode_all, [arrays[i::threads] for i in range(threads)]))
        elapsed = time.perf_counter() - started
    return len(arrays) / elapsed


def make_pngs(count: int) -> list[bytes]:
    """Distinct 256x256 PNGs (random pixels, so nothing deduplicates and nothing compresses)."""
    from PIL import Image

    images = []
    for _ in range(count):
        buffer = io.BytesIO()
        Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3)).save(buffer, "PNG")
        images.append(buffer.getvalue())
    return images


async def images_per_second(pngs: list[Any], concurrency: int, directory: Path) -> float:
    """Images (PNG bytes or arrays) flagged into ``directory`` per second, from the first
    ``flag_nowait`` until every row is written, with ``max_concurrent_saves=concurrency``."""
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


def raw_saves_per_second(pngs: list[bytes], threads: int, directory: Path) -> float:
    """PNGs saved per second by ``threads`` threads doing by hand what a save does (hash,
    create a temporary file, write, rename to the hash's name) in one folder, as the
    saves of one column do: the ceiling of threaded saves on this machine's file system,
    in the same run."""
    directory.mkdir(parents=True)

    def save_all(share: list[bytes]) -> None:
        for png in share:
            name = hashlib.sha256(png).hexdigest()[:40]
            temp = directory / f".{secrets.token_hex(8)}.tmp"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, png)
            finally:
                os.close(fd)
            os.replace(temp, directory / f"{name}.png")

    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        list(pool.map(save_all, [pngs[i::threads] for i in range(threads)]))
        elapsed = time.perf_counter() - started
    return len(pngs) / elapsed


#: rounds of the four measurements, each figure the best of its rounds
ROUNDS = 3


async def run(settings: Settings) -> list[Result]:
    pngs = make_pngs(settings.rows(400, 20))
    size = sum(map(len, pngs)) / len(pngs)
    # This case's figures move with the machine's page cache (what a VM's host gives
    # it, what the kernel writes back): each is the best of a few rounds taken in
    # turn, each round into fresh folders removed after it.
    arrays = make_arrays(settings.rows(200, 10))
    one = many = raw_one = raw_two = array_one = array_many = 0.0
    for _ in range(1 if settings.quick else ROUNDS):
        with scratch_dir() as tmp:
            os.sync()  # earlier cases' pages are not written back during this one
            one = max(one, await images_per_second(pngs, 1, tmp / "one"))
            many = max(many, await images_per_second(pngs, 8, tmp / "eight"))
            raw_one = max(raw_one, raw_saves_per_second(pngs, 1, tmp / "raw-one"))
            raw_two = max(raw_two, raw_saves_per_second(pngs, 2, tmp / "raw-two"))
            array_one = max(array_one, await images_per_second(arrays, 1, tmp / "arrays-one"))
            array_many = max(array_many, await images_per_second(arrays, 8, tmp / "arrays-eight"))
    hashed_one = hashes_per_second(pngs, 1)
    hashed_two = hashes_per_second(pngs, 2)
    encoded_one = encodes_per_second(arrays, 1)
    encoded_two = encodes_per_second(arrays, 2)
    return [
        Result(
            "files",
            "256x256 PNG flags, 8 saves at once",
            many,
            "images/s",
            "1 save at a time",
            one,
            many / one,
            f"{len(pngs):,} distinct PNGs of {size / 1024:.0f} KiB, flush durability; "
            f"best of {ROUNDS} rounds; max_concurrent_saves=8 on {usable_cores()} cores: "
            "as many lanes as cores while the saves keep them busy",
        ),
        Result(
            "files",
            "machine ceiling: the same saves by hand in 2 threads",
            raw_two,
            "images/s",
            "1 thread",
            raw_one,
            raw_two / raw_one,
            "sha256, create, write, rename into one folder: what this file system gives "
            "threaded saves in this run",
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
        Result(
            "files",
            "256x256 images as numpy arrays (PNG encoded in the save), 8 saves at once",
            array_many,
            "images/s",
            "1 save at a time",
            array_one,
            array_many / array_one,
            f"{len(arrays):,} distinct arrays of random pixels, flush durability; best of "
            f"{ROUNDS} rounds; max_concurrent_saves=8 on {usable_cores()} cores",
        ),
        Result(
            "files",
            "machine ceiling: PNG encoding of the arrays in 2 threads",
            encoded_two,
            "images/s",
            "1 thread",
            encoded_one,
            encoded_two / encoded_one,
            "Pillow's encoder releases the GIL: what 2 cores give the arrays' saves",
        ),
    ]
