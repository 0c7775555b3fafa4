"""The load for the web case, in its own process: ``python -m benchmarks._webclient URL SECONDS``.

A bounded loop: a fixed number of concurrent requests for a fixed time; prints requests/s.
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
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                response = await client.post("/api/predict", json=BODY)
                if response.status_code == 200:
                    done += 1
                else:
                    errors += 1

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)
        elapsed = time.perf_counter() - started
    return {"requests_per_second": done / elapsed, "requests": done, "errors": errors}


if __name__ == "__main__":
    print(json.dumps(anyio.run(load, sys.argv[1], float(sys.argv[2]))))
