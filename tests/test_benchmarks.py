"""The benchmark suite must keep running: a smoke run of every case, checked for shape only.

Speed targets are never asserted here (this machine is slow and noisy); they are read
from ``python -m benchmarks`` and reported in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_run(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(out.read_text())
    assert report["machine"]["cores"]
    cases = {result["case"] for result in report["results"]}
    assert cases >= {
        "overhead", "throughput", "memory", "latency", "open loop", "scaling", "files", "web",
        "peers", "chat", "export", "restart", "sql",
    }  # fmt: skip
    if shutil.which("valgrind") and shutil.which("callgrind_control"):  # else skipped, told
        assert "web cost" in cases
    for result in report["results"]:
        assert result["value"] > 0
        assert result["baseline_value"] is not None and result["baseline_value"] > 0
        assert result["ratio"] is not None and result["ratio"] > 0


def test_unknown_case_is_refused() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--cases", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "unknown cases ['nope']" in completed.stderr


WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:8000/api/predict
  1 threads and 32 connections
Requests/sec:   5012.34
{"requests": 25061, "duration_us": 5000000, "status_errors": 3, "socket_errors": 2, \
"p50_us": 5400, "p99_us": 9964}
"""

HEY_OUTPUT = """\
Summary:
  Total:\t5.0100 secs
  Requests/sec:\t4990.0200

Latency distribution:
  50% in 0.0054 secs
  99% in 0.0123 secs

Status code distribution:
  [200]\t24990 responses
  [503]\t10 responses

Error distribution:
  [4]\tPost "http://127.0.0.1:8000/api/predict": dial tcp: connection refused
"""


def test_web_case_reads_wrk_and_hey() -> None:
    from benchmarks.webserver import parse_hey, parse_wrk

    wrk = parse_wrk(WRK_OUTPUT)
    assert (wrk.ok, wrk.errors, wrk.seconds, wrk.p99_ms) == (25058, 5, 5.0, 9.964)
    hey = parse_hey(HEY_OUTPUT, 5.0)
    assert (hey.ok, hey.errors, hey.seconds, hey.p99_ms) == (24990, 14, 5.01, 12.3)


CALLGRIND_DUMP = """\
# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 4242
cmd:  python -m benchmarks._webserver 40000 /tmp/x
part: 2

desc: Trigger: Client Request: auto-0

positions: line
events: Ir Dr
summary: 1037237958 255746064

fn=(1) main
0 12 3
totals: 1037237958 255746064
"""


def test_callgrind_totals_are_read_by_event_name() -> None:
    from benchmarks.webcost import callgrind_totals

    assert callgrind_totals(CALLGRIND_DUMP) == {"Ir": 1037237958, "Dr": 255746064}


def test_a_callgrind_dump_without_totals_is_refused() -> None:
    from benchmarks.webcost import callgrind_totals

    with pytest.raises(RuntimeError, match="without events or totals"):
        callgrind_totals("events: Ir\n")
