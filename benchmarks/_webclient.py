"""The Python load for the web case, in its own process: ``python -m benchmarks._webclient
URL SECONDS``.

The fallback when neither ``wrk`` nor ``hey`` is installed: a bounded loop of a fixed
number of concurrent requests for a fixed time; prints requests/s and the p99 latency.
It saturates itself near 800 requests/s on a small machine, below a server's capacity.
"""

from __future__ import annotations

import json
import sys
import time

import anyio
import httpx

BODY = {"data": ["what is 1 plus 2?", "calculator context", "user7", 0.5, True]}


async def load(url: str, seconds: float, concurrency: int = 16) -> dict[str, float]:
    done = 0
    errors = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                response = await client.post("/api/predict", json=BODY)
                latencies.append(time.perf_counter() - sent)
                if response.status_code == 200:
                    done += 1
                else:
                    errors += 1

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)
        elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    return {
        "requests_per_second": done / elapsed,
        "requests": done,
        "errors": errors,
        "p99_ms": p99 * 1000,
    }


if __name__ == "__main__":
    print(json.dumps(anyio.run(load, sys.argv[1], float(sys.argv[2]))))
