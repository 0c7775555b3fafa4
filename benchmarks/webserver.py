"""A real server: requests/s and p99 of ``POST /api/predict`` under uvicorn, per flagging mode.

The load comes from a generator that is not Python when one is installed: ``wrk`` (Debian
package ``wrk``; ``.ci/run`` installs it), else ``hey``, else the bench's own Python
client (which saturates itself near 800 requests/s, below the server's capacity: the
result's note says so). The server and the load run in separate processes on
127.0.0.1; ``never``, ``manual`` and ``auto`` alternate, round after round, and the best
of each is kept, so each ratio to ``never`` is the cost of flagging to a served request
in the same run. With one uvicorn worker the server is pinned to one core and the load
generator to the others (when there are two or more); with several workers (uvicorn
processes on one port, see ``_webserver``) nothing is pinned and they share every core
with the load generator.

After each ``auto`` run the dataset must hold exactly one row per ``200`` the server(s)
sent (each worker counts its own, see ``_webserver``), and at least as many as the load
generator counted: several workers write to one file through its lock.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from ._common import Result, Settings, progress, scratch_dir
from ._webclient import BODY

ROOT = Path(__file__).resolve().parent.parent

#: open connections of ``wrk``/``hey`` (the issue's ``wrk -t1 -c32``)
CONNECTIONS = 32

MODES = ("never", "manual", "auto")

#: ``wrk``'s script: the POST of the Python client, and a JSON summary printed at the end
WRK_SCRIPT = """\
wrk.method = "POST"
wrk.body = %(body)s
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "status_errors": %%d, "socket_errors": %%d, '
    .. '"p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""

INSTALL_HINT = "install wrk (Debian: apt-get install wrk) to measure the server's real capacity"


@dataclass
class Load:
    """What one load run measured."""

    #: answers with a 2xx status
    ok: int
    #: answers with another status, and failed connections, reads, writes, timeouts
    errors: int
    seconds: float
    p99_ms: float
    #: CPU time (user + system) the server's processes spent per 2xx answer, in µs
    cpu_us: float = 0.0

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds


def load_generator() -> str:
    """``wrk`` if on PATH, else ``hey``, else ``python`` (the bench's own client)."""
    for name in ("wrk", "hey"):
        if shutil.which(name):
            return name
    return "python"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_split(workers: int) -> tuple[set[int] | None, set[int] | None]:
    """The cores of the server and of the load generator (``None``: not pinned)."""
    if workers != 1 or not hasattr(os, "sched_getaffinity"):
        return None, None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None
    return {cores[0]}, set(cores[1:])


def run_wrk(url: str, seconds: float, cores: set[int] | None) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(WRK_SCRIPT % {"body": lua_string(json.dumps(BODY))})
    try:
        command = [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            "--timeout",
            "30s",
            f"-d{max(1, round(seconds))}s",
            "-s",
            file.name,
            url + "/api/predict",
        ]
        out = run_pinned(command, cores, timeout=seconds + 60)
    finally:
        Path(file.name).unlink()
    return parse_wrk(out)


def lua_string(text: str) -> str:
    """``text`` as a Lua string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_wrk(out: str) -> Load:
    """The load of ``wrk``'s output: the JSON line its script's ``done`` printed."""
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            report = json.loads(line)
            errors = int(report["status_errors"]) + int(report["socket_errors"])
            return Load(
                ok=int(report["requests"]) - int(report["status_errors"]),
                errors=errors,
                seconds=report["duration_us"] / 1e6,
                p99_ms=report["p99_us"] / 1000,
            )
    raise RuntimeError(f"wrk printed no summary: {out[-500:]!r}")


def run_hey(url: str, seconds: float, cores: set[int] | None) -> Load:
    command = [
        "hey",
        "-z",
        f"{max(1, round(seconds))}s",
        "-c",
        str(CONNECTIONS),
        "-m",
        "POST",
        "-T",
        "application/json",
        "-d",
        json.dumps(BODY),
        url + "/api/predict",
    ]
    return parse_hey(run_pinned(command, cores, timeout=seconds + 60), seconds)


def parse_hey(out: str, seconds: float) -> Load:
    """The load of ``hey``'s text summary (its status code distribution and p99)."""
    ok = errors = 0
    for status, count in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out):
        if status.startswith("2"):
            ok += int(count)
        else:
            errors += int(count)
    _, _, failures = out.partition("Error distribution:")
    errors += sum(int(n) for n in re.findall(r"^\s*\[(\d+)\]", failures, re.M))
    total = re.search(r"Total:\s+([\d.]+) secs", out)
    p99 = re.search(r"99% in ([\d.]+) secs", out)
    if total is None or p99 is None:
        raise RuntimeError(f"hey printed no summary: {out[-500:]!r}")
    return Load(ok, errors, float(total.group(1)) or seconds, float(p99.group(1)) * 1000)


def run_python(url: str, seconds: float, cores: set[int] | None) -> Load:
    out = run_pinned(
        [sys.executable, "-m", "benchmarks._webclient", url, str(seconds)],
        cores,
        timeout=seconds + 60,
    )
    report = json.loads(out)
    return Load(
        int(report["requests"]),
        int(report["errors"]),
        report["requests"] / report["requests_per_second"] if report["requests"] else seconds,
        float(report["p99_ms"]),
    )


def run_pinned(command: list[str], cores: set[int] | None, *, timeout: float) -> str:
    if cores is not None:
        command = ["taskset", "-c", ",".join(map(str, sorted(cores))), *command]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=timeout
    ).stdout


LOADERS = {"wrk": run_wrk, "hey": run_hey, "python": run_python}


@contextmanager
def server(
    mode: str, workers: int, directory: Path, cores: set[int] | None
) -> Iterator[tuple[str, list[psutil.Process]]]:
    """A uvicorn server of the six-column interface (``workers`` processes on one port);
    its URL and processes. Stopped on exit (uvicorn then finishes the requests in flight and each
    interface drains its queue)."""
    port = free_port()
    command = [sys.executable, "-m", "benchmarks._webserver", mode, str(port), str(directory)]
    if workers > 1:
        command.append("--reuse-port")
    if cores is not None:
        command = ["taskset", "-c", ",".join(map(str, sorted(cores))), *command]
    processes = [subprocess.Popen(command, cwd=ROOT) for _ in range(workers)]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while len(list(directory.glob("ready-*.txt"))) < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError("the benchmark server did not start")
            time.sleep(0.1)
        httpx.get(url + "/api/config", timeout=10).raise_for_status()
        yield url, [psutil.Process(p.pid) for p in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


def cpu_seconds(process: psutil.Process) -> float:
    """User and system CPU time of a process so far (``taskset`` execs it: same pid)."""
    times = process.cpu_times()
    return float(times.user + times.system)


def dataset_rows(directory: Path) -> int:
    """The data rows of every dataset file in ``directory`` (header rows not counted)."""
    rows = 0
    for path in directory.glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as file:
            rows += max(0, sum(1 for _ in csv.reader(file)) - 1)
    return rows


def served(directory: Path, workers: int) -> int:
    """The ``200`` answers the workers counted (each wrote its count when it stopped)."""
    counts = list(directory.glob("served-*.txt"))
    if len(counts) != workers:
        raise RuntimeError(f"{len(counts)} of {workers} workers reported their answers")
    return sum(int(path.read_text()) for path in counts)


def measure(mode: str, workers: int, seconds: float, directory: Path, loader: str) -> Load:
    server_cores, load_cores = cpu_split(workers)
    directory.mkdir(parents=True)
    with server(mode, workers, directory, server_cores) as (url, processes):
        before = sum(cpu_seconds(p) for p in processes)
        load = LOADERS[loader](url, seconds, load_cores)
        spent = sum(cpu_seconds(p) for p in processes) - before
    load.cpu_us = spent / max(load.ok, 1) * 1e6
    if load.errors:
        raise RuntimeError(f"{load.errors} requests failed ({mode}, {workers} workers)")
    answered = served(directory, workers)
    rows = dataset_rows(directory)
    expected = answered if mode == "auto" else 0
    if rows != expected or answered < load.ok:
        raise RuntimeError(
            f"{mode}, {workers} workers: the dataset holds {rows} rows for {answered} "
            f"answers sent ({load.ok} counted by {loader}): expected {expected} rows"
        )
    return load


def run_sync(settings: Settings) -> list[Result]:
    loader = load_generator()
    seconds = 1.0 if settings.quick else 5.0
    rounds = 1 if settings.quick else 3
    worker_counts = (1,) if settings.quick else (1, 2)
    best: dict[tuple[str, int], Load] = {}
    with scratch_dir() as tmp, progress() as bar:
        task = bar.add_task(
            f"web: uvicorn, {loader}", total=rounds * len(worker_counts) * len(MODES)
        )
        for round_ in range(rounds):
            for workers in worker_counts:
                for mode in MODES:
                    load = measure(
                        mode, workers, seconds, tmp / f"{mode}{workers}-{round_}", loader
                    )
                    key = (mode, workers)
                    if key not in best or load.per_second > best[key].per_second:
                        best[key] = load
                    bar.advance(task)
    if loader == "wrk":
        how = f"wrk -t1 -c{CONNECTIONS}"
    elif loader == "hey":
        how = f"hey -c {CONNECTIONS}"
    else:
        how = f"the Python client (bound by itself near 800 req/s; {INSTALL_HINT})"
    results = []
    for workers in worker_counts:
        never = best["never", workers]
        split = (
            "server pinned to 1 core, load to the others"
            if cpu_split(workers)[0] is not None
            else "server and load share the cores"
        )
        for mode in ("auto", "manual"):
            load = best[mode, workers]
            results.append(
                Result(
                    "web",
                    f"POST /api/predict, uvicorn {workers} worker(s), {mode} flagging",
                    load.per_second,
                    "req/s",
                    "same server, never",
                    never.per_second,
                    load.per_second / never.per_second,
                    f"p99 {load.p99_ms:.1f} ms vs {never.p99_ms:.1f} ms; server CPU "
                    f"{load.cpu_us:.0f} µs/request vs {never.cpu_us:.0f}; {how}; {split}; "
                    "target: < 5% of req/s (ratio > 0.95)",
                    {
                        "load_generator": loader,
                        "workers": workers,
                        "p99_ms": load.p99_ms,
                        "never_p99_ms": never.p99_ms,
                        "cpu_us_per_request": load.cpu_us,
                        "never_cpu_us_per_request": never.cpu_us,
                        "requests": load.ok,
                        "seconds": load.seconds,
                    },
                )
            )
    return results


async def run(settings: Settings) -> list[Result]:
    import anyio

    return await anyio.to_thread.run_sync(run_sync, settings)
