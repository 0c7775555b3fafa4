"""Through Redis Streams: a replica, redis-server and ``asyncflag consume`` on one machine.

End to end means from ``flag_nowait`` in the replica to the replica learning the row's count,
which the consumer sends once the row is on disk. The baseline is the in-process pipeline
doing the same work in the same run. redis-server runs with ``appendonly yes`` and the default
``appendfsync everysec``; the consumer is a separate process, as it would be in production.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from asyncflag import FlagReceipt, Interface, RedisStream

from ._common import (
    Result,
    Settings,
    flag_nowait_or_wait,
    histogram,
    make_rows,
    percentiles,
    scratch_dir,
    six_column_interface,
)

STREAM = "flags:bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(directory: Path, port: int) -> subprocess.Popen[bytes]:
    directory.mkdir(parents=True)
    command = [
        shutil.which("redis-server") or "redis-server",
        "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
        "--appendonly", "yes", "--save", "",
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return server
        except OSError:
            time.sleep(0.02)
    server.kill()
    raise TimeoutError("redis-server did not start")


def start_consumer(url: str, directory: Path) -> subprocess.Popen[str]:
    consumer = subprocess.Popen(
        [sys.executable, "-m", "asyncflag", "consume", url, "--stream", STREAM,
         "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert consumer.stdout is not None
    consumer.stdout.readline()  # running
    return consumer


async def flood(iface: Interface, rows: list[tuple[Any, ...]]) -> float:
    """``flag_nowait`` every row as fast as the queue takes them; rows/s until the last count."""
    receipts: list[FlagReceipt] = []
    started = time.perf_counter()
    for row in rows:
        await flag_nowait_or_wait(iface, row, receipts)
    assert await receipts[-1].wait() == len(rows) + 1  # one warm-up row came first
    return len(rows) / (time.perf_counter() - started)


async def open_loop(iface: Interface, rows: list[tuple[Any, ...]], rate: int) -> dict[str, float]:
    """Flags sent at ``rate`` per second whether or not earlier ones are written."""
    sent: list[tuple[float, FlagReceipt]] = []
    start = time.perf_counter() + 0.01
    for i, row in enumerate(rows):
        delay = start + i / rate - time.perf_counter()
        if delay > 0.0005:
            await anyio.sleep(delay)
        sent.append((time.perf_counter(), iface.flag_nowait(row)))
    hist = histogram()
    for at, receipt in sent:
        await receipt.wait()
        assert receipt.written_at is not None
        hist.record_value(max(1, int((receipt.written_at - at) * 1e6)))
    return percentiles(hist)


async def measure(iface: Interface, rows: list[tuple[Any, ...]], latency_rows: int) -> Any:
    async with iface:
        await iface.flag(rows[0])  # connections and files opened: not measured
        rate = await flood(iface, rows)
    async with iface:
        await iface.flag(rows[0])  # reopening the dataset file counts its rows: not measured
        latency = await open_loop(iface, rows[:latency_rows], 5_000)
    return rate, latency


async def run(settings: Settings) -> list[Result]:
    if shutil.which("redis-server") is None:
        return [Result("redis", "skipped: redis-server is not installed", 0, "")]
    count = settings.rows(200_000, 10_000)
    latency_rows = settings.rows(25_000, 2_000)  # 5 s at 5k/s
    rows = make_rows(count)
    with scratch_dir() as tmp:
        local_rate, local_latency = await measure(
            six_column_interface(tmp / "local", max_pending=50_000), rows, latency_rows
        )
        port = free_port()
        server = start_redis(tmp / "redis", port)
        url = f"redis://127.0.0.1:{port}/0"
        consumer = start_consumer(url, tmp / "consumed")
        try:
            replica = six_column_interface(
                tmp / "unused",
                transport=RedisStream(url, stream=STREAM),
                max_pending=50_000,
            )
            redis_rate, redis_latency = await measure(replica, rows, latency_rows)
        finally:
            consumer.terminate()
            consumer.wait(timeout=60)
            assert consumer.stdout is not None
            consumer.stdout.close()
            server.terminate()
            server.wait(timeout=60)
    extra = {"redis": redis_latency, "in-process": local_latency}
    results = [
        Result(
            "redis",
            "flag_nowait -> count back from the consumer",
            redis_rate,
            "rows/s",
            "in-process pipeline",
            local_rate,
            redis_rate / local_rate,
            f"{count:,} six-column rows; target >= 50,000 rows/s",
        )
    ]
    results += [
        Result(
            "redis",
            f"5,000 flags/s: flag -> row on disk {name}",
            redis_latency[name],
            "us",
            f"in-process {name}",
            local_latency[name],
            local_latency[name] / redis_latency[name],
            "target: p99 under 10 ms" if name == "p99" else "",
            extra=extra,
        )
        for name in ("p50", "p99")
    ]
    return results
