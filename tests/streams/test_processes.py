"""Several processes around one stream: producers, a consumer killed and restarted, a standby,
and a redis-server restarted mid-stream."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import anyio
import pytest

from asyncflag import load_flagged

from .child import producer_interface
from .redis_server import RedisServer

CHILD = Path(__file__).with_name("child.py")
FULL = bool(os.environ.get("ASYNCFLAG_RELIABILITY_FULL"))
BACKENDS = ("asyncio", "trio")
STREAM = "flags:procs"


def start(*args: str, stdout: int | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(CHILD), *args], stdout=stdout)


def start_consumer(server: RedisServer, directory: Path, backend: str) -> subprocess.Popen[bytes]:
    """A consumer child; it prints ``started`` on its stdout (a pipe) once it runs."""
    return start(backend, "consumer", server.url, STREAM, str(directory), stdout=subprocess.PIPE)


def reap(*children: subprocess.Popen[bytes]) -> None:
    for child in children:
        child.kill()
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()


def stop_consumer(consumer: subprocess.Popen[bytes]) -> None:
    """SIGTERM once it runs (its handler is in place once it printed): a clean exit."""
    assert consumer.stdout is not None
    assert consumer.stdout.readline() == b"started\n"
    consumer.send_signal(signal.SIGTERM)
    assert consumer.wait(timeout=60) == 0


def rows_in(directory: Path) -> int:
    return len(load_flagged(directory)) if (directory / "dataset1.csv").exists() else 0


def start_producers(
    server: RedisServer, tmp_path: Path, count: int, rows: int
) -> list[subprocess.Popen[bytes]]:
    return [
        start(
            BACKENDS[k % 2],
            "producer",
            server.url,
            STREAM,
            f"p{k}",
            str(rows),
            str(tmp_path / f"counts{k}.json"),
        )
        for k in range(count)
    ]


def check_exactly_once(tmp_path: Path, directory: Path, producers: int, rows: int) -> None:
    """Every row once, each producer's in its order, and flag() returned each row's position."""
    flagged = load_flagged(directory)
    assert len(flagged) == producers * rows
    seen = Counter((row.values[0], row.values[1]) for row in flagged)
    assert set(seen.values()) == {1}, "a row was written twice"
    for k in range(producers):
        mine = [int(row.values[1]) for row in flagged if row.values[0] == f"p{k}"]
        assert mine == list(range(rows)), f"p{k}'s rows are missing or out of order"
        counts = json.loads((tmp_path / f"counts{k}.json").read_text())
        positions = [i + 1 for i, row in enumerate(flagged) if row.values[0] == f"p{k}"]
        assert counts == positions  # the count flag() returned is the row's place in the file


def test_four_producers_one_consumer(redis_server: RedisServer, tmp_path: Path) -> None:
    rows = 10_000 if FULL else 1_000
    directory = tmp_path / "flags"
    consumer = start_consumer(redis_server, directory, "asyncio")
    producers = start_producers(redis_server, tmp_path, 4, rows)
    try:
        for child in producers:
            assert child.wait(timeout=600) == 0
    finally:
        stop_consumer(consumer)
        reap(consumer, *producers)
    check_exactly_once(tmp_path, directory, 4, rows)
    print(f"4 producers (asyncio and trio) x {rows:,} rows through Redis: {4 * rows:,} rows, "
          "each once, in each producer's order")  # fmt: skip


def test_a_consumer_killed_again_and_again(redis_server: RedisServer, tmp_path: Path) -> None:
    rows = 50_000 if FULL else 10_000
    kills = 20 if FULL else 5
    rng = random.Random(int(os.environ.get("ASYNCFLAG_CRASH_SEED", "77")))
    directory = tmp_path / "flags"
    producers = start_producers(redis_server, tmp_path, 2, rows)
    written_at_kills = []
    try:
        for kill in range(kills):
            consumer = start_consumer(redis_server, directory, BACKENDS[kill % 2])
            assert consumer.stdout is not None
            consumer.stdout.readline()  # running
            before = rows_in(directory)
            deadline = time.monotonic() + 30
            while rows_in(directory) == before and time.monotonic() < deadline:
                time.sleep(0.01)  # writing: now kill it at a random moment
            time.sleep(rng.uniform(0.0, 0.05))
            reap(consumer)  # SIGKILL
            written_at_kills.append(rows_in(directory))
        consumer = start_consumer(redis_server, directory, "asyncio")
        for child in producers:
            assert child.wait(timeout=600) == 0
        stop_consumer(consumer)
    finally:
        reap(consumer, *producers)
    assert written_at_kills[-1] < 2 * rows, "some kills came after the work was done"
    check_exactly_once(tmp_path, directory, 2, rows)
    print(f"consumer SIGKILLed {kills} times (rows on disk at each kill: {written_at_kills}): "
          f"{2 * rows:,} rows, none lost, none doubled")  # fmt: skip


def test_a_standby_takes_over(redis_server: RedisServer, tmp_path: Path) -> None:
    rows = 10_000 if FULL else 2_000
    directory = tmp_path / "flags"
    first = start_consumer(redis_server, directory, "asyncio")
    time.sleep(0.5)
    standby = start_consumer(redis_server, directory, "trio")
    producers = start_producers(redis_server, tmp_path, 2, rows)
    try:
        time.sleep(1.0)
        reap(first)  # SIGKILL
        for child in producers:
            assert child.wait(timeout=600) == 0
        stop_consumer(standby)
    finally:
        reap(first, standby, *producers)
    check_exactly_once(tmp_path, directory, 2, rows)


@pytest.mark.anyio
async def test_redis_restarted_mid_stream(redis_server: RedisServer, tmp_path: Path) -> None:
    directory = tmp_path / "flags"
    consumer = start_consumer(redis_server, directory, "asyncio")
    iface = producer_interface(redis_server.url, STREAM)
    receipts = []
    served = 0
    try:
        async with iface:
            for phase in range(3):
                if phase == 1:
                    await anyio.to_thread.run_sync(redis_server.stop)
                if phase == 2:
                    await anyio.to_thread.run_sync(redis_server.start)
                for i in range(300):
                    seq = phase * 300 + i
                    served += (await iface.submit("p0", seq)).outputs[0] == seq
                    receipts.append(iface.flag_nowait(["p0", seq, seq]))
                    await anyio.sleep(0.002)
            counts = [await receipt.wait() for receipt in receipts]
            assert iface.stats.reconnects >= 1
    finally:
        await anyio.to_thread.run_sync(stop_consumer, consumer)
        reap(consumer)
    assert served == 900  # predictions kept coming while Redis was down
    (directory.parent / "counts0.json").write_text(json.dumps(counts))
    check_exactly_once(directory.parent, directory, 1, 900)
