"""A real server: requests/s and p99 of ``POST /api/predict`` under uvicorn, per flagging mode.

The load comes from a generator that is not Python when one is installed: ``wrk`` (Debian
package ``wrk``; ``.ci/run`` installs it), else ``hey``, else the bench's own Python
client (which saturates itself near 800 requests/s, below the server's capacity: the
result's note says so). The server and the load run in separate processes on
127.0.0.1. With one uvicorn worker the server is pinned to one core and the load
generator to the others (when there are two or more); with several workers (uvicorn
processes on one port) nothing is pinned and they share every core with the load
generator.

One server hosts the interface once per mode (``/never``, ``/manual``, ``/auto``, and
``/never2``, a second ``never``: see ``_webserver``), and the load goes to one of them at
a time, in turn, round after round, the order rotated each round. Each ratio is the
median over the rounds of a mode's requests/s over ``never``'s in the same round: a
paired measure, in one process. On a shared 2-core VM two back-to-back runs of the same
thing differ by up to ~20%, and separate server processes by several percent more, so
one run per mode (or the best of a few) cannot resolve a cost of a few percent;
``never2`` against ``never`` shows in each run how far a ratio of the same thing moves.

After the rounds the ``auto`` dataset must hold exactly one row per ``200`` its prefix
sent (each worker counts its own), and at least as many as the load generator counted;
the other modes' folders must hold no row. Several workers write to one file through its
lock.
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import psutil

from ._common import Result, Settings, progress, scratch_dir
from ._webclient import BODY

ROOT = Path(__file__).resolve().parent.parent

#: open connections of ``wrk``/``hey`` (the issue's ``wrk -t1 -c32``)
CONNECTIONS = 32

#: the prefixes the load goes to, in the order of the first round (see ``_webserver``)
MODES = ("never", "manual", "auto", "never2")

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
    workers: int,
    directory: Path,
    cores: set[int] | None,
    *,
    wrapper: Sequence[str] = (),
    options: Sequence[str] = (),
    startup_seconds: float = 60,
) -> Iterator[tuple[str, list[psutil.Process]]]:
    """A uvicorn server of the six-column interface in every mode (``workers`` processes on
    one port); its URL and processes. Stopped on exit (uvicorn then finishes the requests
    in flight and each interface drains its queue).

    :param wrapper: a command the server runs under (``valgrind ...``: see ``webcost``)
    :param options: more of ``_webserver``'s options (``--parts``)
    :param startup_seconds: how long the server may take to serve
    """
    port = free_port()
    command = [
        *wrapper,
        sys.executable,
        "-m",
        "benchmarks._webserver",
        str(port),
        str(directory),
        *options,
    ]
    if workers > 1:
        command.append("--reuse-port")
    if cores is not None:
        command = ["taskset", "-c", ",".join(map(str, sorted(cores))), *command]
    processes = [subprocess.Popen(command, cwd=ROOT) for _ in range(workers)]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_seconds
        while len(list(directory.glob("ready-*.txt"))) < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError("the benchmark server did not start")
            time.sleep(0.1)
        for mode in MODES:
            httpx.get(f"{url}/{mode}/api/config", timeout=60).raise_for_status()
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


def served(directory: Path, workers: int) -> dict[str, int]:
    """The ``200`` answers of each prefix, summed over the workers (each wrote its counts
    when it stopped)."""
    counts = list(directory.glob("served-*.json"))
    if len(counts) != workers:
        raise RuntimeError(f"{len(counts)} of {workers} workers reported their answers")
    total = dict.fromkeys(MODES, 0)
    for path in counts:
        for mode, count in json.loads(path.read_text()).items():
            total[mode] = total.get(mode, 0) + int(count)
    return total


def check_datasets(directory: Path, workers: int, loads: dict[str, list[Load]]) -> None:
    """One row per answered ``auto`` request, none for the other modes."""
    answered = served(directory, workers)
    for mode in MODES:
        rows = dataset_rows(directory / mode)
        counted = sum(load.ok for load in loads[mode])
        expected = answered[mode] if mode == "auto" else 0
        if rows != expected or answered[mode] < counted:
            raise RuntimeError(
                f"{mode}, {workers} workers: the dataset holds {rows} rows for "
                f"{answered[mode]} answers sent ({counted} counted by the load "
                f"generator): expected {expected} rows"
            )


def measure(
    url: str, mode: str, seconds: float, loader: str, processes: list[psutil.Process]
) -> Load:
    """One load run against the ``mode`` prefix, with the server's CPU time per answer."""
    load_cores = cpu_split(len(processes))[1]
    before = sum(cpu_seconds(p) for p in processes)
    load = LOADERS[loader](f"{url}/{mode}", seconds, load_cores)
    spent = sum(cpu_seconds(p) for p in processes) - before
    load.cpu_us = spent / max(load.ok, 1) * 1e6
    if load.errors:
        raise RuntimeError(f"{load.errors} requests failed ({mode}, {len(processes)} workers)")
    return load


def rounds_of(
    workers: int, rounds: int, seconds: float, directory: Path, loader: str, advance: Any
) -> dict[str, list[Load]]:
    """Each mode's load runs against one server of ``workers`` processes, a round at a time
    (the order rotated each round, after one unrecorded warm-up run per mode)."""
    loads: dict[str, list[Load]] = {mode: [] for mode in MODES}
    directory.mkdir(parents=True)
    with server(workers, directory, cpu_split(workers)[0]) as (url, processes):
        for mode in MODES:  # warm-up: first connections, imports, each dataset file opened
            measure(url, mode, 1.0, loader, processes)
        for round_ in range(rounds):
            shift = round_ % len(MODES)
            for mode in MODES[shift:] + MODES[:shift]:
                loads[mode].append(measure(url, mode, seconds, loader, processes))
                advance()
    # the warm-up's answers are in the server's counts and the dataset, not in ``loads``
    check_datasets(directory, workers, loads)
    return loads


def run_sync(settings: Settings) -> list[Result]:
    loader = load_generator()
    seconds = 1.0 if settings.quick else 2.0
    rounds = 1 if settings.quick else 10
    worker_counts = (1,) if settings.quick else (1, 2)
    if loader == "wrk":
        how = f"wrk -t1 -c{CONNECTIONS}"
    elif loader == "hey":
        how = f"hey -c {CONNECTIONS}"
    else:
        how = f"the Python client (bound by itself near 800 req/s; {INSTALL_HINT})"
    results = []
    with scratch_dir() as tmp, progress() as bar:
        task = bar.add_task(
            f"web: uvicorn, {loader}", total=rounds * len(worker_counts) * len(MODES)
        )
        for workers in worker_counts:
            loads = rounds_of(
                workers,
                rounds,
                seconds,
                tmp / f"workers{workers}",
                loader,
                lambda: bar.advance(task),
            )
            never = loads["never"]
            split = (
                "server pinned to 1 core, load to the others"
                if cpu_split(workers)[0] is not None
                else "server and load share the cores"
            )
            for mode in ("auto", "manual", "never2"):
                ratios = [
                    load.per_second / base.per_second
                    for load, base in zip(loads[mode], never, strict=True)
                ]
                what = (
                    "never again (the same as the baseline: how far a ratio moves)"
                    if mode == "never2"
                    else f"{mode} flagging"
                )
                results.append(
                    Result(
                        "web",
                        f"POST /api/predict, uvicorn {workers} worker(s), {what}",
                        median([load.per_second for load in loads[mode]]),
                        "req/s",
                        "same server, never",
                        median([load.per_second for load in never]),
                        median(ratios),
                        f"median of {rounds} paired ratios (range {min(ratios):.2f}-"
                        f"{max(ratios):.2f}), {seconds:.0f} s each; p99 "
                        f"{median([x.p99_ms for x in loads[mode]]):.1f} ms vs "
                        f"{median([x.p99_ms for x in never]):.1f} ms; server CPU "
                        f"{median([x.cpu_us for x in loads[mode]]):.0f} µs/request vs "
                        f"{median([x.cpu_us for x in never]):.0f}; {how}; {split}"
                        + ("" if mode == "never2" else "; target: < 5% of req/s (ratio > 0.95)"),
                        {
                            "load_generator": loader,
                            "workers": workers,
                            "rounds": rounds,
                            "seconds_per_run": seconds,
                            "ratios": ratios,
                            "req_per_s": [x.per_second for x in loads[mode]],
                            "never_req_per_s": [x.per_second for x in never],
                            "p99_ms": [x.p99_ms for x in loads[mode]],
                            "never_p99_ms": [x.p99_ms for x in never],
                            "cpu_us_per_request": [x.cpu_us for x in loads[mode]],
                            "never_cpu_us_per_request": [x.cpu_us for x in never],
                        },
                    )
                )
    return results


async def run(settings: Settings) -> list[Result]:
    import anyio

    return await anyio.to_thread.run_sync(run_sync, settings)
