"""Reading a flagging directory back: iter_flagged streams, load_flagged lists."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import psutil
import pytest

import asyncflag
from asyncflag import FlagValueError, components, iter_flagged, load_flagged
from asyncflag.errors import UnsafePathError

METADATA = ["flag", "username", "timestamp"]


def write_csv(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")


def test_iter_flagged_is_exported_and_checks_its_arguments_at_the_call(tmp_path: Path) -> None:
    assert asyncflag.iter_flagged is iter_flagged
    with pytest.raises(FlagValueError, match="unsafe_paths must be 'raise' or 'skip'"):
        iter_flagged(tmp_path, unsafe_paths="ignore")  # type: ignore[arg-type]
    assert list(iter_flagged(tmp_path / "missing")) == []


def test_iter_flagged_yields_rows_before_reading_the_rest_of_the_file(tmp_path: Path) -> None:
    (tmp_path / "photo").mkdir()
    (tmp_path / "photo" / "good.png").write_bytes(b"png")
    write_csv(
        tmp_path / "dataset1.csv",
        [["photo", *METADATA], ["photo/good.png", "", "", ""], ["/etc/passwd", "", "", ""]],
    )
    write_csv(tmp_path / "dataset2.csv", [["note", *METADATA], ["later", "", "", ""]])
    rows = iter_flagged(tmp_path, [components.Image(label="photo")])
    first = next(rows)  # the second row, outside the folder, is not read yet
    assert first.values == (str((tmp_path / "photo" / "good.png").absolute()),)
    assert first.file == str(tmp_path / "dataset1.csv")
    with pytest.raises(UnsafePathError, match="row 2, column 'photo'"):
        next(rows)
    # file by file, in order: the same rows load_flagged lists
    streamed = list(iter_flagged(tmp_path))
    assert streamed == load_flagged(tmp_path)
    assert [row.values for row in streamed] == [("photo/good.png",), ("/etc/passwd",), ("later",)]


def test_iter_flagged_streams_a_large_file_in_bounded_memory(tmp_path: Path) -> None:
    """A 40 MB dataset file is read with RSS growing by far less than the file: rows
    are not held (load_flagged, which lists them, holds more than the file)."""
    text = "x" * 400
    path = tmp_path / "dataset1.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write("text,flag,username,timestamp\n")
        for i in range(100_000):
            file.write(f"{text}{i},,,2026-01-01T00:00:00+00:00\n")
    size = path.stat().st_size
    process = psutil.Process()
    start = process.memory_info().rss
    peak = start
    count = 0
    for count, row in enumerate(iter_flagged(tmp_path, ["text"]), start=1):  # noqa: B007
        if count % 1000 == 0:
            peak = max(peak, process.memory_info().rss)
    assert count == 100_000
    assert row.values == (f"{text}99999",)
    grown = peak - start
    assert grown < size / 4, f"RSS grew by {grown} bytes reading a {size}-byte file"
