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

from . import (
    chat,
    export,
    files,
    latency,
    openloop,
    overhead,
    peers,
    restart,
    scaling,
    soak,
    sql,
    streams,
    throughput,
    webcost,
    webserver,
)
from ._common import Result, Settings, machine_facts

CASES: dict[str, Callable[[Settings], Awaitable[list[Result]]]] = {
    "overhead": overhead.run,
    "throughput_nowait": throughput.flag_nowait_case,
    "throughput_many": throughput.flag_many_case,
    "throughput_auto": throughput.auto_submit_case,
    "latency": latency.run,
    "openloop": openloop.run,
    "scaling": scaling.run,
    "files": files.run,
    "web": webserver.run,
    "webcost": webcost.run,
    "peers": peers.run,
    "soak": soak.run,
    "redis": streams.run,
    "chat": chat.run,
    "export": export.run,
    "restart": restart.run,
    "sql": sql.run,
}

#: names that select several cases, so ``--cases throughput`` keeps working
GROUPS: dict[str, tuple[str, ...]] = {
    "throughput": ("throughput_nowait", "throughput_many", "throughput_auto")
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


def plot(path: Path) -> None:
    """Percentile curves of the open-loop latency histograms (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    percentiles = [50, 75, 90, 95, 99, 99.5, 99.9, 99.99]
    for label, hist in openloop.LAST_HISTOGRAMS.items():
        values = [hist.get_value_at_percentile(p) / 1000 for p in percentiles]  # type: ignore[attr-defined]
        axes.plot(range(len(percentiles)), values, marker="o", label=label)
    axes.set_xticks(range(len(percentiles)), [f"p{p}" for p in percentiles])
    axes.set_yscale("log")
    axes.set_ylabel("flag -> row on disk (ms)")
    axes.set_title("asyncflag open-loop flag latency")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--json", type=Path, help="write every result to this JSON file")
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help="comma-separated cases (throughput selects both throughput cases)",
    )
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument("--plot", type=Path, help="draw the open-loop latency distributions (PNG)")
    parser.add_argument(
        "--soak-seconds", type=float, default=60.0, help="how long the soak case runs"
    )
    args = parser.parse_args(argv)
    asked = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = [name for name in asked if name not in CASES and name not in GROUPS]
    if unknown:
        parser.error(f"unknown cases {unknown}; choose from {sorted([*CASES, *GROUPS])}")
    names = list(dict.fromkeys(part for name in asked for part in GROUPS.get(name, (name,))))
    settings = Settings(quick=args.quick, backend=args.backend, soak_seconds=args.soak_seconds)
    console = Console(width=160)
    results: list[Result] = []
    started = time.perf_counter()
    for name in names:
        console.print(f"[bold]{name}[/bold] ...")
        results += anyio.run(CASES[name], settings, backend=args.backend)
    facts = machine_facts() | {"backend": args.backend, "quick": str(args.quick)}
    console.print(summary(results, facts))
    console.print(f"total {time.perf_counter() - started:.1f}s")
    if args.plot:
        plot(args.plot)
        console.print(f"latency plot written to {args.plot}")
    if args.json:
        args.json.write_text(
            json.dumps({"machine": facts, "results": [asdict(r) for r in results]}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
