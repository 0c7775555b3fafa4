"""Reading a flagging directory back: iter_flagged streams, load_flagged lists."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

import asyncflag
from asyncflag import FlagReadError, FlagValueError, components, iter_flagged, load_flagged
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


# -- folders Gradio wrote (issue 15) -----------------------------------------------------

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GRADIO = FIXTURES / "gradio"
GRADIO4 = FIXTURES / "gradio4"
TWO = [components.Textbox(label="text"), components.Number(label="number")]


def test_gradio_short_and_long_rows() -> None:
    """Gradio makes the header at the first flag only: a later flag without a username
    writes one cell fewer (the flag is kept), one with an option and a username two
    more than a header without those columns."""
    short = load_flagged(GRADIO / "layout_short_rows", TWO)
    assert [(r.values, r.flag, r.username) for r in short] == [
        (("first", 1), "wrong", "alice"),
        (("second", 2.5), "wrong", None),
    ]
    long = load_flagged(GRADIO / "layout_long_rows", TWO)
    assert [(r.values, r.flag, r.username) for r in long] == [
        (("first", 1), None, None),
        (("second", 2.5), "wrong", "alice"),
    ]
    assert all(r.timestamp is not None and r.timestamp_naive for r in short + long)


def test_one_extra_cell_is_the_flag_unless_the_header_has_only_a_username(
    tmp_path: Path,
) -> None:
    write_csv(
        tmp_path / "dataset1.csv",
        [["x", "username", "timestamp"], ["a", "alice", "2026-01-01 00:00:00"]],
    )
    write_csv(
        tmp_path / "dataset2.csv",
        [["y", "timestamp"], ["b", "opt", "2026-01-01 00:00:00"]],
    )
    rows = load_flagged(tmp_path)
    assert [(r.values, r.flag, r.username) for r in rows] == [
        (("a",), None, "alice"),
        (("b",), "opt", None),
    ]


def test_a_component_labelled_flag_stays_a_value_column(tmp_path: Path) -> None:
    """Gradio's ``x,flag,timestamp`` (no option given, a component labelled flag) read
    with two components: ``flag`` is the second component's column."""
    write_csv(tmp_path / "dataset1.csv", [["x", "flag", "timestamp"], ["a", "b", ""]])
    (row,) = load_flagged(tmp_path, ["text", "text"])
    assert (row.values, row.labels, row.flag) == (("a", "b"), ("x", "flag"), None)
    (row,) = load_flagged(tmp_path)  # without components, the metadata column it looks
    assert (row.values, row.flag) == (("a",), "b")


def test_naive_and_aware_timestamps_are_told_apart(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "dataset1.csv",
        [
            ["x", *METADATA],
            ["gradio", "", "", "2026-11-25 15:43:40.151430"],
            ["asyncflag", "", "", "2026-11-25T15:43:49.785643+00:00"],
            ["none", "", "", ""],
        ],
    )
    rows = load_flagged(tmp_path)
    assert [(r.timestamp, r.timestamp_naive) for r in rows] == [
        (datetime(2026, 11, 25, 15, 43, 40, 151430), True),
        (datetime(2026, 11, 25, 15, 43, 49, 785643, tzinfo=UTC), False),
        (None, False),
    ]


@pytest.mark.parametrize(
    ("rows", "components_", "where", "message"),
    [
        ([["x", *METADATA], ["a", "", "", "yesterday"]], None, (1, "timestamp"), "not a date"),
        (
            [["n", *METADATA], ["1", "", "", ""], ["one", "", "", ""]],
            ["number"],
            (2, "n"),
            "a Number cannot read the cell 'one'",
        ),
        ([["c", *METADATA], ["maybe", "", "", ""]], ["checkbox"], (1, "c"), "not a boolean"),
        (
            [["j", *METADATA], ["{oops", "", "", ""]],
            ["json"],
            (1, "j"),
            "a JSON cannot read the cell '{oops'",
        ),
        ([["x", "y", *METADATA], ["a"]], None, (1, "y"), "fewer than the 2 value columns"),
        ([["x", *METADATA], ["a", "1", "2", "3", "4"]], None, (1, ""), "more than"),
        ([["x", "when"], ["a", "b"]], None, (0, "when"), "not 'timestamp'"),
    ],
)
def test_every_read_error_names_the_file_row_and_column(
    tmp_path: Path,
    rows: list[list[str]],
    components_: list[str] | None,
    where: tuple[int, str],
    message: str,
) -> None:
    write_csv(tmp_path / "dataset1.csv", rows)
    with pytest.raises(FlagReadError, match=message) as info:
        load_flagged(tmp_path, components_)
    error = info.value
    assert isinstance(error, FlagValueError)
    assert (error.file, error.row, error.column) == (str(tmp_path / "dataset1.csv"), *where)
    assert str(error).startswith(f"dataset1.csv, {'the header' if where[0] == 0 else 'row'}")
    if where[0]:
        assert f"row {where[0]}" in str(error)
    if where[1]:
        assert repr(where[1]) in str(error)


def test_gradio4_log_with_its_header() -> None:
    """Gradio 4's CSVLogger (5/6's ClassicCSVLogger): a header, then values, flag,
    username and timestamp; ``'`` before a negative number, ``true``/``false``."""
    three = [*TWO, components.Checkbox(label="check")]
    rows = load_flagged(GRADIO4 / "log_classic", three)
    assert [(r.values, r.flag, r.username) for r in rows] == [
        (("first", 1, True), "wrong", "alice"),
        (("=second", -2.5, False), "wrong", None),
        (("third", None, None), None, None),
    ]
    assert [r.labels for r in rows] == [("text", "number", "check")] * 3
    assert all(r.timestamp_naive for r in rows)
    # without components the header still names the columns
    assert load_flagged(GRADIO4 / "log_classic")[0].labels == ("text", "number", "check")


def test_asyncflag_simple_log_without_a_header(tmp_path: Path) -> None:
    logger = asyncflag.SimpleCSVLogger()
    logger.setup(TWO, tmp_path)
    logger.flag(["timestamp", 3], "opt", "bob")
    logger.close()
    for given in (TWO, None):
        (row,) = load_flagged(tmp_path, given)
        assert (row.flag, row.username, row.timestamp_naive) == ("opt", "bob", False)
    assert load_flagged(tmp_path, TWO)[0].values == ("timestamp", 3)


def test_a_values_only_log_whose_last_value_is_timestamp(tmp_path: Path) -> None:
    """The documented rule: with components, a first row of one cell per component is
    values even when its last cell is ``timestamp``; without, it is taken as a header."""
    write_csv(tmp_path / "log.csv", [["a", "timestamp"], ["b", "c"]])
    assert [r.values for r in load_flagged(tmp_path, ["text", "text"])] == [
        ("a", "timestamp"),
        ("b", "c"),
    ]
    # without components the first row is a header, and "c" no timestamp: a clear error
    with pytest.raises(FlagReadError, match=r"log\.csv, row 1, column 'timestamp'"):
        load_flagged(tmp_path)


def test_gradio_file_cells_absolute_or_relative_to_the_app(tmp_path: Path) -> None:
    """A Gradio file cell is ``<its flagging_dir>/<label>/<20 hex>/<name>``: read below
    the folder given, wherever the app ran; anything else absolute is still refused."""
    folder = tmp_path / "image" / "3b6f7045cf0e5bfe3f0b"
    folder.mkdir(parents=True)
    (folder / "tiny.png").write_bytes(b"png")
    cells = [
        ".gradio/flagged/image/3b6f7045cf0e5bfe3f0b/tiny.png",
        "/srv/app/flagged/image/3b6f7045cf0e5bfe3f0b/tiny.png",
        "image/3b6f7045cf0e5bfe3f0b/tiny.png",
    ]
    write_csv(tmp_path / "dataset1.csv", [["image", "timestamp"], *[[c, ""] for c in cells]])
    image = [components.File(label="image")]
    expected = str((folder / "tiny.png").absolute())
    assert [r.values for r in load_flagged(tmp_path, image)] == [(expected,)] * 3
    for hostile in ("/etc/passwd", "/x/image/3b6f7045cf0e5bfe3f0b/../../../etc/passwd"):
        write_csv(tmp_path / "dataset1.csv", [["image", "timestamp"], [hostile, ""]])
        with pytest.raises(UnsafePathError, match="row 1, column 'image'"):
            load_flagged(tmp_path, image)


def test_a_gradio_file_cell_through_a_symlink_leading_out_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "3b6f7045cf0e5bfe3f0b").mkdir(parents=True)
    (outside / "3b6f7045cf0e5bfe3f0b" / "tiny.png").write_bytes(b"secret")
    flags = tmp_path / "flags"
    flags.mkdir()
    (flags / "image").symlink_to(outside, target_is_directory=True)
    write_csv(
        flags / "dataset1.csv",
        [["image", "timestamp"], [".gradio/flagged/image/3b6f7045cf0e5bfe3f0b/tiny.png", ""]],
    )
    with pytest.raises(UnsafePathError, match="symlink"):
        load_flagged(flags, [components.File(label="image")])


def gradio_folders() -> list[Path]:
    cases = json.loads((GRADIO / "manifest.json").read_text(encoding="utf-8"))["cases"]
    return [GRADIO / name for name in cases] + [GRADIO4 / "log_classic"]


@pytest.mark.parametrize("folder", gradio_folders(), ids=lambda p: p.name)
def test_interface_examples_accept_every_gradio_folder(folder: Path) -> None:
    """``Interface(examples=<folder>)`` with the components of each fixture."""
    manifest = json.loads((folder.parent / "manifest.json").read_text(encoding="utf-8"))
    case = manifest["cases"][folder.name]
    inputs = [
        getattr(components, spec["type"])(label=spec["label"], **spec["kwargs"])
        for spec in case["components"]
    ]
    iface = asyncflag.Interface(lambda *values: None, inputs, [], examples=folder)
    assert iface.examples is not None
    assert len(iface.examples) == len(case["rows"])
    assert all(len(example) == len(inputs) for example in iface.examples)


class CSVLogger:
    """Stands for ``gradio.CSVLogger`` (asyncflag's tests never import Gradio)."""

    __module__ = "gradio.flagging"

    def setup(self, components: object, flagging_dir: object) -> None: ...

    def flag(self, flag_data: object, flag_option: object = None, username: object = None) -> int:
        return 0


def test_gradio_callbacks_are_refused_when_the_interface_is_built(tmp_path: Path) -> None:
    with pytest.raises(FlagValueError, match=r"Gradio's CSVLogger .*Pass asyncflag\.CSVLogger"):
        asyncflag.Interface(lambda x: x, "text", "text", flagging_callback=CSVLogger())
    with pytest.raises(FlagValueError, match="flag\\(\\) method of Gradio's components"):
        asyncflag.ChatInterface(lambda m, h: m, flagging_callback=CSVLogger())
    # asyncflag's own are taken
    asyncflag.Interface(lambda x: x, "text", "text", flagging_callback=asyncflag.CSVLogger())


# -- continuing a folder Gradio wrote (issue 15) -------------------------------------------


def gradio_copy(case: str, tmp_path: Path) -> Path:
    folder = tmp_path / case
    shutil.copytree(GRADIO / case, folder)
    return folder


def records(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("case", "metadata"),
    [
        ("layout_default", ["timestamp"]),
        ("layout_options", ["flag", "timestamp"]),
        ("layout_options_login", ["flag", "username", "timestamp"]),
    ],
)
async def test_a_gradio_dataset_is_continued_in_its_own_columns(
    tmp_path: Path, case: str, metadata: list[str]
) -> None:
    folder = gradio_copy(case, tmp_path)
    before = (folder / "dataset1.csv").read_bytes()
    option = "wrong" if "flag" in metadata else None
    username = "alice" if "username" in metadata else None
    iface = asyncflag.Interface(lambda t, n: None, TWO, [], flagging_dir=folder)
    async with iface:
        assert await iface.flag(["third", -3], option, username) == 3  # the count goes on
    assert sorted(p.name for p in folder.glob("dataset*.csv")) == ["dataset1.csv"]
    data = (folder / "dataset1.csv").read_bytes()
    assert data.startswith(before)
    header, *rows = records(folder / "dataset1.csv")
    assert header == ["text", "number", *metadata]
    assert all(len(row) == len(header) for row in rows)  # no column Gradio's header lacks
    assert rows[-1][:2] == ["third", "-3"]
    read = load_flagged(folder, TWO)
    assert [(r.values, r.flag, r.username) for r in read][-1] == (("third", -3), option, username)
    assert [r.timestamp_naive for r in read] == [True, True, False]


@pytest.mark.anyio
async def test_an_option_or_username_without_a_column_starts_the_next_dataset(
    tmp_path: Path,
) -> None:
    """The decision: never squeezed into Gradio's file, never dropped, never refused: the
    row starts datasetN+1.csv with all three metadata columns, and later rows go there."""
    folder = gradio_copy("layout_options", tmp_path)
    iface = asyncflag.Interface(lambda t, n: None, TWO, [], flagging_dir=folder)
    async with iface:
        assert await iface.flag(["third", 3], "wrong") == 3  # fits: dataset1.csv
        assert await iface.flag(["fourth", 4], "wrong", "bob") == 1  # no username column
        assert await iface.flag(["fifth", 5], "wrong") == 2  # dataset2.csv from now on
    assert records(folder / "dataset1.csv")[0] == ["text", "number", "flag", "timestamp"]
    assert len(records(folder / "dataset1.csv")) == 4
    header, *rows = records(folder / "dataset2.csv")
    assert header == ["text", "number", *METADATA]
    assert [row[:4] for row in rows] == [
        ["fourth", "4", "wrong", "bob"],
        ["fifth", "5", "wrong", ""],
    ]
    read = load_flagged(folder, TWO)
    assert [(r.values[0], r.flag, r.username, Path(r.file).name) for r in read] == [
        ("first", "wrong", None, "dataset1.csv"),
        ("second", "wrong", None, "dataset1.csv"),
        ("third", "wrong", None, "dataset1.csv"),
        ("fourth", "wrong", "bob", "dataset2.csv"),
        ("fifth", "wrong", None, "dataset2.csv"),
    ]


def test_csv_logger_continues_gradio_and_moves_on_for_an_option(tmp_path: Path) -> None:
    folder = gradio_copy("layout_default", tmp_path)
    logger = asyncflag.CSVLogger()
    logger.setup(TWO, folder)
    assert logger.flag(["third", 3]) == 3
    assert logger.flag(["fourth", 4], "wrong") == 1
    logger.close()
    assert records(folder / "dataset1.csv")[-1][:2] == ["third", "3"]
    assert len(records(folder / "dataset1.csv")[-1]) == 3
    assert records(folder / "dataset2.csv")[1][:3] == ["fourth", "4", "wrong"]
    # continue_gradio=False: all three columns, so the next file at once
    folder = gradio_copy("layout_options", tmp_path)
    logger = asyncflag.CSVLogger(continue_gradio=False)
    logger.setup(TWO, folder)
    assert logger.flag(["third", 3], "wrong") == 1
    logger.close()
    assert records(folder / "dataset2.csv")[0] == ["text", "number", *METADATA]


def test_other_labels_do_not_continue_a_gradio_file(tmp_path: Path) -> None:
    folder = gradio_copy("layout_default", tmp_path)
    logger = asyncflag.CSVLogger()
    logger.setup([components.Textbox(label="other")], folder)
    assert logger.flag(["x"]) == 1
    logger.close()
    assert records(folder / "dataset2.csv")[0] == ["other", *METADATA]


@pytest.mark.anyio
async def test_asyncflag_simple_logger_appends_to_gradio_values_only_log(tmp_path: Path) -> None:
    folder = gradio_copy("layout_simple", tmp_path)
    iface = asyncflag.Interface(
        lambda t, n: None,
        TWO,
        [],
        flagging_dir=folder,
        flagging_callback=asyncflag.SimpleCSVLogger(),
    )
    async with iface:
        assert await iface.flag(["third", 3], "wrong", "bob") == 3
    read = load_flagged(folder, TWO)
    assert [(r.values, r.flag, r.username) for r in read] == [
        (("first", 1), None, None),
        (("second", 2.5), None, None),
        (("third", 3), "wrong", "bob"),
    ]
    assert read[-1].timestamp is not None and not read[-1].timestamp_naive


@pytest.mark.anyio
async def test_asyncflag_simple_logger_continues_gradio4_log(tmp_path: Path) -> None:
    folder = tmp_path / "log_classic"
    shutil.copytree(GRADIO4 / "log_classic", folder)
    three = [*TWO, components.Checkbox(label="check")]
    simple = asyncflag.SimpleCSVLogger()
    iface = asyncflag.Interface(
        lambda *v: None, three, [], flagging_dir=folder, flagging_callback=simple
    )
    async with iface:
        assert await iface.flag(["fourth", 4, True], "wrong", "bob") == 4
    read = load_flagged(folder, three)
    assert [(r.values, r.flag, r.username) for r in read][-1] == (
        ("fourth", 4, True),
        "wrong",
        "bob",
    )
    assert len(read) == 4
    assert records(folder / "log.csv")[-1][2] == "true"


def test_chat_feedback_given_again_in_a_later_file_is_current_there(tmp_path: Path) -> None:
    """The current state of a feedback id is its last row over the folder's files (a
    restart with other additional inputs starts the next file)."""
    write_csv(
        tmp_path / "dataset1.csv",
        [["feedback_id", *METADATA], ["a", "up", "", ""], ["b", "up", "", ""]],
    )
    write_csv(
        tmp_path / "dataset2.csv",
        [["feedback_id", "extra", *METADATA], ["a", "x", "down", "", ""]],
    )
    current = list(iter_flagged(tmp_path))
    assert [(r.values[0], r.flag, Path(r.file).name) for r in current] == [
        ("b", "up", "dataset1.csv"),
        ("a", "down", "dataset2.csv"),
    ]
    assert len(list(iter_flagged(tmp_path, history=True))) == 3


@pytest.mark.parametrize("name", ["dataset1.csv", "log.csv"])
def test_a_file_that_is_not_utf8_names_the_row(tmp_path: Path, name: str) -> None:
    header = b"x,flag,username,timestamp\r\n" if name == "dataset1.csv" else b""
    rows = b"a,,,2026-01-01T00:00:00+00:00\r\n\xff\xfe,,,2026-01-01T00:00:00+00:00\r\n"
    (tmp_path / name).write_bytes(header + rows)
    with pytest.raises(FlagReadError, match=rf"{name}, row 2: not CSV text in UTF-8") as info:
        load_flagged(tmp_path, ["text"])
    assert (info.value.file, info.value.row) == (str(tmp_path / name), 2)


def test_a_chat_log_row_with_a_bad_timestamp_is_named(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "log.csv",
        [
            ["conversation", "index", "value", "flag", "timestamp"],
            ["[]", "0", "", "Like", "2025-01-02 03:04:05"],
            ["[]", "0", "", "Like", "soon"],
        ],
    )
    rows = iter_flagged(tmp_path)
    assert next(rows).timestamp_naive
    with pytest.raises(FlagReadError, match=r"log\.csv, row 2, column 'timestamp'"):
        next(rows)
