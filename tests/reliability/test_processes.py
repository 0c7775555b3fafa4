"""Several processes, one flagging directory: whole rows, exact counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from asyncflag import load_flagged
from asyncflag.sinks.records import scan_records

CHILD = Path(__file__).with_name("child.py")
FULL = bool(os.environ.get("ASYNCFLAG_RELIABILITY_FULL"))
BACKENDS = ("asyncio", "trio")


def test_four_processes_share_one_dataset(tmp_path: Path) -> None:
    per_process = 25_000 if FULL else 1_500
    flagging_dir = tmp_path / "flags"
    children = [
        subprocess.Popen(
            [
                sys.executable,
                str(CHILD),
                BACKENDS[k % 2],  # two on asyncio, two on trio
                "flagger",
                str(flagging_dir),
                f"p{k}",
                str(per_process),
                str(tmp_path / f"counts{k}.json"),
            ],
        )
        for k in range(4)
    ]
    for child in children:
        assert child.wait(timeout=600) == 0
    total = 4 * per_process
    counts = sorted(
        count for k in range(4) for count in json.loads((tmp_path / f"counts{k}.json").read_text())
    )
    assert counts == list(range(1, total + 1))  # each count returned exactly once
    data = (flagging_dir / "dataset1.csv").read_bytes()
    assert scan_records(data) == (total + 1, len(data))  # header + whole rows, nothing torn
    rows = load_flagged(flagging_dir)
    assert sorted((row.values[2], row.values[1]) for row in rows) == sorted(
        (f"p{k}", str(seq)) for k in range(4) for seq in range(per_process)
    )
    print(f"{len(children)} processes (asyncio and trio) x {per_process:,} rows: {total:,} whole "
          "rows, counts exact")  # fmt: skip


def test_a_label_change_racing_another_process_rotates(tmp_path: Path) -> None:
    """Two loggers choose dataset2.csv at once with other labels: the second moves on."""
    from asyncflag import CSVLogger, components

    old = CSVLogger()
    old.setup([components.Textbox(label="a")], tmp_path)
    old.flag(["first"])
    old.close()
    first, second = CSVLogger(), CSVLogger()
    first.setup([components.Textbox(label="b")], tmp_path)
    second.setup([components.Textbox(label="c")], tmp_path)
    # both look before either writes: both pick dataset2.csv; the second keeps its stale look
    stale = second._choose_path()
    assert first._choose_path() == stale == tmp_path / "dataset2.csv"
    second._choose_path = lambda: stale  # type: ignore[method-assign]
    assert first.flag(["from b"]) == 1
    assert second.flag(["from c"]) == 1
    first.close()
    second.close()
    assert (tmp_path / "dataset2.csv").read_text().splitlines()[0].startswith("b,")
    assert (tmp_path / "dataset3.csv").read_text().splitlines()[0].startswith("c,")
