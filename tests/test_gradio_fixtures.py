"""Folders flagged by real Gradio 6, read and written again by asyncflag, cell by cell.

``tests/fixtures/gradio/`` holds what Gradio's own ``CSVLogger`` and ``SimpleCSVLogger``
wrote (``tests/fixtures/make_gradio_fixtures.py``; the Gradio version and every value are
in its ``manifest.json``). For each case:

- **reading**: ``load_flagged`` on Gradio's folder gives back the values ``fn`` returned,
  and the flag option, username and timestamp;
- **writing**: the same values flagged through a real asyncflag ``Interface`` (asyncio and
  trio) give, cell by cell, the cells Gradio wrote.

Every place where the two differ is listed below as an explicit expectation with its
reason (``CELL_DIFFERENCES``, ``READ_DIFFERENCES``); nothing
is skipped silently. A case whose component class ``asyncflag.components`` does not have
yet is skipped with "component not built yet", and runs as soon as the class exists.
``tests/fixtures/gradio/CELLS.md`` is the table of Gradio's cell formats.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from asyncflag import CSVLogger, Interface, SimpleCSVLogger, components, load_flagged
from asyncflag.components import Component, FileComponent

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gradio"
MANIFEST: dict[str, Any] = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
CASES: dict[str, dict[str, Any]] = MANIFEST["cases"]
#: what Gradio writes at the start of every file cell: the flagging_dir it ran with
GRADIO_PREFIX = MANIFEST["flagging_dir"] + "/"
#: Gradio's timestamp cell: ``str(datetime.datetime.now())``, local time without a zone
GRADIO_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
#: asyncflag's timestamp cell: ISO 8601 in UTC
ASYNCFLAG_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")

#: the one-component cases (every case but the layouts)
COMPONENT_CASES = [name for name in CASES if not name.startswith("layout_")]
#: the components whose cell is JSON text: compared as JSON values (Gradio writes
#: ``json.dumps`` with ", " and ": ", asyncflag compact JSON; both read back the same)
JSON_CELLS = {
    "CheckboxGroup",
    "Chatbot",
    "Dataframe",
    "Gallery",
    "HighlightedText",
    "JSON",
    "Label",
}
#: the components whose cell is the path of a saved file
FILE_CELLS = {"Audio", "File", "Image", "Video"}
#: the components whose Gradio cells name saved files (the path, or paths inside JSON)
NAMES_FILES = FILE_CELLS | {"Gallery"}
#: (case, row) -> (Gradio's cell, asyncflag's cell, why they differ)
CELL_DIFFERENCES: dict[tuple[str, int], tuple[str, str, str]] = {
    ("textbox", 6): (
        "'quoted",
        "''quoted",
        "Gradio leaves a leading apostrophe as is, so its cell cannot tell 'quoted from an "
        "escaped quoted; asyncflag doubles it, reversibly",
    ),
    ("textbox", 7): (
        "'a,=b",
        "a,=b",
        "Gradio also escapes ',=' ',+' ',-' ',@' anywhere in the text; a spreadsheet runs "
        "only a cell that starts with a formula character, which is all asyncflag escapes",
    ),
    ("textbox", 9): (
        '{"a": 1}',
        '{"a":1}',
        "Gradio re-dumps text that parses as JSON (its sanitize_value_for_csv), changing "
        "what the user typed; asyncflag writes the text as it is",
    ),
    ("textbox", 10): ("[1, 2]", "[1,2]", "as row 9: Gradio re-dumps JSON-looking text"),
    ("number", 1): (
        "'-3",
        "-3",
        "Gradio json.dumps a number and then escapes the text '-3' like a formula (its "
        "issue 13591); asyncflag writes numbers as numbers, never escaped",
    ),
    ("number", 4): ("'-0.5", "-0.5", "as row 1: Gradio escapes a negative number"),
    ("slider", 2): ("'-1", "-1", "as Number: Gradio escapes a negative number"),
    ("json", 5): (
        "",
        "null",
        "Gradio writes an empty cell for None; asyncflag writes JSON null (both read back None)",
    ),
    ("code", 0): (
        "print('hi')",
        "print('hi')\n",
        "Gradio's Code.postprocess strips the text, losing the trailing newline fn returned; "
        "asyncflag keeps what fn returned",
    ),
}

#: (case, row) -> (the value asyncflag reads from Gradio's cell, why it is not fn's value)
READ_DIFFERENCES: dict[tuple[str, int], tuple[Any, str]] = {
    ("textbox", 6): (
        "quoted",
        "Gradio wrote 'quoted unescaped: its cell is the same as an escaped quoted, which "
        "is how asyncflag reads it (see CELL_DIFFERENCES)",
    ),
    ("textbox", 9): ('{"a": 1}', "Gradio re-dumped the JSON-looking text when writing it"),
    ("textbox", 10): ("[1, 2]", "as row 9"),
    ("code", 0): ("print('hi')", "Gradio stripped the trailing newline when writing it"),
    ("highlightedtext", 1): (
        [("sun", None)],
        "Gradio turned fn's {'text', 'entities'} form into tokens when writing it (its "
        "postprocess); asyncflag does the same at the call",
    ),
    ("label_top1", 0): (
        {"cat": 0.7},
        "num_top_classes=1: Gradio stored the top class only",
    ),
}

# -- helpers ---------------------------------------------------------------------------------


def component_class(kind: str) -> type[Component] | None:
    """The asyncflag component class of a Gradio component name, if asyncflag has it."""
    cls = getattr(components, kind, None)
    if isinstance(cls, type) and issubclass(cls, Component):
        return cls
    return None


def build(case: dict[str, Any]) -> list[Component]:
    """The asyncflag components of a case, with Gradio's parameters; skips the test when
    asyncflag does not have one of them yet."""
    built = []
    for spec in case["components"]:
        cls = component_class(spec["type"])
        if cls is None:
            pytest.skip(f"component not built yet: asyncflag.components has no {spec['type']}")
        built.append(cls(label=spec["label"], **spec["kwargs"]))
    return built


def fn_value(kind: str, value: Any) -> Any:
    """The value ``fn`` returned, from the manifest's JSON form of it."""
    if isinstance(value, dict) and "file" in value:
        return str(FIXTURES / value["file"])
    if isinstance(value, dict) and "array" in value:
        with PILImage.open(FIXTURES / "media" / value["array"]) as image:
            return np.asarray(image)
    if kind == "Gallery":
        return [(str(FIXTURES / path), caption) for path, caption in value]
    if kind == "HighlightedText" and isinstance(value, list):  # JSON made fn's tuples lists
        return [tuple(pair) for pair in value]
    return value


def gradio_records(case_name: str) -> list[list[str]]:
    """The records of a Gradio folder's one dataset file (header first)."""
    simple = CASES[case_name]["logger"] == "SimpleCSVLogger"
    path = FIXTURES / case_name / ("log.csv" if simple else "dataset1.csv")
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def gradio_file(case_name: str, cell: str) -> Path:
    """The file a Gradio file cell names, inside the committed folder of the case."""
    assert cell.startswith(GRADIO_PREFIX), cell
    return FIXTURES / case_name / cell.removeprefix(GRADIO_PREFIX)


def files_as_digests(value: Any, folder: Path, prefix: str) -> Any:
    """A JSON value with each string naming a saved file replaced by the file's digest."""
    if isinstance(value, list):
        return [files_as_digests(item, folder, prefix) for item in value]
    if isinstance(value, dict):
        return {key: files_as_digests(item, folder, prefix) for key, item in value.items()}
    if isinstance(value, str) and value.startswith(prefix) and "/" in value:
        path = folder / value.removeprefix(prefix)
        if path.is_file():
            return "sha256:" + digest(path)
    return value


async def flag_with_asyncflag(case: dict[str, Any], flagging_dir: Path) -> list[list[str]]:
    """Flag the case's rows through a real Interface; the records asyncflag wrote."""
    built = build(case)
    kinds = [spec["type"] for spec in case["components"]]
    interface = Interface(lambda *values: None, built, [], flagging_dir=flagging_dir)
    async with interface:
        for row in case["rows"]:
            values = [fn_value(kind, v) for kind, v in zip(kinds, row["values"], strict=True)]
            await interface.flag(values, row["flag_option"], row["username"])
    with (flagging_dir / "dataset1.csv").open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


# -- the layouts -----------------------------------------------------------------------------


def test_fixtures_were_made_by_gradio_6() -> None:
    assert MANIFEST["gradio_version"].split(".")[0] == "6"
    assert gradio_records("layout_options_login")[0] == [
        "text",
        "number",
        "flag",
        "username",
        "timestamp",
    ]


def test_reads_gradio_csvlogger_with_option_and_login() -> None:
    rows = load_flagged(FIXTURES / "layout_options_login", ["text", "number"])
    assert [row.values for row in rows] == [("first", 1), ("second", 2.5)]
    assert [row.labels for row in rows] == [("text", "number")] * 2
    assert {(row.flag, row.username) for row in rows} == {("wrong", "alice")}
    for row, record in zip(rows, gradio_records("layout_options_login")[1:], strict=True):
        assert row.timestamp == datetime.fromisoformat(record[-1])  # local time, no zone


@pytest.mark.parametrize(
    ("case_name", "metadata"),
    [
        ("layout_default", ["timestamp"]),
        ("layout_options", ["flag", "timestamp"]),
        ("layout_options_login", ["flag", "username", "timestamp"]),
    ],
)
def test_gradio_csvlogger_writes_flag_and_username_columns_only_when_given(
    case_name: str, metadata: list[str]
) -> None:
    """Gradio 6 writes the flag and username columns only when the first flag has them."""
    header, *rows = gradio_records(case_name)
    assert header == ["text", "number", *metadata]
    assert [row[:2] for row in rows] == [["first", "1"], ["second", "2.5"]]
    assert all(GRADIO_TIMESTAMP.match(row[-1]) for row in rows)


@pytest.mark.parametrize("case_name", ["layout_default", "layout_options"])
def test_reads_gradio_csvlogger_without_all_metadata_columns(case_name: str) -> None:
    """Issue 15: the trailing columns are read from the header (Gradio writes flag and
    username only when the first flag had them)."""
    rows = load_flagged(FIXTURES / case_name, ["text", "number"])
    assert [row.values for row in rows] == [("first", 1), ("second", 2.5)]
    option = CASES[case_name]["rows"][0]["flag_option"]
    assert [(row.flag, row.username) for row in rows] == [(option, None)] * 2
    for row, record in zip(rows, gradio_records(case_name)[1:], strict=True):
        assert row.timestamp == datetime.fromisoformat(record[-1])
        assert row.timestamp_naive


def test_gradio_simplecsvlogger_writes_values_only() -> None:
    """No header, and neither the flag option, the username nor a timestamp."""
    assert gradio_records("layout_simple") == [["first", "1"], ["second", "2.5"]]


def test_reads_gradio_simplecsvlogger() -> None:
    """Issue 15: a log.csv of values alone (one cell per component) is read as such."""
    rows = load_flagged(FIXTURES / "layout_simple", ["text", "number"])
    assert [row.values for row in rows] == [("first", 1), ("second", 2.5)]
    assert [(row.flag, row.username, row.timestamp) for row in rows] == [(None, None, None)] * 2
    # without components: the values alone too (the last cell is no timestamp)
    assert [row.values for row in load_flagged(FIXTURES / "layout_simple")] == [
        ("first", "1"),
        ("second", "2.5"),
    ]


# -- every component: reading Gradio's cells -------------------------------------------------


@pytest.mark.parametrize("case_name", COMPONENT_CASES)
def test_load_flagged_reads_what_gradio_flagged(case_name: str) -> None:
    """Every case, file cells included (issue 15: Gradio's file cells start with the
    flagging_dir of the Gradio app; they are read below the folder given)."""
    case = CASES[case_name]
    kind = case["components"][0]["type"]
    built = build(case)
    if kind in ("Image", "Audio"):  # read as paths (their default type decodes the file)
        built = [type(built[0])(label=built[0].label, type="filepath")]
    rows = load_flagged(FIXTURES / case_name, built)
    assert len(rows) == len(case["rows"])
    for number, (row, flagged) in enumerate(zip(rows, case["rows"], strict=True)):
        assert (row.flag, row.username) == (flagged["flag_option"], flagged["username"])
        assert row.timestamp is not None
        expected = flagged["values"][0]
        if (case_name, number) in READ_DIFFERENCES:
            expected = READ_DIFFERENCES[case_name, number][0]
        (value,) = row.values
        if kind in NAMES_FILES:  # the saved files, found inside the folder read
            paths = [value] if kind != "Gallery" else [image for image, _ in value]
            assert all(Path(p).is_relative_to(FIXTURES / case_name) for p in paths)
        if isinstance(built[0], FileComponent) and "array" in expected:
            with PILImage.open(value) as image:  # Gradio saved fn's array as WebP
                assert image.size == (2, 2)
        elif isinstance(built[0], FileComponent):
            assert Path(value).read_bytes() == Path(fn_value(kind, expected)).read_bytes()
        elif kind == "Gallery":  # (image, caption) pairs: the images compared by content
            assert [(digest(Path(image)), caption) for image, caption in value] == [
                (digest(Path(image)), caption) for image, caption in fn_value(kind, expected)
            ]
        elif kind == "HighlightedText":  # (token, class) tuples, as fn returned them
            assert value == fn_value(kind, expected), f"row {number}"
        elif kind == "Dataframe":  # a pandas DataFrame (type="pandas"), read with its dtypes
            assert [list(value.columns), value.to_numpy().tolist()] == [
                expected["headers"],
                expected["data"],
            ], f"row {number}"
        else:
            assert value == expected, f"row {number}"


def test_gradio_saved_its_files_under_the_component_folder() -> None:
    """The files of Gradio's folders are there: the xfails above are about the cells."""
    for name in COMPONENT_CASES:
        kind = CASES[name]["components"][0]["type"]
        if kind not in FILE_CELLS:
            continue
        label = CASES[name]["components"][0]["label"]
        for record, row in zip(gradio_records(name)[1:], CASES[name]["rows"], strict=True):
            assert re.fullmatch(
                rf"{re.escape(GRADIO_PREFIX + label)}/[0-9a-f]{{20}}/[^/]+", record[0]
            )
            saved = gradio_file(name, record[0])
            if "file" in row["values"][0]:
                assert digest(saved) == digest(FIXTURES / row["values"][0]["file"])
            else:  # an array fn returned: Gradio's Image saves it as WebP (format="webp")
                assert saved.suffix == ".webp"


@pytest.mark.anyio
async def test_gallery_cells_differ_only_in_where_the_images_are(tmp_path: Path) -> None:
    """The listed difference of the Gallery cell: the same JSON list of
    ``{"image", "caption"}``, but Gradio's paths start with its flagging_dir and keep the
    name fn gave under a random folder, asyncflag's are relative to the flagging directory
    and named by content (as for Image; issue 15 for reading Gradio's)."""
    case = CASES["gallery"]
    (ours,) = [json.loads(record[0]) for record in (await flag_with_asyncflag(case, tmp_path))[1:]]
    (theirs,) = [json.loads(record[0]) for record in gradio_records("gallery")[1:]]
    assert [item["caption"] for item in ours] == [item["caption"] for item in theirs]
    for mine, gradios in zip(ours, theirs, strict=True):
        assert re.fullmatch(
            rf"{re.escape(GRADIO_PREFIX)}gallery/[0-9a-f]{{20}}/tiny\.png", gradios["image"]
        )
        assert re.fullmatch(r"gallery/[0-9a-f]{40}\.png", mine["image"])
        assert digest(tmp_path / mine["image"]) == digest(gradio_file("gallery", gradios["image"]))


# -- every folder: continued by asyncflag (issue 15) ----------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("case_name", list(CASES))
async def test_asyncflag_continues_each_gradio_folder(case_name: str, tmp_path: Path) -> None:
    """The first row of the case flagged again through an Interface into a copy of
    Gradio's folder: appended to Gradio's file (the count goes on from Gradio's rows, no
    column its header lacks), and every row, Gradio's and asyncflag's, reads back."""
    case = CASES[case_name]
    folder = tmp_path / case_name
    shutil.copytree(FIXTURES / case_name, folder)
    simple = case["logger"] == "SimpleCSVLogger"
    name = "log.csv" if simple else "dataset1.csv"
    before = gradio_records(case_name)
    built = build(case)
    kinds = [spec["type"] for spec in case["components"]]
    row = case["rows"][0]
    values = [fn_value(kind, v) for kind, v in zip(kinds, row["values"], strict=True)]
    callback = SimpleCSVLogger() if simple else CSVLogger()
    iface = Interface(lambda *v: None, built, [], flagging_dir=folder, flagging_callback=callback)
    async with iface:
        count = await iface.flag(values, row["flag_option"], row["username"])
    assert count == len(before) - (0 if simple else 1) + 1
    assert sorted(p.name for p in folder.glob("*.csv")) == [name]
    with (folder / name).open(newline="", encoding="utf-8") as file:
        after = list(csv.reader(file))
    assert after[: len(before)] == before
    if not simple:
        assert len(after[-1]) == len(before[0])  # Gradio's columns, no more
    read = load_flagged(folder, built)
    assert len(read) == len(case["rows"]) + 1
    assert (read[-1].flag, read[-1].username) == (row["flag_option"], row["username"])
    assert read[-1].timestamp is not None and not read[-1].timestamp_naive  # UTC
    if simple:  # Gradio's values-only rows have no timestamp
        assert all(r.timestamp is None for r in read[:-1])
    else:  # Gradio's local time, without a zone
        assert all(r.timestamp is not None and r.timestamp_naive for r in read[:-1])


# -- every component: writing the same cells -------------------------------------------------


def cells_match(
    spec: dict[str, Any], case_name: str, gradio: str, ours: str, ours_dir: Path
) -> bool:
    """Whether asyncflag's cell is Gradio's: the same text, or for a JSON cell (a
    multiselect Dropdown's too) the same JSON value, files compared by their content."""
    if spec["type"] in JSON_CELLS or spec["kwargs"].get("multiselect"):
        if gradio == ours:
            return True
        if gradio[:1] in "[{" and ours[:1] in "[{":
            return bool(
                files_as_digests(json.loads(gradio), FIXTURES / case_name, GRADIO_PREFIX)
                == files_as_digests(json.loads(ours), ours_dir, "")
            )
        return False
    return gradio == ours


@pytest.mark.anyio
@pytest.mark.parametrize("case_name", COMPONENT_CASES)
async def test_asyncflag_writes_the_cells_gradio_wrote(case_name: str, tmp_path: Path) -> None:
    case = CASES[case_name]
    spec = case["components"][0]
    kind, label = spec["type"], spec["label"]
    ours = await flag_with_asyncflag(case, tmp_path)
    theirs = gradio_records(case_name)
    # the header: the same label; a file asyncflag starts has all three metadata columns
    assert theirs[0] == [label, "flag", "username", "timestamp"]
    assert ours[0] == theirs[0]
    assert len(ours) == len(theirs)
    for number, (our, their) in enumerate(zip(ours[1:], theirs[1:], strict=True)):
        assert our[1:3] == their[1:3] == ["wrong", "alice"]
        assert GRADIO_TIMESTAMP.match(their[3]) and ASYNCFLAG_TIMESTAMP.match(our[3])
        if (case_name, number) in CELL_DIFFERENCES:
            gradio_cell, our_cell, _ = CELL_DIFFERENCES[case_name, number]
            assert (their[0], our[0]) == (gradio_cell, our_cell), f"row {number}"
        elif kind in FILE_CELLS:
            # Gradio: <flagging_dir>/<label>/<20 hex>/<name fn gave>; asyncflag:
            # <label>/<sha-256 prefix><suffix of the content>, relative to the folder
            assert re.fullmatch(rf"{re.escape(label)}/[0-9a-f]{{40}}\.\w+", our[0])
            mine, gradios = tmp_path / our[0], gradio_file(case_name, their[0])
            if gradios.suffix == ".webp":  # an array: Gradio saves WebP, asyncflag PNG
                assert mine.suffix == ".png"
                with PILImage.open(mine) as image:
                    assert image.size == (2, 2)
            else:
                assert mine.read_bytes() == gradios.read_bytes(), f"row {number}"
        else:
            assert cells_match(spec, case_name, their[0], our[0], tmp_path), (
                f"row {number}: Gradio wrote {their[0]!r}, asyncflag {our[0]!r}"
            )


@pytest.mark.parametrize("key", sorted(CELL_DIFFERENCES))
def test_each_listed_difference_names_a_real_gradio_cell(key: tuple[str, int]) -> None:
    """A listed difference is what Gradio really wrote (so the list cannot go stale)."""
    case_name, number = key
    assert gradio_records(case_name)[number + 1][0] == CELL_DIFFERENCES[key][0]
