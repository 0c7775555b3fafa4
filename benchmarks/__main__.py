"""Run the benchmark suite: ``python -m benchmarks [--quick] [--json FILE] [--cases a,b]``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path

import anyio
from rich.console import Console
from rich.table import Table

from . import latency, scaling, throughput
from ._common import Result, Settings, machine_facts

CASES: dict[str, Callable[[Settings], Awaitable[list[Result]]]] = {
    "throughput": throughput.run,
    "latency": latency.run,
    "scaling": scaling.run,
}


def summary(results: list[Result], facts: dict[str, str]) -> Table:
    table = Table(title="asyncflag benchmarks (ratios: bigger is better for asyncflag)")
    for column in ("case", "measure", "asyncflag", "baseline (same run)", "ratio", "note"):
        table.add_column(column)
    for r in results:
        base = f"{r.baseline}: {r.baseline_value:,.1f}" if r.baseline_value is not None else ""
        table.add_row(
            r.case,
            r.metric,
            f"{r.value:,.1f} {r.unit}",
            base,
            f"{r.ratio:.3f}" if r.ratio is not None else "",
            r.note,
        )
    table.caption = " | ".join(f"{k} {v}" for k, v in facts.items())
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--json", type=Path, help="write every result to this JSON file")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated cases")
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = [name for name in names if name not in CASES]
    if unknown:
        parser.error(f"unknown cases {unknown}; choose from {sorted(CASES)}")
    settings = Settings(quick=args.quick, backend=args.backend)
    console = Console(width=160)
    results: list[Result] = []
    started = time.perf_counter()
    for name in names:
        console.print(f"[bold]{name}[/bold] ...")
        results += anyio.run(CASES[name], settings, backend=args.backend)
    facts = machine_facts() | {"backend": args.backend, "quick": str(args.quick)}
    console.print(summary(results, facts))
    console.print(f"total {time.perf_counter() - started:.1f}s")
    if args.json:
        args.json.write_text(
            json.dumps({"machine": facts, "results": [asdict(r) for r in results]}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
