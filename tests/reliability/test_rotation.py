"""A dataset file replaced while several processes append to it: no row lost or doubled."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from asyncflag import load_flagged
from asyncflag.sinks.records import scan_records

CHILD = Path(__file__).with_name("child.py")
BACKENDS = ("asyncio", "trio")


def rotate(dataset: Path, archive: Path) -> None:
    """What a log rotator that takes the file's lock does: copy the rows out, then put a
    file holding the header alone in its place."""
    fd = os.open(dataset, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = dataset.read_bytes()
        archive.write_bytes(data)
        fresh = dataset.with_name("fresh.tmp")
        fresh.write_bytes(data[: data.index(b"\r\n") + 2])
        os.replace(fresh, dataset)
    finally:
        os.close(fd)  # releases the lock on the replaced file


def test_a_dataset_file_replaced_under_two_writers(tmp_path: Path) -> None:
    per_process = 3_000
    flagging_dir = tmp_path / "flags"
    children = [
        subprocess.Popen(
            [
                sys.executable,
                str(CHILD),
                BACKENDS[k],
                "flagger",
                str(flagging_dir),
                f"p{k}",
                str(per_process),
                str(tmp_path / f"counts{k}.json"),
            ],
        )
        for k in range(2)
    ]
    dataset = flagging_dir / "dataset1.csv"
    archives: list[Path] = []
    try:
        while any(child.poll() is None for child in children):
            if dataset.exists() and len(archives) < 50:
                archives.append(tmp_path / f"archive{len(archives)}.csv")
                rotate(dataset, archives[-1])
            time.sleep(0.02)
    finally:
        for child in children:
            assert child.wait(timeout=600) == 0
    assert len(archives) >= 2, "the writers finished before the file was replaced twice"
    rows: list[tuple[str, str]] = []
    for path in [*archives, dataset]:
        data = path.read_bytes()
        assert scan_records(data)[1] == len(data)  # whole rows only
        copy = tmp_path / "read" / "dataset1.csv"
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(data)
        rows += [(row.values[2], row.values[1]) for row in load_flagged(copy.parent)]
    # every acknowledged row is in exactly one of the files
    assert sorted(rows) == sorted(
        (f"p{k}", str(seq)) for k in range(2) for seq in range(per_process)
    )
    counts = [json.loads((tmp_path / f"counts{k}.json").read_text()) for k in range(2)]
    assert all(len(c) == per_process and min(c) >= 1 for c in counts)
    assert not list(flagging_dir.glob("*.torn"))
    print(f"2 processes x {per_process:,} rows, the file replaced {len(archives)} times: "
          "every row in exactly one file")  # fmt: skip
