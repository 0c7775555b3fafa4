"""The Python load for the web cases, in its own process: ``python -m benchmarks._webclient
URL SECONDS [CONCURRENCY]``, or ``python -m benchmarks._webclient URL --requests N
[CONCURRENCY]``.

The fallback of the web case when neither ``wrk`` nor ``hey`` is installed: a bounded loop
of a fixed number of concurrent requests for a fixed time; prints requests/s and the p99
latency. It saturates itself near 800 requests/s on a small machine, below a server's
capacity. With ``--requests`` it sends exactly ``N`` requests instead (the ``webcost`` case,
which counts a server's instructions per request, so the count must be exact).
"""

from __future__ import annotations

import json
import sys
import time

import anyio
import httpx

BODY = {"data": ["what is 1 plus 2?", "calculator context", "user7", 0.5, True]}


async def load(
    url: str, seconds: float, concurrency: int = 16, requests: int | None = None
) -> dict[str, float]:
    """Keep ``concurrency`` requests in flight for ``seconds`` (or until ``requests`` were
    sent, when given); the answers counted, requests/s and the p99 latency."""
    done = 0
    errors = 0
    left = requests
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as client:

        async def worker() -> None:
            nonlocal done, errors, left
            while True:
                if left is None:
                    if time.perf_counter() >= deadline:
                        return
                elif left <= 0:
                    return
                else:
                    left -= 1
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


def main(argv: list[str]) -> None:
    url, rest = argv[0], argv[1:]
    count: int | None = None
    seconds = float("inf")
    if rest[0] == "--requests":
        count, rest = int(rest[1]), rest[2:]
    else:
        seconds, rest = float(rest[0]), rest[1:]
    concurrency = int(rest[0]) if rest else 16
    print(json.dumps(anyio.run(load, url, seconds, concurrency, count)))


if __name__ == "__main__":
    main(sys.argv[1:])
