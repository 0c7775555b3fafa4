"""The work a served request costs in each flagging mode: instructions counted by callgrind.

The web case measures requests/s, and on a shared VM its ratios move by several percent
between runs for reasons that are not the work done (``never`` against itself: 0.98-1.02;
``manual``, which stores nothing, 0.91-1.00). This case counts the work instead: the same
server as the web case runs under valgrind's callgrind (Debian package ``valgrind``), one
core, and the bench's Python client sends exactly ``N`` requests to one prefix at a time;
the server's counters are zeroed before each load (``callgrind_control -z``) and dumped
after it (``callgrind_control -d``), once the writer had a second to write the last rows.
The figure is the instructions the server's process executed per request, in user space:
the interpreter, uvicorn, Starlette, asyncflag, the C libraries. What the kernel does for
the process (system calls, the page cache) is not counted: ``strace -c`` put those of
``auto`` at full speed at four a batch of ~20 rows (a ``write``, two ``flock``, a ``stat``),
~1.3 µs a request. Under callgrind the server answers ~50 requests/s instead of ~5,000,
so the writer's batches need not have the sizes they have at full speed.

A ratio is ``never``'s instructions per request over a mode's: 0.967 means the mode
executes 3.4% more instructions per request than ``never``. Beside ``never``, ``manual``
and ``auto``, the server hosts ``auto-null`` (``--parts``): ``auto`` into a callback that
stores nothing, so that ``auto``'s cost splits into the pipeline's (``auto-null`` over
``manual``: the event, the queue, the writer, the receipts) and the CSV logger's (``auto``
over ``auto-null``: the rows' formatting, the locked write). Each mode is measured twice
(``--quick``: once, with 50 requests), in rotated order, and its figure is the least of its
loads: once a run, one load (the sixth in one order, the eighth in another) counts ~17,000
instructions a request more than the same mode's other loads, something the process does
once after so much work (a full pass of the cycle collector would be such a thing: not
verified), and the least load leaves it out. The ``auto`` dataset must then hold exactly
one row per request it answered.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ._common import Result, Settings, progress, scratch_dir
from .webserver import (
    CONNECTIONS,
    MODES,
    Load,
    check_datasets,
    cpu_split,
    run_pinned,
    server,
)

INSTALL_HINT = (
    "webcost: skipped: it counts a served request's instructions with valgrind, which is "
    "not installed (Debian: apt-get install valgrind)"
)

#: the prefixes this case counts (not ``never2``, the web case's noise check: here each
#: mode's loads in the rounds show the spread; ``auto-null`` is ``auto`` with a callback
#: that stores nothing, see ``_webserver.PARTS``)
COUNTED = ("never", "manual", "auto-null", "auto")


def callgrind_totals(dump: str) -> dict[str, int]:
    """The event totals of one callgrind dump (``events:`` names them, ``totals:`` or,
    in older dumps, ``summary:`` holds them)."""
    events = re.search(r"^events:\s*(.+)$", dump, re.M)
    totals = re.search(r"^(?:totals|summary):\s*(.+)$", dump, re.M)
    if events is None or totals is None:
        raise RuntimeError("a callgrind dump without events or totals")
    names = events.group(1).split()
    values = [int(value) for value in totals.group(1).split()]
    return dict(zip(names, values, strict=False))


def send(url: str, requests: int, cores: set[int] | None) -> None:
    """Exactly ``requests`` requests to ``url``, ``CONNECTIONS`` at a time; every answer a 200."""
    command = [
        sys.executable,
        "-m",
        "benchmarks._webclient",
        url,
        "--requests",
        str(requests),
        str(CONNECTIONS),
    ]
    report = json.loads(run_pinned(command, cores, timeout=1800))
    if report["requests"] != requests or report["errors"]:
        raise RuntimeError(
            f"{url}: {report['requests']} of {requests} answered, {report['errors']} errors"
        )


def counted(pid: int, out: Path, name: str) -> dict[str, int]:
    """Dump the server's counters under ``name``; their totals since the last zeroing."""
    before = set(out.parent.glob(out.name + ".*"))
    subprocess.run(["callgrind_control", "-d", name, str(pid)], check=True, capture_output=True)
    deadline = time.monotonic() + 60
    while not (new := set(out.parent.glob(out.name + ".*")) - before):
        if time.monotonic() > deadline:
            raise RuntimeError("callgrind wrote no dump")
        time.sleep(0.1)
    (path,) = new
    for _ in range(100):  # written by the server: wait for the totals at its end
        text = path.read_text()
        if re.search(r"^totals:", text, re.M):
            return callgrind_totals(text)
        time.sleep(0.1)
    return callgrind_totals(path.read_text())


def run_sync(settings: Settings) -> list[Result]:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print(INSTALL_HINT)
        return []
    requests = 50 if settings.quick else 1000
    rounds = 1 if settings.quick else 2
    server_cores, client_cores = cpu_split(1)
    per_mode: dict[str, list[int]] = {mode: [] for mode in COUNTED}
    with scratch_dir() as tmp, progress() as bar:
        task = bar.add_task("webcost: uvicorn under callgrind", total=rounds * len(COUNTED))
        out = tmp / "callgrind.out"
        wrapper = [
            "valgrind",
            "--tool=callgrind",
            "--quiet",
            f"--callgrind-out-file={out}",
        ]
        directory = tmp / "server"
        directory.mkdir()
        with server(
            1, directory, server_cores, wrapper=wrapper, options=["--parts"], startup_seconds=600
        ) as (url, processes):
            pid = processes[0].pid
            for mode in COUNTED:  # warm-up: connections, each dataset file opened
                send(f"{url}/{mode}", CONNECTIONS, client_cores)
            for round_ in range(rounds):
                shift = round_ % len(COUNTED)
                for mode in COUNTED[shift:] + COUNTED[:shift]:
                    subprocess.run(
                        ["callgrind_control", "-z", str(pid)], check=True, capture_output=True
                    )
                    send(f"{url}/{mode}", requests, client_cores)
                    time.sleep(1)  # the writer's last batch (auto), at callgrind's pace
                    per_mode[mode].append(counted(pid, out, f"{mode}-{round_}")["Ir"])
                    bar.advance(task)
        answered = {mode: requests * rounds + CONNECTIONS for mode in COUNTED}
        loads = {
            mode: [Load(answered[mode], 0, 1.0, 0.0)] if mode in answered else [] for mode in MODES
        }
        check_datasets(directory, 1, loads)
    never = min(per_mode["never"]) / requests
    results = []
    what = {
        "auto": "auto flagging",
        "auto-null": "auto flagging into a callback that stores nothing",
        "manual": "manual flagging",
    }
    for mode in ("auto", "auto-null", "manual"):
        each = min(per_mode[mode]) / requests
        results.append(
            Result(
                "web cost",
                f"POST /api/predict, {what[mode]}: instructions per request (callgrind)",
                each,
                "instructions",
                "never",
                never,
                never / each,
                f"the least of {rounds} loads of {requests:,} requests, {CONNECTIONS} at a time, "
                "uvicorn 1 worker under callgrind, user space only; "
                f"{mode} +{each - never:,.0f} instructions a request"
                + ("; target: < 5% (ratio > 0.95)" if mode == "auto" else ""),
                {
                    "instructions": per_mode[mode],
                    "never_instructions": per_mode["never"],
                    "requests": requests,
                    "rounds": rounds,
                },
            )
        )
    return results


async def run(settings: Settings) -> list[Result]:
    import anyio

    return await anyio.to_thread.run_sync(run_sync, settings)
