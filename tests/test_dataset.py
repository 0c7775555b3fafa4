"""Dataset files: layout, rotation, counting, torn tails, reading back."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from asyncflag import CSVLogger, Interface, SimpleCSVLogger, components, load_flagged
from asyncflag.dataset import read_header, scan_records

pytestmark = pytest.mark.anyio


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_csv_logger_layout_without_labels(tmp_path: Path) -> None:
    logger = CSVLogger()
    logger.setup([components.Textbox(), components.Number(label="n")], tmp_path)
    assert logger.flag(["a", 1]) == 1
    assert logger.flag(["b", 2], "bad", "ada") == 2
    logger.close()
    rows = read_csv(tmp_path / "dataset1.csv")
    assert rows[0] == ["component 0", "n", "flag", "username", "timestamp"]
    assert rows[1][:4] == ["a", "1", "", ""]
    assert rows[2][:4] == ["b", "2", "bad", "ada"]


async def test_rotation_follows_the_labels(tmp_path: Path) -> None:
    async def run(labels: list[str]) -> list[int]:
        iface = Interface(
            lambda *v: "x",
            [components.Textbox(label=label) for label in labels],
            components.Textbox(label="out"),
            flagging_dir=tmp_path,
        )
        async with iface:
            return [await iface.flag([*labels, "x"]) for _ in range(2)]

    assert await run(["a"]) == [1, 2]
    assert await run(["a"]) == [3, 4]  # same labels: same file, count continues
    assert await run(["b"]) == [1, 2]  # new labels: dataset2.csv
    assert await run(["a"]) == [1, 2]  # compared with the latest file only, as Gradio
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dataset1.csv",
        "dataset2.csv",
        "dataset3.csv",
    ]
    assert len(read_csv(tmp_path / "dataset1.csv")) == 5
    assert read_csv(tmp_path / "dataset2.csv")[0][0] == "b"
    assert [row.values[0] for row in load_flagged(tmp_path)] == ["a"] * 4 + ["b"] * 2 + ["a"] * 2


async def test_simple_csv_logger_has_no_header(tmp_path: Path) -> None:
    iface = Interface(
        lambda t: t, "text", "text", flagging_dir=tmp_path, flagging_callback=SimpleCSVLogger()
    )
    async with iface:
        assert await iface.flag(["=a", "b"], username="u") == 1
    async with iface:
        assert await iface.flag(["c", "d"]) == 2
    rows = read_csv(tmp_path / "log.csv")
    assert [row[:4] for row in rows] == [["'=a", "b", "", "u"], ["c", "d", "", ""]]
    flagged = load_flagged(tmp_path, iface.components)
    assert [(r.values, r.username) for r in flagged] == [(("=a", "b"), "u"), (("c", "d"), None)]
    assert flagged[0].labels == ("t", "output")


async def test_never_mode_with_a_read_only_parent(tmp_path: Path) -> None:
    parent = tmp_path / "readonly"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        iface = Interface(
            lambda t: t, "text", "text", flagging_mode="never", flagging_dir=parent / "flagged"
        )
        async with iface:
            assert (await iface.submit("x")).outputs == ("x",)
        assert list(parent.iterdir()) == []
    finally:
        parent.chmod(0o755)


def test_scan_records() -> None:
    data = b'a,b\r\n"multi\r\nline",x\r\n"quote "" inside",y\r\n'
    assert scan_records(data) == (3, len(data))
    assert scan_records(data + b'torn,"open') == (3, len(data))
    assert scan_records(data + b"no newline") == (3, len(data))
    assert scan_records(b"") == (0, 0)
    assert scan_records(b'"never closed\r\nstill open\r\n') == (0, 0)


def test_read_header(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b'"a,b","multi\r\nline",flag\r\nrow\r\n')
    assert read_header(path) == ["a,b", "multi\r\nline", "flag"]
    path.write_bytes(b'"unfinished')
    assert read_header(path) is None
    path.write_bytes(b"")
    assert read_header(path) is None


async def test_torn_tail_is_moved_aside(tmp_path: Path) -> None:
    iface = Interface(lambda t: t, "text", "text", flagging_dir=tmp_path)
    async with iface:
        await iface.flag(["a", "A"])
        await iface.flag(["b", "B"])
    dataset = tmp_path / "dataset1.csv"
    whole = dataset.read_bytes()
    with dataset.open("ab") as file:
        file.write(b'c,"half a ro')  # a crash in the middle of a row
    async with iface:
        assert await iface.flag(["d", "D"]) == 3
    assert (tmp_path / "dataset1.csv.torn").read_bytes() == b'c,"half a ro'
    assert dataset.read_bytes().startswith(whole)
    assert [row.values for row in load_flagged(tmp_path)] == [("a", "A"), ("b", "B"), ("d", "D")]


async def test_counts_include_rows_another_writer_appended(tmp_path: Path) -> None:
    first = CSVLogger()
    second = CSVLogger()
    for logger in (first, second):
        logger.setup([components.Textbox(label="t")], tmp_path)
    assert first.flag(["a"]) == 1
    assert second.flag(["b"]) == 2
    assert first.flag(["c"]) == 3  # caught up on the row the other logger wrote
    first.close()
    second.close()
    assert [row.values for row in load_flagged(tmp_path)] == [("a",), ("b",), ("c",)]


def test_load_flagged_rejects_too_many_components(tmp_path: Path) -> None:
    logger = CSVLogger()
    logger.setup([components.Textbox(label="t")], tmp_path)
    logger.flag(["a"])
    logger.close()
    with pytest.raises(ValueError, match="fewer than the 2 components"):
        load_flagged(tmp_path, ["text", "text"])
    assert load_flagged(tmp_path / "missing") == []


async def test_fsync_creates_durable_files(tmp_path: Path) -> None:
    iface = Interface(
        lambda f: "x",
        "file",
        "text",
        flagging_dir=tmp_path,
        flagging_callback=CSVLogger(durability="fsync"),
    )
    async with iface:
        assert await iface.flag([b"data", "x"]) == 1
    (saved,) = [p for p in (tmp_path / "f").iterdir()]
    assert saved.read_bytes() == b"data"
    assert os.stat(tmp_path / "dataset1.csv").st_size > 0
