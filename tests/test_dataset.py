"""Dataset files: layout, rotation, counting, torn tails, nothing on disk until needed."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from asyncflag import (
    CSVLogger,
    FlaggingDisabledError,
    FlagValueError,
    Interface,
    SimpleCSVLogger,
    components,
    load_flagged,
)
from asyncflag.errors import UnsafePathError
from asyncflag.sinks import Durability
from asyncflag.sinks.records import read_header, scan_records

pytestmark = pytest.mark.anyio

METADATA = ["flag", "username", "timestamp"]


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (2, 2), "blue").save(buffer, format="PNG")
    return buffer.getvalue()


PNG_BYTES = png_bytes()


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def names(directory: Path) -> list[str]:
    """The entries of a directory, without asyncflag's own state (``.asyncflag/``)."""
    return sorted(p.name for p in directory.iterdir() if p.name != ".asyncflag")


# -- layout ---------------------------------------------------------------------------


async def test_header_is_labels_then_flag_username_timestamp(tmp_path: Path) -> None:
    def answer(question: str, context: str) -> tuple[str, float]:
        return question.upper(), 0.5

    iface = Interface(
        answer,
        ["text", components.Textbox(label="Context =")],
        [components.Textbox(), components.Number()],
        flagging_options=["wrong"],
        flagging_dir=tmp_path,
    )
    async with iface:
        pred = await iface.submit("why?", "ctx")
        before = datetime.now(UTC)
        assert await iface.flag(pred, option="wrong", username="ada") == 1
        after = datetime.now(UTC)
    assert names(tmp_path) == ["dataset1.csv"]
    rows = read_csv(tmp_path / "dataset1.csv")
    assert rows[0] == ["question", "Context =", "output 0", "output 1", *METADATA]
    assert rows[1][:6] == ["why?", "ctx", "WHY?", "0.5", "wrong", "ada"]
    stamp = datetime.fromisoformat(rows[1][6])
    assert stamp.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= stamp <= after
    (flagged,) = load_flagged(tmp_path, iface.components)
    assert flagged.labels == ("question", "Context =", "output 0", "output 1")
    assert flagged.values == ("why?", "ctx", "WHY?", 0.5)
    assert (flagged.flag, flagged.username, flagged.timestamp) == ("wrong", "ada", stamp)
    assert flagged.file == str(tmp_path / "dataset1.csv")


def test_csv_logger_unlabelled_components(tmp_path: Path) -> None:
    flagging_dir = tmp_path / "nested" / "flags"
    logger = CSVLogger()
    logger.setup(
        [components.Textbox(label="a"), components.Number(), "checkbox", components.JSON()],
        flagging_dir,
    )
    assert not flagging_dir.exists()  # setup creates nothing
    assert logger.flag(["x", 1, True, {"k": [1]}]) == 1
    assert logger.flag(["y", -2.5, None, None], "bad", "bob") == 2
    logger.close()
    rows = read_csv(flagging_dir / "dataset1.csv")
    assert rows[0] == ["a", "component 1", "component 2", "component 3", *METADATA]
    assert [row[:6] for row in rows[1:]] == [
        ["x", "1", "true", '{"k":[1]}', "", ""],
        ["y", "-2.5", "", "null", "bad", "bob"],
    ]
    flagged = load_flagged(flagging_dir, logger.components)
    assert [row.values for row in flagged] == [("x", 1, True, {"k": [1]}), ("y", -2.5, None, None)]
    assert flagged[0].labels == ("a", "component 1", "component 2", "component 3")


async def test_interface_inputs_without_parameter_names(tmp_path: Path) -> None:
    iface = Interface(lambda *args: "".join(args), ["text", "text"], "text", flagging_dir=tmp_path)
    assert [c.label for c in iface.components] == [None, None, "output"]
    async with iface:
        await iface.flag(await iface.submit("a", "b"))
    assert read_csv(tmp_path / "dataset1.csv")[0] == [
        "component 0",
        "component 1",
        "output",
        *METADATA,
    ]


def test_labels_that_look_like_formulas_are_escaped_in_the_header(tmp_path: Path) -> None:
    logger = CSVLogger()
    logger.setup([components.Textbox(label="=SUM(A1)"), components.Textbox(label="-x")], tmp_path)
    logger.flag(["a", "b"])
    logger.close()
    assert read_csv(tmp_path / "dataset1.csv")[0][:2] == ["'=SUM(A1)", "'-x"]
    assert load_flagged(tmp_path)[0].labels == ("=SUM(A1)", "-x")
    # the same labels again append to the same file
    logger.setup([components.Textbox(label="=SUM(A1)"), components.Textbox(label="-x")], tmp_path)
    assert logger.flag(["c", "d"]) == 2
    logger.close()
    assert names(tmp_path) == ["dataset1.csv"]


def test_csv_logger_refuses_bad_rows_without_writing(tmp_path: Path) -> None:
    logger = CSVLogger()
    logger.setup([components.Textbox(label="t"), components.Number(label="n")], tmp_path)
    with pytest.raises(FlagValueError, match="expected 2 values, got 1"):
        logger.flag(["only one"])
    with pytest.raises(FlagValueError, match="Number 'n' stores an int or a float"):
        logger.flag(["a", "not a number"])
    assert names(tmp_path) == []
    assert logger.flag(["a", 1]) == 1
    logger.close()
    assert len(read_csv(tmp_path / "dataset1.csv")) == 2


# -- rotation and counts --------------------------------------------------------------


async def test_rotation_follows_the_labels(tmp_path: Path) -> None:
    async def run(labels: list[str], flags: int = 2) -> list[int]:
        iface = Interface(
            lambda *values: "x",
            [components.Textbox(label=label) for label in labels],
            components.Textbox(label="out"),
            flagging_dir=tmp_path,
        )
        async with iface:
            return [await iface.flag([*labels, "x"]) for _ in range(flags)]

    assert await run(["a"]) == [1, 2]
    assert names(tmp_path) == ["dataset1.csv"]
    assert await run(["a"], 3) == [3, 4, 5]  # same labels: same file, the count continues
    assert names(tmp_path) == ["dataset1.csv"]
    assert await run(["b"]) == [1, 2]  # new labels: dataset2.csv
    assert names(tmp_path) == ["dataset1.csv", "dataset2.csv"]
    assert await run(["b", "c"], 1) == [1]  # another label set: dataset3.csv
    assert await run(["b", "c"], 1) == [2]
    assert await run(["a"]) == [1, 2]  # compared with the latest file only, as Gradio does
    assert names(tmp_path) == [f"dataset{n}.csv" for n in (1, 2, 3, 4)]

    headers = [read_csv(tmp_path / f"dataset{n}.csv")[0] for n in (1, 2, 3, 4)]
    assert headers == [
        ["a", "out", *METADATA],
        ["b", "out", *METADATA],
        ["b", "c", "out", *METADATA],
        ["a", "out", *METADATA],
    ]
    assert [len(read_csv(tmp_path / f"dataset{n}.csv")) - 1 for n in (1, 2, 3, 4)] == [5, 2, 2, 2]
    flagged = load_flagged(tmp_path)
    assert [row.values[0] for row in flagged] == ["a"] * 5 + ["b"] * 2 + ["b"] * 2 + ["a"] * 2
    assert [Path(row.file).name for row in flagged][4:7] == ["dataset1.csv", *["dataset2.csv"] * 2]


async def test_receipts_count_like_flag(tmp_path: Path) -> None:
    iface = Interface(lambda t: t, "text", "text", flagging_dir=tmp_path)
    async with iface:
        assert await iface.flag(["a", "a"]) == 1
    async with iface:
        receipts = [iface.flag_nowait([str(i), str(i)]) for i in range(5)]
        assert [await r.wait() for r in receipts] == [2, 3, 4, 5, 6]
    assert len(read_csv(tmp_path / "dataset1.csv")) == 7


def test_csv_logger_continues_the_count_of_an_existing_file(tmp_path: Path) -> None:
    for run in range(3):
        logger = CSVLogger()
        logger.setup([components.Textbox()], tmp_path)
        assert [logger.flag([f"{run}-{i}"]) for i in range(2)] == [2 * run + 1, 2 * run + 2]
        logger.close()
    assert names(tmp_path) == ["dataset1.csv"]
    assert [row.values[0] for row in load_flagged(tmp_path)] == [
        f"{run}-{i}" for run in range(3) for i in range(2)
    ]


async def test_simple_csv_logger_has_no_header(tmp_path: Path) -> None:
    def fn(text: str, number: float, check: bool) -> dict[str, str]:
        return {"echo": text}

    iface = Interface(
        fn,
        ["text", "number", "checkbox"],
        "json",
        flagging_dir=tmp_path,
        flagging_callback=SimpleCSVLogger(),
    )
    async with iface:
        assert await iface.flag(await iface.submit("=a", -3, True), username="u") == 1
        assert await iface.flag(["b", 2.5, False, None], option="opt") == 2
    async with iface:  # a second run continues the count
        assert await iface.flag(["c", None, None, [1, "-x"]]) == 3
    assert names(tmp_path) == ["log.csv"]
    rows = read_csv(tmp_path / "log.csv")
    assert len(rows) == 3  # no header
    assert [row[:6] for row in rows] == [
        ["'=a", "-3", "true", '{"echo":"=a"}', "", "u"],
        ["b", "2.5", "false", "null", "opt", ""],
        ["c", "", "", '[1,"-x"]', "", ""],
    ]
    flagged = load_flagged(tmp_path, iface.components)
    assert [row.values for row in flagged] == [
        ("=a", -3, True, {"echo": "=a"}),
        ("b", 2.5, False, None),
        ("c", None, None, [1, "-x"]),
    ]
    assert [(row.flag, row.username) for row in flagged] == [
        (None, "u"),
        ("opt", None),
        (None, None),
    ]
    assert flagged[0].labels == ("text", "number", "check", "output")
    assert all(row.timestamp is not None and row.file.endswith("log.csv") for row in flagged)


# -- nothing on disk until needed -----------------------------------------------------


async def test_never_mode_with_a_read_only_parent_creates_nothing(tmp_path: Path) -> None:
    parent = tmp_path / "readonly"
    parent.mkdir()
    flagging_dir = parent / "flagged"
    parent.chmod(0o555)
    try:
        iface = Interface(
            lambda text, upload: text,
            ["text", "file"],
            "text",
            flagging_mode="never",
            flagging_dir=flagging_dir,
        )
        async with iface:
            for i in range(3):
                assert (await iface.submit(f"x{i}", b"payload")).outputs == (f"x{i}",)
            with pytest.raises(FlaggingDisabledError):
                await iface.flag(["x", b"payload", "x"])
            assert iface.stats.published == 0
        # as root chmod does not stop writes, so check what is there too
        assert not flagging_dir.exists()
        assert list(parent.iterdir()) == []
    finally:
        parent.chmod(0o755)


async def test_never_mode_from_the_environment_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASYNCFLAG_FLAGGING_MODE", raising=False)
    monkeypatch.setenv("GRADIO_FLAGGING_MODE", "never")
    iface = Interface(lambda t: t, "text", "text", flagging_dir=tmp_path / "flagged")
    assert iface.flagging_mode == "never"
    async with iface:
        await iface.submit("x")
    assert list(tmp_path.iterdir()) == []


async def test_manual_mode_creates_nothing_until_the_first_flag(tmp_path: Path) -> None:
    flagging_dir = tmp_path / "deep" / "flags"
    iface = Interface(
        lambda text, upload: text,
        ["text", components.File(label="upload")],
        "text",
        flagging_mode="manual",
        flagging_dir=flagging_dir,
    )
    async with iface:
        predictions = [await iface.submit(f"x{i}", b"payload") for i in range(3)]
        assert not (tmp_path / "deep").exists()
    assert list(tmp_path.iterdir()) == []  # nor when it stops
    async with iface:
        prediction = await iface.submit("y", b"payload")
        assert not (tmp_path / "deep").exists()
        assert await iface.flag(prediction) == 1
        assert names(flagging_dir) == ["dataset1.csv", "upload"]
        assert len(read_csv(flagging_dir / "dataset1.csv")) == 2
    assert predictions[0].outputs == ("x0",)
    assert [row.values[0] for row in load_flagged(flagging_dir, iface.components)] == ["y"]


async def test_auto_mode_logs_every_prediction(tmp_path: Path) -> None:
    iface = Interface(
        lambda t: t + "!", "text", "text", flagging_mode="auto", flagging_dir=tmp_path
    )
    async with iface:
        for i in range(3):
            await iface.submit(str(i))
    assert [row.values for row in load_flagged(tmp_path)] == [("0", "0!"), ("1", "1!"), ("2", "2!")]


# -- scanning -------------------------------------------------------------------------


def test_scan_records() -> None:
    data = b'a,b\r\n"multi\r\nline",x\r\n"quote "" inside",y\r\n"",\r\n'
    assert scan_records(data) == (4, len(data))
    assert scan_records(data + b'torn,"open') == (4, len(data))
    assert scan_records(data + b'torn,"open\r\nstill open\r\n') == (4, len(data))
    assert scan_records(data + b"no newline") == (4, len(data))
    assert scan_records(data + b"lost its lf\r") == (4, len(data))
    assert scan_records(b"") == (0, 0)
    assert scan_records(b"\r\n") == (1, 2)
    assert scan_records(b'"never closed\r\nstill open\r\n') == (0, 0)
    assert scan_records(b"unix\nnewlines\n") == (2, 14)
    assert scan_records("ünï,cødé\r\n".encode()) == (1, len("ünï,cødé\r\n".encode()))


def test_scan_records_stops_at_the_first_torn_record() -> None:
    head = b"h1,h2\r\n"
    torn = b'x,"unfinished\r\n'
    # a quote left open swallows what follows: nothing past it counts as a whole record
    assert scan_records(head + torn + b"y,z\r\n") == (1, len(head))


csv_fields = st.text(
    alphabet=st.sampled_from(list("a,\"\r\n '=-")) | st.characters(codec="utf-8"), max_size=12
)
csv_rows = st.lists(st.lists(csv_fields, min_size=1, max_size=4), max_size=8)


@settings(max_examples=100, deadline=None)
@given(rows=csv_rows, terminator=st.sampled_from(["\r\n", "\n"]))
def test_scan_records_finds_every_record_end(rows: list[list[str]], terminator: str) -> None:
    ends = []
    data = b""
    for row in rows:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator=terminator).writerow(row)
        data += buffer.getvalue().encode("utf-8")
        ends.append(len(data))
    assert scan_records(data) == (len(rows), len(data))
    for cut in range(len(data) + 1):
        whole = [end for end in ends if end <= cut]
        assert scan_records(data[:cut]) == (len(whole), whole[-1] if whole else 0), cut
    if terminator == "\r\n":  # what asyncflag writes; it reads back as written
        parsed = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        assert parsed == rows


def test_read_header(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b'"a,b","multi\r\nline","q""uote",flag\r\nrow\r\n')
    assert read_header(path) == ["a,b", "multi\r\nline", 'q"uote', "flag"]
    path.write_bytes(b"only,header\r\n")
    assert read_header(path) == ["only", "header"]
    path.write_bytes(b"unix,header\nrow\n")
    assert read_header(path) == ["unix", "header"]
    path.write_bytes(b'"unfinished')
    assert read_header(path) is None
    path.write_bytes(b'"unfinished\r\nstill inside the quotes\r\n')
    assert read_header(path) is None
    path.write_bytes(b"no,newline,yet")
    assert read_header(path) is None
    path.write_bytes(b"")
    assert read_header(path) is None


def test_read_header_longer_than_one_read(tmp_path: Path) -> None:
    labels = ["x" * 50_000, "multi\nline" * 3_000, "z" * 40_000]
    path = tmp_path / "d.csv"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([labels, ["1", "2", "3"]])
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    assert read_header(path) == labels


# -- torn tails -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "tail",
    [b'c,"half a ro', b"c,half a row", b'c,"half\r\na row', b"c,C,,,2024-01-01T00:00:00\r"],
)
async def test_a_torn_tail_is_moved_aside(tmp_path: Path, tail: bytes) -> None:
    iface = Interface(lambda t: t, "text", "text", flagging_dir=tmp_path)
    async with iface:
        assert await iface.flag(["a", "A"]) == 1
        assert await iface.flag(["b", "B"]) == 2
    dataset = tmp_path / "dataset1.csv"
    whole = dataset.read_bytes()
    with dataset.open("ab") as file:
        file.write(tail)  # a crash in the middle of a row
    # reading never returns the torn row
    assert [row.values for row in load_flagged(tmp_path)] == [("a", "A"), ("b", "B")]

    async with iface:
        assert await iface.flag(["d", "D"]) == 3
        assert await iface.flag(["e", "E"]) == 4
    assert (tmp_path / "dataset1.csv.torn").read_bytes() == tail
    data = dataset.read_bytes()
    assert data.startswith(whole) and tail not in data
    assert scan_records(data) == (5, len(data))
    assert [row.values for row in load_flagged(tmp_path)] == [
        ("a", "A"),
        ("b", "B"),
        ("d", "D"),
        ("e", "E"),
    ]
    assert names(tmp_path) == ["dataset1.csv", "dataset1.csv.torn"]
    async with iface:  # nothing torn this time: the count simply continues
        assert await iface.flag(["f", "F"]) == 5
    assert (tmp_path / "dataset1.csv.torn").read_bytes() == tail


def test_torn_tails_accumulate_and_counts_stay_exact(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset1.csv"
    expected = 0
    for crash in (b'x,"first crash', b"y,second crash"):
        logger = CSVLogger()
        logger.setup([components.Textbox(label="t")], tmp_path)
        expected += 1
        assert logger.flag([f"row {expected}"]) == expected
        logger.close()
        with dataset.open("ab") as file:
            file.write(crash)
    logger = CSVLogger()
    logger.setup([components.Textbox(label="t")], tmp_path)
    assert logger.flag(["last"]) == 3
    logger.close()
    assert (tmp_path / "dataset1.csv.torn").read_bytes() == b'x,"first crashy,second crash'
    assert [row.values for row in load_flagged(tmp_path)] == [("row 1",), ("row 2",), ("last",)]


async def test_a_torn_first_row_after_the_header(tmp_path: Path) -> None:
    (tmp_path / "dataset1.csv").write_bytes(b't,output,flag,username,timestamp\r\n"torn')
    iface = Interface(lambda t: t, "text", "text", flagging_dir=tmp_path)
    async with iface:
        assert await iface.flag(["a", "b"]) == 1
    assert (tmp_path / "dataset1.csv.torn").read_bytes() == b'"torn'
    assert [row.values for row in load_flagged(tmp_path)] == [("a", "b")]


# -- reading back ---------------------------------------------------------------------


def test_load_flagged_needs_enough_columns(tmp_path: Path) -> None:
    logger = CSVLogger()
    logger.setup([components.Textbox(label="t")], tmp_path)
    logger.flag(["a"])
    logger.close()
    with pytest.raises(FlagValueError, match="fewer than the 2 components"):
        load_flagged(tmp_path, ["text", "text"])
    assert [row.values for row in load_flagged(tmp_path, ["text"])] == [("a",)]
    assert load_flagged(tmp_path / "missing") == []
    (tmp_path / "empty").mkdir()
    assert load_flagged(tmp_path / "empty") == []


# -- file cells read back only inside the flagging directory -------------------------


def write_dataset(path: Path, rows: list[list[str]]) -> None:
    """A dataset file as an older version (or a hand edit) may have left it."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["photo", "note", *METADATA], *rows])
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")


HOSTILE_CELLS = [
    "/etc/passwd",
    "flags/../../../../etc/shadow",
    "photo/../../outside.png",
    "..",
    ".",
]


@pytest.mark.parametrize("cell", HOSTILE_CELLS)
def test_a_file_cell_outside_the_flagging_directory_is_refused(tmp_path: Path, cell: str) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()
    (flags / "photo").mkdir()
    (flags / "photo" / "good.png").write_bytes(b"png")
    write_dataset(
        flags / "dataset1.csv",
        [["photo/good.png", "fine", "", "", ""], [cell, "hostile", "", "", ""]],
    )
    image = [components.Image(label="photo"), components.Textbox(label="note")]
    with pytest.raises(UnsafePathError) as info:
        load_flagged(flags, image)
    error = info.value
    assert isinstance(error, FlagValueError)
    assert (error.file, error.row, error.column) == (str(flags / "dataset1.csv"), 2, "photo")
    assert "dataset1.csv, row 2, column 'photo'" in str(error)
    assert "unsafe_paths='skip'" in str(error)
    # skipping leaves exactly the hostile row out
    kept = load_flagged(flags, image, unsafe_paths="skip")
    good = str((flags / "photo" / "good.png").absolute())
    assert [row.values for row in kept] == [(good, "fine")]
    # without components nothing is resolved: the cells come back as the strings they are
    assert [row.values[0] for row in load_flagged(flags)] == ["photo/good.png", cell]
    # examples read from the directory surface the same error
    with pytest.raises(UnsafePathError, match="row 2, column 'photo'"):
        Interface(lambda p, n: n, image, "text", examples=flags)


def test_a_symlink_leading_outside_is_refused(tmp_path: Path) -> None:
    flags = tmp_path / "flags"
    (flags / "photo").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (flags / "photo" / "link.png").symlink_to(secret)
    (flags / "escape").symlink_to(tmp_path, target_is_directory=True)
    (flags / "photo" / "inside.png").symlink_to(flags / "photo" / "real.png")
    (flags / "photo" / "real.png").write_bytes(b"png")
    write_dataset(flags / "dataset1.csv", [["photo/inside.png", "a", "", "", ""]])
    image = [components.Image(label="photo"), components.Textbox(label="note")]
    assert len(load_flagged(flags, image)) == 1  # a symlink that stays inside is fine
    for cell in ("photo/link.png", "escape/secret.txt"):
        write_dataset(flags / "dataset1.csv", [[cell, "a", "", "", ""]])
        with pytest.raises(UnsafePathError, match="symlink"):
            load_flagged(flags, image)
        assert load_flagged(flags, image, unsafe_paths="skip") == []


def test_unsafe_paths_must_be_raise_or_skip(tmp_path: Path) -> None:
    with pytest.raises(FlagValueError, match="unsafe_paths must be 'raise' or 'skip'"):
        load_flagged(tmp_path, unsafe_paths="ignore")  # type: ignore[arg-type]


# -- component types beside the header ------------------------------------------------


async def test_same_labels_other_types_start_the_next_dataset_file(tmp_path: Path) -> None:
    flags = tmp_path / "flags"
    png = tmp_path / "cat.png"
    PILImage.new("RGB", (2, 2), "red").save(png)
    images = Interface(
        lambda photo: "ok", components.Image(label="photo"), "text", flagging_dir=flags
    )
    # a second interface (or an older replica) with the same labels, but text for "photo"
    texts = Interface(
        lambda photo: "ok", components.Textbox(label="photo"), "text", flagging_dir=flags
    )
    async with images:
        assert await images.flag([png, "ok"]) == 1
    async with texts:
        assert await texts.flag(["/etc/passwd", "ok"]) == 1  # the first row of its own file
        assert await texts.flag(["flags/../../../../etc/shadow", "ok"]) == 2
    async with images:
        assert await images.flag([png, "ok"]) == 1  # not appended after the text rows
    assert names(flags) == ["dataset1.csv", "dataset2.csv", "dataset3.csv", "photo"]
    assert read_csv(flags / "dataset1.csv")[0] == read_csv(flags / "dataset2.csv")[0]
    for name, photo in [
        ("dataset1", {"type": "Image", "file": True}),
        ("dataset2", {"type": "Textbox", "file": False}),
        ("dataset3", {"type": "Image", "file": True}),
    ]:
        schema = json.loads((flags / ".asyncflag" / f"{name}.schema.json").read_bytes())
        assert schema == {
            "columns": [
                {"label": "photo", **photo},
                {"label": "output", "type": "Textbox", "file": False},
            ]
        }
    # the image rows read back as files inside the directory; the text rows never do
    with pytest.raises(UnsafePathError, match="written by a Textbox component") as info:
        load_flagged(flags, images.components)
    assert (info.value.file, info.value.column) == (str(flags / "dataset2.csv"), "photo")
    # without the schema file, each cell is still confined to the directory
    (flags / ".asyncflag" / "dataset2.schema.json").unlink()
    with pytest.raises(UnsafePathError, match=r"dataset2\.csv, row 1, column 'photo'"):
        load_flagged(flags, images.components)
    kept = load_flagged(flags, images.components, unsafe_paths="skip")
    assert [Path(row.file).name for row in kept] == ["dataset1.csv", "dataset3.csv"]
    assert all(Path(row.values[0]).read_bytes() == png.read_bytes() for row in kept)


def test_a_dataset_without_a_schema_file_is_continued_and_given_one(tmp_path: Path) -> None:
    # as an older asyncflag (or Gradio) left it: a header, rows, no .asyncflag/
    (tmp_path / "dataset1.csv").write_bytes(b"t,flag,username,timestamp\r\nold,,,\r\n")
    logger = CSVLogger()
    logger.setup([components.Textbox(label="t")], tmp_path)
    assert logger.flag(["new"]) == 2
    logger.close()
    schema = json.loads((tmp_path / ".asyncflag" / "dataset1.schema.json").read_bytes())
    assert schema == {"columns": [{"label": "t", "type": "Textbox", "file": False}]}
    # from now on, the same label with another type goes to the next file
    logger.setup([components.File(label="t")], tmp_path)
    assert logger.flag([b"data"]) == 1
    logger.close()
    assert names(tmp_path) == ["dataset1.csv", "dataset2.csv", "t"]


def test_an_unreadable_schema_file_is_not_continued(tmp_path: Path) -> None:
    logger = CSVLogger()
    logger.setup([components.Textbox(label="t")], tmp_path)
    assert logger.flag(["a"]) == 1
    logger.close()
    (tmp_path / ".asyncflag" / "dataset1.schema.json").write_bytes(b"{not json")
    logger.setup([components.Textbox(label="t")], tmp_path)
    assert logger.flag(["b"]) == 1
    logger.close()
    assert names(tmp_path) == ["dataset1.csv", "dataset2.csv"]
    (tmp_path / ".asyncflag" / "dataset2.schema.json").unlink()
    (tmp_path / ".asyncflag" / "dataset2.schema.json").mkdir()  # not even a file
    logger.setup([components.Textbox(label="t")], tmp_path)
    assert logger.flag(["c"]) == 1
    logger.close()
    assert names(tmp_path) == ["dataset1.csv", "dataset2.csv", "dataset3.csv"]


def test_a_simple_log_refuses_other_types(tmp_path: Path) -> None:
    logger = SimpleCSVLogger()
    logger.setup([components.Image(label="x")], tmp_path)
    assert logger.flag([PNG_BYTES]) == 1
    logger.close()
    logger.setup([components.Textbox(label="x")], tmp_path)
    with pytest.raises(FlagValueError, match="other component types") as info:
        logger.flag(["/etc/passwd"])
    assert "use another flagging_dir" in str(info.value)
    logger.close()
    assert len(read_csv(tmp_path / "log.csv")) == 1
    schema = json.loads((tmp_path / ".asyncflag" / "log.schema.json").read_bytes())
    assert schema["columns"][0]["type"] == "Image"


# -- the dataset file deleted, truncated or replaced while the interface runs --------

Flag = Callable[[str], Awaitable[int]]


@asynccontextmanager
async def text_flagger(
    how: str, logger: CSVLogger | SimpleCSVLogger, directory: Path
) -> AsyncIterator[Flag]:
    """``flag(text)`` through a running interface (the batched writer) or the sync call."""
    labels = [components.Textbox(label="t"), components.Textbox(label="output")]
    if how == "sync":
        logger.setup(labels, directory)

        async def flag_now(text: str) -> int:
            return logger.flag([text, text.upper()])

        try:
            yield flag_now
        finally:
            logger.close()
        return
    iface = Interface(
        str.upper, labels[0], labels[1], flagging_dir=directory, flagging_callback=logger
    )
    async with iface:

        async def flag_queued(text: str) -> int:
            return await iface.flag([text, text.upper()])

        yield flag_queued


def dataset_path(logger: type[CSVLogger | SimpleCSVLogger], directory: Path) -> Path:
    return directory / ("dataset1.csv" if logger is CSVLogger else "log.csv")


def firsts(directory: Path) -> list[str]:
    return [row.values[0] for row in load_flagged(directory)]


LOGGERS = [CSVLogger, SimpleCSVLogger]
HOW = ["interface", "sync"]


def delete(path: Path) -> None:
    path.unlink()


def empty(path: Path) -> None:
    path.write_bytes(b"")  # truncated in place: same inode


def delete_the_directory(path: Path) -> None:
    shutil.rmtree(path.parent)


@pytest.mark.parametrize("change", [delete, empty, delete_the_directory])
@pytest.mark.parametrize("durability", ["flush", "fsync"])
@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("logger", LOGGERS)
async def test_a_deleted_or_emptied_dataset_file_is_started_again(
    tmp_path: Path,
    logger: type[CSVLogger | SimpleCSVLogger],
    how: str,
    durability: Durability,
    change: Callable[[Path], None],
) -> None:
    path = dataset_path(logger, tmp_path / "flags")
    async with text_flagger(how, logger(durability=durability), tmp_path / "flags") as flag:
        assert await flag("a") == 1
        assert await flag("b") == 2
        change(path)
        # the file holds only the rows written since: counts start over, truthfully
        assert await flag("c") == 1
        assert await flag("d") == 2
        assert firsts(tmp_path / "flags") == ["c", "d"]
    data = path.read_bytes()
    if logger is CSVLogger:
        assert data.startswith(b"t,output,flag,username,timestamp\r\n")
        schema = tmp_path / "flags" / ".asyncflag" / "dataset1.schema.json"
        assert json.loads(schema.read_bytes())["columns"][0]["type"] == "Textbox"
    assert scan_records(data) == (2 + (logger is CSVLogger), len(data))
    assert not path.with_name(path.name + ".torn").exists()


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("logger", LOGGERS)
async def test_a_dataset_file_cut_mid_row_is_repaired(
    tmp_path: Path, logger: type[CSVLogger | SimpleCSVLogger], how: str
) -> None:
    path = dataset_path(logger, tmp_path)
    async with text_flagger(how, logger(), tmp_path) as flag:
        assert await flag("a") == 1
        assert await flag("bbbbbb") == 2
        whole = path.read_bytes()
        cut = whole.rindex(b"bbbbbb") + 3
        os.truncate(path, cut)  # the second row cut in half
        assert await flag("c") == 2  # a, then c: the half row is not counted
        assert firsts(tmp_path) == ["a", "c"]
    start = whole.rindex(b"\r\n", 0, cut) + 2  # where the cut row began
    assert path.with_name(path.name + ".torn").read_bytes() == whole[start:cut]


def replace_with(path: Path, data: bytes) -> None:
    """Put another file at ``path``, as a restore from a backup or another tool would."""
    temp = path.with_name("replacement.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("logger", LOGGERS)
async def test_a_replaced_dataset_file_is_followed_and_its_rows_counted(
    tmp_path: Path, logger: type[CSVLogger | SimpleCSVLogger], how: str
) -> None:
    path = dataset_path(logger, tmp_path)
    async with text_flagger(how, logger(), tmp_path) as flag:
        assert await flag("a") == 1
        # a copy of the file with one more row (from a backup, another tool) replaces it
        replace_with(path, path.read_bytes() + b"x,X,,,\r\ny,Y,,,\r\n")
        assert await flag("b") == 4
        assert await flag("c") == 5
        # replaced again, by a file cut mid-row: the cut row is moved aside
        replace_with(path, path.read_bytes() + b'z,"Z')
        assert await flag("d") == 6
        assert firsts(tmp_path) == ["a", "x", "y", "b", "c", "d"]
    assert path.with_name(path.name + ".torn").read_bytes() == b'z,"Z'
    assert not path.with_name("replacement.tmp").exists()


@pytest.mark.parametrize("how", HOW)
async def test_a_dataset_file_replaced_by_another_schema_starts_the_next_one(
    tmp_path: Path, how: str
) -> None:
    path = tmp_path / "dataset1.csv"
    async with text_flagger(how, CSVLogger(), tmp_path) as flag:
        assert await flag("a") == 1
        other = b"other,labels,flag,username,timestamp\r\n1,2,,,\r\n"
        replace_with(path, other)
        assert await flag("b") == 1  # the first row of dataset2.csv
        assert await flag("c") == 2
        path.unlink()
        path.symlink_to(tmp_path / "outside.csv")  # and now a symlink: never followed
        assert await flag("d") == 3  # still dataset2.csv: it was never replaced
    assert path.is_symlink() and not (tmp_path / "outside.csv").exists()
    assert [row[0] for row in read_csv(tmp_path / "dataset2.csv")[1:]] == ["b", "c", "d"]


@pytest.mark.parametrize("how", HOW)
async def test_a_dataset_file_replaced_by_a_symlink_moves_on(tmp_path: Path, how: str) -> None:
    path = tmp_path / "dataset1.csv"
    outside = tmp_path / "outside.csv"
    outside.write_bytes(b"")
    async with text_flagger(how, CSVLogger(), tmp_path / "flags") as flag:
        assert await flag("a") == 1
        path = tmp_path / "flags" / "dataset1.csv"
        path.unlink()
        path.symlink_to(outside)
        assert await flag("b") == 1  # dataset2.csv
    assert outside.read_bytes() == b""
    assert [row[0] for row in read_csv(tmp_path / "flags" / "dataset2.csv")[1:]] == ["b"]


@pytest.mark.parametrize("how", HOW)
async def test_a_simple_log_replaced_by_a_symlink_is_refused(tmp_path: Path, how: str) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_bytes(b"")
    async with text_flagger(how, SimpleCSVLogger(), tmp_path / "flags") as flag:
        assert await flag("a") == 1
        path = tmp_path / "flags" / "log.csv"
        path.unlink()
        path.symlink_to(outside)
        with pytest.raises(FlagValueError, match="is a symlink"):
            await flag("b")
    assert outside.read_bytes() == b""


def test_a_text_column_is_never_read_back_as_files(tmp_path: Path) -> None:
    # cells that would resolve inside the directory are still not files of an Image
    logger = CSVLogger()
    logger.setup([components.Textbox(label="photo")], tmp_path)
    assert logger.flag(["photo/cat.png"]) == 1
    logger.close()
    (tmp_path / "photo").mkdir()
    (tmp_path / "photo" / "cat.png").write_bytes(PNG_BYTES)
    with pytest.raises(UnsafePathError, match="not by a file component like the Image"):
        load_flagged(tmp_path, [components.Image(label="photo")])
    assert load_flagged(tmp_path, [components.Image(label="photo")], unsafe_paths="skip") == []
    assert [row.values for row in load_flagged(tmp_path, ["text"])] == [("photo/cat.png",)]
    # the same for a simple log
    simple = tmp_path / "simple"
    simple_logger = SimpleCSVLogger()
    simple_logger.setup([components.Textbox(label="photo")], simple)
    assert simple_logger.flag(["x"]) == 1
    simple_logger.close()
    with pytest.raises(UnsafePathError, match=r"log\.csv, column 'photo'"):
        load_flagged(simple, [components.File(label="photo")])


@pytest.mark.parametrize("how", HOW)
async def test_a_dataset_file_replaced_by_a_directory_or_a_fifo_moves_on(
    tmp_path: Path, how: str
) -> None:
    path = tmp_path / "dataset1.csv"
    async with text_flagger(how, CSVLogger(), tmp_path) as flag:
        assert await flag("a") == 1
        path.unlink()
        path.mkdir()
        assert await flag("b") == 1  # dataset2.csv
        (tmp_path / "dataset2.csv").unlink()
        os.mkfifo(tmp_path / "dataset2.csv")
        assert await flag("c") == 1  # dataset3.csv
    # neither the directory nor the FIFO is read back as a dataset file
    assert [row.values[0] for row in load_flagged(tmp_path)] == ["c"]
    assert (tmp_path / "dataset1.csv").is_dir()


def test_two_schemas_open_at_once_get_their_own_files(tmp_path: Path) -> None:
    """As the stream consumer opens one logger per schema: same labels, other types."""
    images, texts = CSVLogger(), CSVLogger()
    images.setup([components.Image(label="photo")], tmp_path)
    texts.setup([components.Textbox(label="photo")], tmp_path)
    assert images.open_dataset() == (tmp_path / "dataset1.csv", 0)
    assert texts.open_dataset() == (tmp_path / "dataset2.csv", 0)
    assert texts.flag(["/etc/passwd"]) == 1
    assert images.flag([PNG_BYTES]) == 1
    images.close()
    texts.close()
    assert read_csv(tmp_path / "dataset1.csv")[1][0].startswith("photo/")
    assert read_csv(tmp_path / "dataset2.csv")[1][0] == "/etc/passwd"
