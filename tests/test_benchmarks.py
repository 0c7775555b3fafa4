"""The benchmark suite must keep running: a smoke run of every case, checked for shape only.

Speed targets are never asserted here (this machine is slow and noisy); they are read
from ``python -m benchmarks`` and reported in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
