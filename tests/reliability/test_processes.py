"""Several processes, one flagging directory: whole rows, exact counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from asyncflag import load_flagged
from asyncflag.dataset import scan_records

CHILD = Path(__file__).with_name("child.py")
FULL = bool(os.environ.get("ASYNCFLAG_RELIABILITY_FULL"))


def test_four_processes_share_one_dataset(tmp_path: Path) -> None:
    per_process = 25_000 if FULL else 1_500
    flagging_dir = tmp_path / "flags"
    children = [
        subprocess.Popen(
            [
                sys.executable,
                str(CHILD),
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
    print(f"{len(children)} processes x {per_process:,} rows: {total:,} whole rows, counts exact")
