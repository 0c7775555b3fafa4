"""Crash safety: SIGKILL a child flagging in fsync mode; every acknowledged row survives."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio

from asyncflag import load_flagged
from asyncflag.sinks.records import scan_records

from .child import interface

CHILD = Path(__file__).with_name("child.py")
FULL = bool(os.environ.get("ASYNCFLAG_RELIABILITY_FULL"))


def run_and_kill(directory: Path, first: int, delay: float, backend: str) -> set[int]:
    """Start the crasher, SIGKILL it after ``delay`` seconds; return what it acknowledged."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD), backend, "crasher", str(directory), str(first)],
        stdout=subprocess.PIPE,
        text=True,
    )
    acknowledged: set[int] = set()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip():
                acknowledged.add(int(line))

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    reader.join(timeout=30)
    assert child.stdout is not None
    child.stdout.close()
    return acknowledged


async def reopen(directory: Path) -> None:
    """What the next run does: open the dataset (repairing a torn tail) and add a row."""
    async with interface(str(directory), "fsync") as iface:
        await iface.flag([None, -1, "reopen", -1])


def test_sigkill_loses_no_acknowledged_row(tmp_path: Path) -> None:
    kills = 20 if FULL else 3
    rng = random.Random(int(os.environ.get("ASYNCFLAG_CRASH_SEED", "1234")))
    directory = tmp_path / "flags"
    acknowledged: set[int] = set()
    for kill in range(kills):
        backend = ("asyncio", "trio")[kill % 2]
        acknowledged |= run_and_kill(directory, kill * 1_000_000, rng.uniform(0.8, 2.0), backend)
        anyio.run(reopen, directory, backend=backend)
        data = (directory / "dataset1.csv").read_bytes()
        assert scan_records(data)[1] == len(data), "a torn row was left in place"
        stored = {row.values[1] for row in load_flagged(directory)}
        missing = {str(seq) for seq in acknowledged} - stored
        assert not missing, f"kill {kill}: acknowledged rows missing: {sorted(missing)[:10]}"
        for saved in (directory / "doc").iterdir():
            if not saved.name.startswith("."):  # temporaries may be left; final names never lie
                digest = hashlib.sha256(saved.read_bytes()).hexdigest()[:40]
                assert saved.name == digest + ".bin", f"partial file under a final name: {saved}"
    assert acknowledged, "the child never acknowledged a row"
    print(f"kills survived {kills}/{kills} (asyncio and trio alternating), acknowledged rows "
          f"missing 0 of {len(acknowledged):,}")  # fmt: skip
