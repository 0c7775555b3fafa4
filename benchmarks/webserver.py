"""A real server: requests/s to ``POST /api/predict`` under uvicorn, ``auto`` vs ``never``.

The server and the load run in separate processes on 127.0.0.1; the modes alternate and
the best of each is kept, so the ratio is the cost of flagging to a served request.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ._common import Result, Settings, progress, scratch_dir

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(mode: str, seconds: float, directory: Path) -> float:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._webserver", mode, str(port), str(directory)],
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/api/config", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the benchmark server did not start") from None
                time.sleep(0.1)
        client = subprocess.run(
            [sys.executable, "-m", "benchmarks._webclient", url, str(seconds)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        report = json.loads(client.stdout)
        if report["errors"]:
            raise RuntimeError(f"{report['errors']} requests failed")
        return float(report["requests_per_second"])
    finally:
        server.terminate()
        server.wait(timeout=60)


def run_sync(settings: Settings) -> list[Result]:
    seconds = 1.0 if settings.quick else 8.0
    rounds = 1 if settings.quick else 2
    best = {"never": 0.0, "auto": 0.0}
    with scratch_dir() as tmp, progress() as bar:
        task = bar.add_task("web: uvicorn auto vs never", total=rounds * 2)
        for round_ in range(rounds):
            for mode in ("never", "auto"):
                best[mode] = max(best[mode], measure(mode, seconds, tmp / f"{mode}{round_}"))
                bar.advance(task)
    return [
        Result(
            "web",
            "POST /api/predict, uvicorn, auto flagging",
            best["auto"],
            "req/s",
            "same server, never",
            best["never"],
            best["auto"] / best["never"],
            "target: auto costs < 5% of req/s (ratio > 0.95)",
        )
    ]


async def run(settings: Settings) -> list[Result]:
    import anyio

    return await anyio.to_thread.run_sync(run_sync, settings)
