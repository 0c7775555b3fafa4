"""Components: what each accepts, how a value becomes a cell and how the cell becomes it again."""

from __future__ import annotations

import csv
import io
import math
import re
import struct
import sys
import wave
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from asyncflag import FileData, FlaggingError, FlagValueError, Interface, components, load_flagged
from asyncflag.components import Component, component_from
from asyncflag.errors import UnsafePathError

HERE = Path(".")


def through_csv(component: Component, value: Any, flagging_dir: Path = HERE) -> Any:
    """check -> to_cell -> a real CSV line -> from_cell, as the writer and load_flagged do."""
    cell = component.to_cell(component.check(value))
    buffer = io.StringIO()
    csv.writer(buffer).writerow([cell, "end"])
    (read, end) = next(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert end == "end"
    return component.from_cell(read, flagging_dir)


def assert_rejected(component: Component, value: Any, match: str | None = None) -> None:
    with pytest.raises(FlagValueError, match=match) as info:
        component.check(value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, FlaggingError)
    assert isinstance(info.value, RuntimeError)


# -- shortcuts and labels ----------------------------------------------------------------

SHORTCUTS = {
    "text": components.Textbox,
    "textbox": components.Textbox,
    "number": components.Number,
    "checkbox": components.Checkbox,
    "dropdown": components.Dropdown,
    "json": components.JSON,
    "image": components.Image,
    "audio": components.Audio,
    "file": components.File,
}


@pytest.mark.parametrize(("shortcut", "cls"), SHORTCUTS.items())
def test_shortcut_strings(shortcut: str, cls: type[Component]) -> None:
    component = component_from(shortcut)
    assert type(component) is cls
    assert component.label is None
    assert type(component_from(shortcut.upper())) is cls
    # each call makes a new component: labelling one never relabels another
    assert component_from(shortcut) is not component


def test_component_from_passes_components_through() -> None:
    number = components.Number(label="n")
    assert component_from(number) is number


@pytest.mark.parametrize("bad", ["knob", "", "texts", "img"])
def test_unknown_shortcut(bad: str) -> None:
    with pytest.raises(FlagValueError, match="unknown component shortcut") as info:
        component_from(bad)
    assert isinstance(info.value, ValueError) and isinstance(info.value, FlaggingError)
    assert "'text'" in str(info.value)  # the message lists the valid shortcuts


@pytest.mark.parametrize("bad", [3, None, components.Textbox, ["text"]])
def test_component_from_rejects_other_objects(bad: Any) -> None:
    with pytest.raises(FlagValueError, match="expected a component or a shortcut"):
        component_from(bad)


def test_interface_accepts_shortcuts() -> None:
    iface = Interface(lambda a, b, c: (a, b), ["text", "number", "image"], ["json", "audio"])
    assert [type(c) for c in iface.components] == [
        components.Textbox,
        components.Number,
        components.Image,
        components.JSON,
        components.Audio,
    ]
    assert [c.label for c in iface.components] == ["a", "b", "c", "output 0", "output 1"]
    with pytest.raises(FlagValueError, match="unknown component shortcut"):
        Interface(lambda a: a, "knob", "text")


@pytest.mark.parametrize("bad", [3, b"label", ["a"]])
def test_label_must_be_a_string(bad: Any) -> None:
    with pytest.raises(FlagValueError, match="label must be a string"):
        components.Textbox(label=bad)


# -- Textbox ---------------------------------------------------------------------------


def test_textbox_check() -> None:
    box = components.Textbox(label="t")
    assert box.check("hi") == "hi"
    assert box.check("") == ""
    assert box.check(None) == ""
    for bad in (3, 2.5, True, b"bytes", ["x"]):
        assert_rejected(box, bad, "Textbox 't' stores a string")


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("plain", "plain"),
        ("", ""),
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-3", "'-3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'quoted", "''quoted"),
        ("a=b", "a=b"),
        (" =x", " =x"),
    ],
)
def test_textbox_cells(text: str, cell: str) -> None:
    box = components.Textbox(label="t")
    assert box.to_cell(text) == cell
    assert box.to_cells([text, "ok"]) == [cell, "ok"]
    assert box.from_cell(cell, HERE) == text
    assert through_csv(box, text) == text


@pytest.mark.parametrize(
    "text", ["multi\nline", 'say "hi", then go', "\x00nul", "日本語 ✓", "\r\n"]
)
def test_textbox_round_trip(text: str) -> None:
    assert through_csv(components.Textbox(label="t"), text) == text


def test_textbox_max_length() -> None:
    box = components.Textbox(label="t", max_length=5)
    assert box.check("12345") == "12345"
    assert_rejected(box, "123456", "6 characters is over the limit of 5")
    bad: Any
    for bad in (0, -1, 2.5, "5"):
        with pytest.raises(FlagValueError, match="max_length must be a positive int"):
            components.Textbox(max_length=bad)


def test_textbox_rejects_text_that_cannot_be_written() -> None:
    assert_rejected(components.Textbox(label="t"), "bad \ud800 surrogate")


# -- Number ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [0, 7, -3, -(10**30), 10**30, 2.5, -0.125, -1e-300, 1e300, 3.0, float("inf")]
)
def test_number_round_trip(value: float) -> None:
    number = components.Number(label="n")
    cell = number.to_cell(number.check(value))
    assert cell == value and type(cell) is type(value)  # written as a number, never escaped
    back = through_csv(number, value)
    assert back == value and type(back) is type(value)


def test_negative_numbers_are_not_escaped() -> None:
    number = components.Number(label="n")
    buffer = io.StringIO()
    csv.writer(buffer).writerow(number.to_cells([-3, -2.5, None, 4]))
    assert buffer.getvalue() == "-3,-2.5,,4\r\n"


def test_number_none() -> None:
    number = components.Number(label="n")
    assert number.check(None) is None
    assert number.to_cell(None) == ""
    assert number.from_cell("", HERE) is None
    assert through_csv(number, None) is None


def test_number_nan_reads_back_as_nan() -> None:
    assert math.isnan(through_csv(components.Number(label="n"), float("nan")))


@pytest.mark.parametrize(
    ("value", "expected", "kind"),
    [
        (np.int8(-5), -5, int),
        (np.int64(2**40), 2**40, int),
        (np.uint16(65535), 65535, int),
        (np.float16(0.5), 0.5, float),
        (np.float32(-0.25), -0.25, float),
        (np.float64(1.1), 1.1, float),
        (Decimal("2.5"), 2.5, float),
    ],
)
def test_number_accepts_numeric_scalars(value: Any, expected: float, kind: type) -> None:
    number = components.Number(label="n")
    checked = number.check(value)
    assert checked == expected and isinstance(checked, kind)
    back = through_csv(number, value)
    assert back == expected and type(back) is kind


@pytest.mark.parametrize("bad", [True, False, "3", "-3", b"3", [3], {"n": 1}, 1j, object()])
def test_number_rejects(bad: Any) -> None:
    assert_rejected(components.Number(label="n"), bad, "Number 'n' stores an int or a float")


def test_number_rejects_numpy_booleans() -> None:
    assert_rejected(components.Number(label="n"), np.bool_(True))


# -- Checkbox --------------------------------------------------------------------------


def test_checkbox() -> None:
    box = components.Checkbox(label="c")
    assert box.check(True) is True
    assert box.check(False) is False
    assert box.check(None) is None
    assert box.check(np.bool_(True)) is True
    assert box.check(np.bool_(False)) is False
    # issue 15: written as Gradio 5/6 write it; older asyncflag's True/False read too
    assert [box.to_cell(v) for v in (True, False, None)] == ["true", "false", ""]
    assert box.to_cells([True, False, None]) == ["true", "false", ""]
    assert box.from_cell("True", HERE) is True
    assert box.from_cell("False", HERE) is False
    assert box.from_cell("false", HERE) is False
    assert box.from_cell("true", HERE) is True
    assert box.from_cell("", HERE) is None
    for bad in ("yes", "1", "tru"):
        with pytest.raises(FlagValueError, match="is not a boolean"):
            box.from_cell(bad, HERE)
    for value in (True, False, None):
        assert through_csv(box, value) is value


@pytest.mark.parametrize("bad", [1, 0, 1.0, "True", "", [True], np.int64(1)])
def test_checkbox_rejects(bad: Any) -> None:
    assert_rejected(components.Checkbox(label="c"), bad, "Checkbox 'c' stores a bool")


# -- Dropdown --------------------------------------------------------------------------


def test_dropdown_single() -> None:
    drop = components.Dropdown(["add", ("Subtract", "sub"), 3, 2.5, "-neg"], label="op")
    assert drop.choices == [
        ("add", "add"),
        ("Subtract", "sub"),
        ("3", 3),
        ("2.5", 2.5),
        ("-neg", "-neg"),
    ]
    for value in ("add", "sub", 3, 2.5, "-neg"):
        assert drop.check(value) == value
        back = through_csv(drop, value)
        assert back == value and type(back) is type(value)
    assert drop.to_cell("-neg") == "'-neg"
    assert drop.check(None) is None
    assert through_csv(drop, None) is None
    assert drop.config() == {
        "type": "dropdown",
        "label": "op",
        "choices": [["add", "add"], ["Subtract", "sub"], ["3", 3], ["2.5", 2.5], ["-neg", "-neg"]],
        "multiselect": False,
    }


@pytest.mark.parametrize("bad", ["Subtract", "ADD", "4", 4, "3"])
def test_dropdown_rejects_a_value_that_is_not_a_choice(bad: Any) -> None:
    # a choice's label is not its value, and "3" is not the number 3
    drop = components.Dropdown(["add", ("Subtract", "sub"), 3], label="op")
    assert_rejected(drop, bad, "is not one of the choices")


@pytest.mark.parametrize("bad", [True, ["add"], b"add", object()])
def test_dropdown_rejects_other_types(bad: Any) -> None:
    drop = components.Dropdown(["add"], label="op")
    assert_rejected(drop, bad, "stores a string or a number")


def test_dropdown_custom_values() -> None:
    free = components.Dropdown(label="free")
    assert free.allow_custom_value
    assert free.check("anything") == "anything"
    assert through_csv(free, "=anything") == "=anything"
    custom = components.Dropdown(["a"], label="c", allow_custom_value=True)
    assert custom.check("b") == "b"
    assert through_csv(custom, "b") == "b"


def test_dropdown_multiselect() -> None:
    drop = components.Dropdown(["a", ("Bee", "b"), "-c", 4], label="m", multiselect=True)
    assert drop.check(("a", "-c")) == ["a", "-c"]
    assert drop.check(None) == []
    assert drop.check([]) == []
    for value in (["a", "-c"], ["b", 4], [], ["a", "a"]):
        assert through_csv(drop, value) == value
    assert through_csv(drop, None) == []
    assert_rejected(drop, "a", "list of choices")
    assert_rejected(drop, 4, "list of choices")
    assert_rejected(drop, ["z"], "'z' is not one of the choices")
    assert_rejected(drop, ["Bee"], "not one of the choices")
    assert_rejected(drop, ["a", True], "stores a string or a number")


def test_dropdown_number_equal_to_a_choice_reads_back_as_that_choice() -> None:
    drop = components.Dropdown([1, 2], label="d")
    assert through_csv(drop, 1.0) == 1


def test_dropdown_custom_number_reads_back_as_stored() -> None:
    back = through_csv(components.Dropdown(label="free"), 3)
    assert back == 3 and type(back) is int


# -- JSON ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, -2.5, None]},
        [1, "=x", "-y", "@z"],
        -5,
        -0.5,
        10**30,
        "text",
        "-text",
        "",
        None,
        True,
        False,
        [],
        {},
        {"nested": {"k": ["v", {"deep": [True, None]}]}},
        {'quote"d, and\nnewline': "'apostrophe"},
    ],
)
def test_json_round_trip(value: Any) -> None:
    box = components.JSON(label="j")
    cell = box.to_cell(box.check(value))
    assert isinstance(cell, str)
    assert box.from_cell(cell, HERE) == value
    back = through_csv(box, value)
    assert back == value and type(back) is type(value)


def test_json_negative_number_cell_is_escaped_and_reads_back() -> None:
    box = components.JSON(label="j")
    assert box.to_cell(-3) == "'-3"
    assert box.from_cell("'-3", HERE) == -3


def test_json_tuples_become_lists() -> None:
    box = components.JSON(label="j")
    assert box.check((1, (2, 3))) == [1, [2, 3]]
    assert through_csv(box, {"t": (1, "a")}) == {"t": [1, "a"]}


@pytest.mark.parametrize(
    "value",
    [
        object(),
        {1: "int key"},
        {None: 1},
        {(1, 2): 1},
        float("nan"),
        float("inf"),
        -float("inf"),
        [1, float("nan")],
        {"x": {1, 2}},
        {1, 2},
        b"bytes",
        1j,
        Decimal("1.5"),
    ],
)
def test_json_rejects_what_it_cannot_store(value: Any) -> None:
    assert_rejected(components.JSON(label="j"), value, "JSON 'j' cannot store")


def test_json_max_size() -> None:
    box = components.JSON(label="j", max_size=10)
    assert box.check([1, 2]) == [1, 2]
    assert box.check("12345678") == "12345678"  # 10 bytes with the quotes
    assert_rejected(box, "123456789", "11 bytes is over the limit of 10")
    assert_rejected(box, {"long": "value"}, "over the limit of 10")
    with pytest.raises(FlagValueError, match="max_size must be a positive int"):
        components.JSON(max_size=0)


def test_json_rejects_text_that_cannot_be_written() -> None:
    assert_rejected(components.JSON(label="j"), {"k": "\ud800"})


def nested(depth: int, inner: Any = 1, kind: str = "list") -> Any:
    """``inner`` inside ``depth`` lists (or objects), built without recursion."""
    value = inner
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


@pytest.mark.parametrize("kind", ["list", "object"])
def test_json_nesting_is_limited_by_max_json_depth(kind: str) -> None:
    box = components.JSON(label="j")
    limit = components.MAX_JSON_DEPTH
    assert box.check(nested(limit, kind=kind)) == nested(limit, kind=kind)
    assert through_csv(box, nested(limit, kind=kind)) == nested(limit, kind=kind)
    assert_rejected(box, nested(limit + 1, kind=kind), f"more than {limit} deep")
    assert_rejected(box, nested(100_000, kind=kind), "MAX_JSON_DEPTH")  # not RecursionError


def test_a_value_containing_itself_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    assert_rejected(components.JSON(label="j"), loop, "deep")
    assert_rejected(components.JSON(label="j"), cyclic, "deep")


@pytest.mark.parametrize(
    "component",
    [
        components.Textbox(label="t"),
        components.Number(label="n"),
        components.Checkbox(label="c"),
        components.Dropdown(["a"], label="d"),
        components.Dropdown(label="m", multiselect=True),
        components.File(label="f"),
        components.Image(label="i"),
        components.Audio(label="a"),
    ],
)
def test_deep_values_are_refused_with_a_short_message(component: Component) -> None:
    """The error message shows a few levels of the value, never a RecursionError."""
    for value in (nested(100_000), [nested(100_000)]):
        with pytest.raises(FlagValueError) as info:
            component.check(value)
        assert len(str(info.value)) < 300


def test_a_dropdown_of_many_choices_shows_a_few_in_its_error() -> None:
    drop = components.Dropdown([f"choice {i}" for i in range(10_000)], label="d")
    shown = r"choices \['choice 0', .*, 'choice 19'\] and 9980 more$"
    with pytest.raises(FlagValueError, match=shown) as info:
        drop.check("none of them")
    assert len(str(info.value)) < 500


@pytest.mark.anyio
async def test_deep_values_at_flag_and_submit_raise_flag_value_error(tmp_path: Path) -> None:
    iface = Interface(lambda x: x, components.JSON(label="in"), "json", flagging_dir=tmp_path)
    async with iface:
        with pytest.raises(FlagValueError, match="MAX_JSON_DEPTH"):
            await iface.submit(nested(100_000))
        with pytest.raises(FlagValueError, match="MAX_JSON_DEPTH"):
            await iface.flag([nested(100_000), 1])
        with pytest.raises(FlagValueError, match="MAX_JSON_DEPTH"):
            await iface.flag([1, nested(components.MAX_JSON_DEPTH + 1, kind="object")])
        assert await iface.flag([nested(components.MAX_JSON_DEPTH), 1]) == 1


# -- file components -------------------------------------------------------------------

FILE_CLASSES = [components.File, components.Image, components.Audio]


def image_bytes(kind: str = "PNG", size: tuple[int, int] = (3, 2)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, (10, 20, 30)).save(buffer, format=kind)
    return buffer.getvalue()


PNG = image_bytes()
#: content each file component accepts as it is
CONTENT = {components.File: b"abc", components.Audio: b"abc", components.Image: PNG}


@pytest.mark.parametrize("cls", FILE_CLASSES)
def test_file_components_accept_bytes(cls: type[components.FileComponent]) -> None:
    component = cls(label="f")
    content = CONTENT[cls]
    assert component.check(content) == content
    assert component.check(bytearray(content)) == content
    assert type(component.check(bytearray(content))) is bytes
    assert component.check(memoryview(content)) == content
    assert component.check(None) is None
    if cls is not components.Image:  # an empty file is no image
        assert component.check(b"") == b""
        assert component.payload(b"plain") == (b"plain", cls.default_suffix)


@pytest.mark.parametrize("cls", FILE_CLASSES)
def test_file_components_accept_existing_paths(
    tmp_path: Path, cls: type[components.FileComponent]
) -> None:
    source = tmp_path / "report.pdf"
    source.write_bytes(b"%PDF-1.4 data" if cls is not components.Image else PNG)
    component = cls(label="f")
    expected = source.absolute()
    assert component.check(str(source)) == expected
    assert component.check(source) == expected
    assert component.check({"path": str(source)}) == expected  # Gradio's file data
    assert component.check({"path": source, "orig_name": "x.pdf", "size": 13}) == expected
    # File keeps the name's suffix; Image and Audio take theirs from the content
    suffix = {components.File: ".pdf", components.Image: ".png", components.Audio: ".bin"}[cls]
    assert component.payload(expected) == (expected, suffix)


def test_relative_paths_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "rel.txt").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    checked = components.File(label="f").check("rel.txt")
    assert checked == tmp_path.absolute() / "rel.txt" and checked.is_absolute()


@pytest.mark.parametrize("cls", [components.File])
def test_file_components_accept_file_data(cls: type[components.FileComponent]) -> None:
    component = cls(label="f")
    data = FileData(b"hello", "notes.TXT")
    assert component.check(data) is data
    assert component.payload(data) == (b"hello", ".txt")
    # no usable suffix in the name: sniffed from the bytes, else the default
    assert component.payload(FileData(b"GIF89a...", "noext")) == (b"GIF89a...", ".gif")
    assert component.payload(FileData(b"???", "../evil")) == (b"???", cls.default_suffix)
    assert component.payload(FileData(b"???", "x.a/b")) == (b"???", cls.default_suffix)


@pytest.mark.parametrize(
    ("data", "suffix"),
    [
        (b"\x89PNG\r\n\x1a\nrest", ".png"),
        (b"\xff\xd8\xff\xe0rest", ".jpg"),
        (b"GIF87a", ".gif"),
        (b"%PDF-1.7", ".pdf"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", ".wav"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", ".webp"),
        (b"fLaC", ".flac"),
        (b"OggS", ".ogg"),
        (b"ID3", ".mp3"),
    ],
)
def test_payload_suffix_is_sniffed_from_the_bytes(data: bytes, suffix: str) -> None:
    assert components.File(label="f").payload(data) == (data, suffix)


@pytest.mark.parametrize("cls", FILE_CLASSES)
def test_missing_and_non_file_paths_are_rejected(
    tmp_path: Path, cls: type[components.FileComponent]
) -> None:
    component = cls(label="f")
    missing = tmp_path / "missing.txt"
    assert_rejected(component, str(missing), "cannot read")
    assert_rejected(component, missing, "cannot read")
    assert_rejected(component, {"path": str(missing)}, "cannot read")
    assert_rejected(component, tmp_path, "is not a file")
    assert_rejected(component, "", "is not a file")  # the current directory


@pytest.mark.parametrize("cls", FILE_CLASSES)
def test_a_path_with_a_nul_byte_is_a_flag_value_error(cls: type[components.FileComponent]) -> None:
    assert_rejected(cls(label="f"), "upload\x00.png")


@pytest.mark.parametrize("cls", FILE_CLASSES)
@pytest.mark.parametrize("bad", [12, 2.5, True, ["a"], {"name": "x"}, object()])
def test_file_components_reject_other_values(cls: type[components.FileComponent], bad: Any) -> None:
    assert_rejected(cls(label="f"), bad, "stores bytes")


@pytest.mark.parametrize("cls", FILE_CLASSES)
def test_file_max_size(tmp_path: Path, cls: type[components.FileComponent]) -> None:
    size = 4 if cls is not components.Image else len(PNG)
    fits = b"1234" if cls is not components.Image else PNG
    component = cls(label="f", max_size=size)
    assert component.check(fits) == fits
    over = f"{size + 1} bytes is over the limit of {size} bytes"
    assert_rejected(component, fits + b"5", over)
    assert_rejected(component, FileData(fits + b"5", "a.txt"), over)
    big = tmp_path / "big.bin"
    big.write_bytes(fits + b"56")
    small = tmp_path / "small.bin"
    small.write_bytes(fits)
    assert_rejected(component, big, f"{size + 2} bytes is over the limit of {size} bytes")
    assert component.check(small) == small.absolute()
    bad: Any
    for bad in (0, -1, 2.5):
        with pytest.raises(FlagValueError, match="max_size must be a positive int"):
            cls(max_size=bad)


def test_file_cells() -> None:
    file = components.File(label="f")
    assert file.to_cell("f/abc.bin") == "f/abc.bin"
    assert file.to_cell("-f/abc.bin") == "'-f/abc.bin"
    assert file.to_cell(None) == ""


def test_file_cell_reads_back_as_an_absolute_path(tmp_path: Path) -> None:
    file = components.File(label="f")
    back = file.from_cell("f/abc.bin", tmp_path)
    assert back == str(tmp_path.absolute() / "f" / "abc.bin")
    assert Path(back).is_absolute()
    assert file.from_cell("'-f/abc.bin", tmp_path) == str(tmp_path.absolute() / "-f" / "abc.bin")
    assert file.from_cell("", tmp_path) is None


def decode_png(data: bytes) -> np.ndarray:
    with PILImage.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return np.asarray(image)


def test_image_accepts_pil_images() -> None:
    image = components.Image(label="i")
    picture = PILImage.new("RGB", (4, 3), (10, 20, 30))
    assert image.check(picture) is picture
    data, suffix = image.payload(picture)
    assert suffix == ".png" and isinstance(data, bytes)
    pixels = decode_png(data)
    assert pixels.shape == (3, 4, 3)
    assert (pixels == [10, 20, 30]).all()
    # the same picture encodes to the same bytes, so it can be stored once
    assert image.payload(PILImage.new("RGB", (4, 3), (10, 20, 30)))[0] == data


@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.uint8).reshape(2, 4, 3),
        np.arange(12, dtype=np.uint8).reshape(3, 4),
        np.full((2, 2, 4), 200, dtype=np.uint8),
    ],
)
def test_image_accepts_numpy_arrays(array: np.ndarray) -> None:
    image = components.Image(label="i")
    checked = image.check(array)
    data, suffix = image.payload(checked)
    assert suffix == ".png" and isinstance(data, bytes)
    assert np.array_equal(decode_png(data), array)


@pytest.mark.parametrize("bad", [[[0, 0]], (1, 2), np.int64(3)])
def test_image_rejects_other_values(bad: Any) -> None:
    assert_rejected(components.Image(label="i"), bad, "PIL image or a numpy array")


def test_image_float_arrays_are_refused_at_the_call_or_saved() -> None:
    image = components.Image(label="i")
    array = np.linspace(0, 1, 16, dtype=np.float64).reshape(4, 4)
    try:
        value = image.check(array)
    except FlagValueError:
        return
    image.payload(value)


def read_wav(data: bytes | Path) -> tuple[int, int, int, bytes]:
    assert isinstance(data, bytes)
    with wave.open(io.BytesIO(data), "rb") as wav:
        return (
            wav.getframerate(),
            wav.getnchannels(),
            wav.getsampwidth(),
            wav.readframes(wav.getnframes()),
        )


def test_audio_accepts_rate_and_int16_samples() -> None:
    audio = components.Audio(label="a")
    samples = np.array([0, 1000, -1000, 32767, -32768], dtype=np.int16)
    value = audio.check((8000, samples))
    data, suffix = audio.payload(value)
    assert suffix == ".wav" and isinstance(data, bytes)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert read_wav(data) == (8000, 1, 2, samples.astype("<i2").tobytes())
    assert audio.payload(data) == (data, ".wav")  # bytes of a WAV are recognised


def test_audio_float_samples_are_scaled_and_clipped() -> None:
    audio = components.Audio(label="a")
    samples = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0], dtype=np.float32)
    rate, channels, _, frames = read_wav(audio.payload(audio.check((22050, samples)))[0])
    assert (rate, channels) == (22050, 1)
    decoded = np.frombuffer(frames, dtype="<i2")
    assert decoded.tolist() == [0, 16383, -16383, 32767, -32767, 32767, -32767]


def test_audio_stereo() -> None:
    audio = components.Audio(label="a")
    samples = np.array([[1, -1], [2, -2], [3, -3]], dtype=np.int16)
    rate, channels, width, frames = read_wav(audio.payload(audio.check((44100, samples)))[0])
    assert (rate, channels, width) == (44100, 2, 2)
    assert np.frombuffer(frames, dtype="<i2").reshape(3, 2).tolist() == samples.tolist()


@pytest.mark.parametrize(
    "bad",
    [
        (8000, [0.0, 1.0]),
        (8000.0, np.zeros(4)),
        ("8000", np.zeros(4)),
        (8000, np.zeros(4), "extra"),
        (np.zeros(4), 8000),
    ],
)
def test_audio_rejects_other_values(bad: Any) -> None:
    assert_rejected(components.Audio(label="a"), bad, "sample_rate")


@pytest.mark.parametrize("rate", [0, -8000])
def test_audio_rejects_an_impossible_sample_rate(rate: int) -> None:
    assert_rejected(components.Audio(label="a"), (rate, np.zeros(4, dtype=np.int16)))


def test_image_float_arrays_in_0_to_1_are_scaled() -> None:
    image = components.Image(label="i")
    array = np.array([[0.0, 0.5], [1.0, 0.25]])
    data, suffix = image.payload(image.check(array))
    assert suffix == ".png" and isinstance(data, bytes)
    with PILImage.open(io.BytesIO(data)) as saved:
        pixels = np.asarray(saved)
    assert pixels.tolist() == [[0, 128], [255, 64]]


def test_image_integer_arrays_in_range_are_saved_as_bytes() -> None:
    image = components.Image(label="i")
    array = np.array([[0, 7], [200, 255]], dtype=np.int64)
    data, _ = image.payload(image.check(array))
    assert isinstance(data, bytes)
    with PILImage.open(io.BytesIO(data)) as saved:
        assert np.asarray(saved).tolist() == array.tolist()


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.array([[0.0, 1.5]]), "in 0..1"),
        (np.array([[0.0, np.nan]]), "finite"),
        (np.array([[-1, 3]]), "in 0..255"),
        (np.array([[300]], dtype=np.int32), "in 0..255"),
        (np.zeros((2, 2, 2), dtype=np.uint8), "shape"),
        (np.zeros(5, dtype=np.uint8), "shape"),
        (np.zeros((0, 3), dtype=np.uint8), "shape"),
        (np.array([["a"]]), "pixels"),
        (np.zeros((1, 1), dtype=np.complex64), "pixels"),
    ],
)
def test_image_arrays_that_cannot_be_saved_are_refused(array: Any, match: str) -> None:
    assert_rejected(components.Image(label="i"), array, match)


def test_image_max_size_counts_raw_pixels_of_arrays_and_pil_images() -> None:
    image = components.Image(label="i", max_size=12)
    assert image.check(np.zeros((2, 2, 3), dtype=np.uint8)) is not None
    assert_rejected(image, np.zeros((2, 3, 3), dtype=np.uint8), "18 bytes is over the limit")
    assert image.check(PILImage.new("L", (3, 4))) is not None
    assert_rejected(image, PILImage.new("RGB", (2, 3)), "18 bytes is over the limit")


def test_audio_max_size_is_the_exact_wav_size() -> None:
    samples = np.zeros(10, dtype=np.int16)
    data, _ = components.Audio().payload(components.Audio().check((8000, samples)))
    assert isinstance(data, bytes)
    assert components.Audio(max_size=len(data)).check((8000, samples)) is not None
    assert_rejected(components.Audio(max_size=len(data) - 1), (8000, samples), "over the limit")


@pytest.mark.parametrize(
    "samples",
    [np.array([0.0, np.inf]), np.array(["a"]), np.zeros((2, 2, 2)), np.zeros(0)],
)
def test_audio_rejects_samples_it_cannot_write(samples: Any) -> None:
    assert_rejected(components.Audio(label="a"), (8000, samples), "samples")


@pytest.mark.parametrize("value", ["3", 3, 3.0, "-3", -3, "1e5", 1e5, "inf", "nan", " 3", "x"])
def test_custom_dropdown_values_read_back_with_their_type(value: str | float) -> None:
    back = through_csv(components.Dropdown(label="free"), value)
    assert type(back) is type(value)
    assert back == value or (isinstance(value, float) and math.isnan(value))


def test_a_string_only_dropdown_writes_plain_cells() -> None:
    drop = components.Dropdown(["1", "2"], label="d")
    assert drop.to_cell(drop.check("1")) == "1"
    assert through_csv(drop, "1") == "1"


def test_a_dropdown_with_both_1_and_the_string_1() -> None:
    drop = components.Dropdown([1, "1"], label="d")
    assert through_csv(drop, 1) == 1
    assert through_csv(drop, "1") == "1"
    assert through_csv(drop, 1.0) == 1


@pytest.mark.parametrize("bad", [True, None, [1], object()])
def test_dropdown_choices_must_be_strings_or_numbers(bad: Any) -> None:
    with pytest.raises(FlagValueError, match="choice is a string or a number"):
        components.Dropdown([bad])


def test_ints_too_long_to_write_are_refused_at_the_call() -> None:
    digits = sys.get_int_max_str_digits()
    assert components.Number(label="n").check(10**digits - 1) == 10**digits - 1
    assert_rejected(components.Number(label="n"), 10**digits, "cannot be written as text")
    assert_rejected(components.JSON(label="j"), [10**5000], "too long")
    assert_rejected(components.JSON(label="j"), -(10 ** (digits - 1)), "too long")
    assert (
        through_csv(components.JSON(label="j"), -(10 ** (digits - 1)) + 1)
        == -(10 ** (digits - 1)) + 1
    )


def test_pil_images_in_modes_png_cannot_store_are_converted() -> None:
    image = components.Image(label="i")
    for mode, expected in (("CMYK", "RGB"), ("YCbCr", "RGB"), ("RGBX", "RGB"), ("RGBa", "RGBA")):
        checked = image.check(PILImage.new(mode, (2, 2)))
        assert checked.mode == expected
        data, _ = image.payload(checked)
        assert isinstance(data, bytes)


def test_bool_colour_arrays_are_saved_as_0_or_255() -> None:
    image = components.Image(label="i")
    array = np.zeros((2, 2, 3), dtype=bool)
    array[0, 0] = True
    data, _ = image.payload(image.check(array))
    assert isinstance(data, bytes)
    with PILImage.open(io.BytesIO(data)) as saved:
        assert np.asarray(saved)[0, 0].tolist() == [255, 255, 255]


def test_audio_integer_samples_never_wrap() -> None:
    audio = components.Audio(label="a")
    assert_rejected(audio, (8000, np.array([40_000], dtype=np.int32)), "-32768..32767")
    data, _ = audio.payload(audio.check((8000, np.array([1.0, -1.0], dtype=np.float16))))
    assert isinstance(data, bytes)
    assert read_wav(data)[3] == np.array([32767, -32767], dtype="<i2").tobytes()


def test_a_multiselect_dropdown_refuses_infinity() -> None:
    with pytest.raises(FlagValueError, match="JSON"):
        components.Dropdown([math.inf], multiselect=True)
    assert_rejected(components.Dropdown(multiselect=True, label="d"), [math.inf], "JSON")


def test_a_dropdown_tells_the_empty_choice_from_none() -> None:
    drop = components.Dropdown(["", "a"], label="d")
    assert through_csv(drop, "") == ""
    assert through_csv(drop, None) is None


def test_pil_deep_modes_keep_their_values() -> None:
    image = components.Image(label="i")
    deep = image.check(PILImage.fromarray(np.array([[300, 6000]], dtype=np.int32)))
    assert deep.mode == "I;16" and np.asarray(deep).tolist() == [[300, 6000]]
    floats = image.check(PILImage.fromarray(np.array([[0.25, 1.0]], dtype=np.float32)))
    assert np.asarray(floats).tolist() == [[64, 255]]  # as float arrays: 0..1 scaled
    assert_rejected(image, PILImage.new("La", (2, 2)), "mode La")


def test_audio_that_does_not_fit_a_wav_header_is_refused() -> None:
    audio = components.Audio(label="a")
    assert_rejected(audio, (2**31 - 1, np.zeros((3, 2), np.int16)), "WAV header")
    assert_rejected(audio, (8000, np.zeros((1, 70_000), np.int16)), "WAV header")


@pytest.mark.parametrize("bad", [Decimal("sNaN"), __import__("fractions").Fraction(10**400, 3)])
def test_number_turns_float_failures_into_flag_value_errors(bad: Any) -> None:
    assert_rejected(components.Number(label="n"), bad, "cannot store")


def test_a_multiselect_refuses_bytes_and_ints_too_long() -> None:
    drop = components.Dropdown(multiselect=True, label="d")
    assert_rejected(drop, b"ab", "list of choices")
    assert_rejected(drop, [10**5000], "too long")
    assert_rejected(components.Dropdown([1, 2], label="d"), 10**5000, "too long")


def test_a_single_dropdown_takes_ints_python_writes_a_multiselect_what_json_reads() -> None:
    """A single value is a number cell (Python's limit); a multiselect is JSON, which reads
    back a negative int one digit shorter (the property tests drew this case)."""
    digits = sys.get_int_max_str_digits()
    longest_negative = -(10 ** (digits - 1))
    single = components.Dropdown(["a"], allow_custom_value=True, label="d")
    assert through_csv(single, longest_negative) == longest_negative
    assert through_csv(single, 10**digits - 1) == 10**digits - 1
    multi = components.Dropdown(["a"], allow_custom_value=True, multiselect=True, label="d")
    assert_rejected(multi, [longest_negative], "too long")


def test_a_label_that_cannot_be_written_is_refused() -> None:
    with pytest.raises(FlagValueError, match="lone surrogate"):
        components.Textbox(label="bad \ud800")


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ("/etc/passwd", "is an absolute path"),
        ("f/../../etc/shadow", "climbs out with '..'"),
        ("f/../x.bin", "climbs out with '..'"),
        ("f/a\x00.bin", "holds a NUL byte"),
        (".", "names the flagging directory itself"),
    ],
)
def test_file_cells_outside_the_flagging_directory_are_refused(
    tmp_path: Path, cell: str, why: str
) -> None:
    for cls in FILE_CLASSES:
        with pytest.raises(UnsafePathError, match=re.escape(why)) as info:
            cls(label="f").from_cell(cell, tmp_path)
        assert isinstance(info.value, FlagValueError)


# -- image and audio files are named by their content ---------------------------------


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels and holds almost none."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("kind", "suffix"),
    [
        ("PNG", ".png"),
        ("JPEG", ".jpg"),
        ("GIF", ".gif"),
        ("WEBP", ".webp"),
        ("BMP", ".bmp"),
        ("TIFF", ".tiff"),
        ("ICO", ".ico"),
    ],
)
def test_an_image_is_saved_under_the_suffix_of_its_content(
    tmp_path: Path, kind: str, suffix: str
) -> None:
    image = components.Image(label="i")
    # 16x16: Pillow 12 writes an ICO smaller than its smallest icon size with no image in it
    data = image_bytes(kind, (16, 16))
    for name in ("x.html", "x.svg", "x.js", "x.png", ""):
        checked = image.check(FileData(data, name))
        assert image.payload(checked) == (data, suffix)
    assert image.payload(image.check(data)) == (data, suffix)
    upload = tmp_path / "upload.html"
    upload.write_bytes(data)
    assert image.payload(image.check(upload)) == (upload.absolute(), suffix)


HOSTILE_IMAGES = [
    b"<html><script>alert(document.cookie)</script></html>",
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    b"alert(1)",
    b"",
    b"GIF89a<script>",  # an image's magic, then nothing Pillow reads
    b"\x89PNG\r\n\x1a\n" + b"not really pixels",
]


@pytest.mark.parametrize("data", HOSTILE_IMAGES)
def test_an_image_that_is_not_an_image_is_refused(tmp_path: Path, data: bytes) -> None:
    image = components.Image(label="i")
    assert_rejected(image, data, "Image 'i': the content")
    assert_rejected(image, FileData(data, "cat.png"), "Image 'i': the content")
    upload = tmp_path / "cat.png"
    upload.write_bytes(data)
    assert_rejected(image, upload, "Image 'i': the content")


def test_an_image_declaring_too_many_pixels_is_refused() -> None:
    assert_rejected(components.Image(label="i", max_pixels=5), PNG, "3 x 2 pixels is over")
    assert components.Image(label="i", max_pixels=6).check(PNG) == PNG
    # a 100000 x 100000 header in 70 bytes: refused from the header, nothing is decoded
    bomb = png_header_only(100_000, 100_000)
    assert len(bomb) < 100
    assert_rejected(components.Image(label="i"), bomb, "pixels")
    assert_rejected(components.Image(label="i"), png_header_only(20_000, 5_000), "pixels")
    with pytest.raises(FlagValueError, match="max_pixels must be a positive int"):
        components.Image(max_pixels=0)


@pytest.mark.parametrize(
    ("data", "suffix"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", ".wav"),
        (b"ID3\x04\x00", ".mp3"),
        (b"\xff\xfb\x90\x64", ".mp3"),
        (b"\xff\xf1\x50\x80", ".aac"),
        (b"OggS\x00\x02", ".ogg"),
        (b"fLaC\x00\x00", ".flac"),
        (b"\x00\x00\x00\x20ftypM4A ", ".m4a"),
        (b"\x1a\x45\xdf\xa3\x9f", ".webm"),
        (b"FORM\x00\x00\x00\x00AIFF", ".aiff"),
        (b"#!AMR\n", ".amr"),
        (b"<html><script>alert(1)</script>", ".bin"),
        (b'<svg onload="alert(1)"/>', ".bin"),
        (image_bytes("PNG"), ".bin"),
    ],
)
def test_audio_is_saved_under_the_suffix_of_its_content(
    tmp_path: Path, data: bytes, suffix: str
) -> None:
    audio = components.Audio(label="a")
    for name in ("x.html", "x.svg", "x.js", "x.wav", ""):
        assert audio.payload(audio.check(FileData(data, name))) == (data, suffix)
    upload = tmp_path / "voice.html"
    upload.write_bytes(data)
    assert audio.payload(audio.check(upload)) == (upload.absolute(), suffix)


# -- one PNG encoding per in-memory image ---------------------------------------------------


@pytest.fixture
def png_encodings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts PNG encodings of PIL images (``Image.save(..., format="PNG")``)."""
    calls: list[int] = []
    save = PILImage.Image.save

    def counting(self: PILImage.Image, fp: Any, format: str | None = None, **kw: Any) -> None:
        if (format or "").upper() == "PNG":
            calls.append(1)
        save(self, fp, format, **kw)

    monkeypatch.setattr(PILImage.Image, "save", counting)
    return calls


@pytest.mark.parametrize("kind", ["pil", "array"])
def test_an_in_memory_image_is_encoded_once(png_encodings: list[int], kind: str) -> None:
    image = components.Image(label="i")
    picture = PILImage.new("RGB", (32, 16), (200, 10, 10))
    checked = image.check(picture if kind == "pil" else np.asarray(picture))
    first = image.payload(checked)
    assert image.payload(checked) == first  # shown, then saved: the same bytes
    assert len(png_encodings) == 1
    other = image.check(np.zeros((4, 4), dtype=np.uint8))  # another image: encoded anew
    assert image.payload(other)[0] != first[0]
    assert len(png_encodings) == 2


@pytest.mark.anyio
async def test_a_pil_output_shown_and_flagged_is_encoded_once(
    tmp_path: Path, png_encodings: list[int]
) -> None:
    import base64

    import httpx

    iface = Interface(
        lambda x: PILImage.new("RGB", (64, 64), (x, 20, 30)),
        components.Number(label="x"),
        components.Image(label="img"),
        flagging_dir=tmp_path,
    )
    transport = httpx.ASGITransport(app=iface.app())
    async with iface, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        shown = (await client.post("/api/predict", json={"data": [7]})).json()
        assert (await client.post("/api/flag", json={"id": shown["id"]})).json() == {"count": 1}
    assert len(png_encodings) == 1
    (row,) = load_flagged(tmp_path, iface.components)
    saved = Path(row.values[1]).read_bytes()
    assert saved == base64.b64decode(shown["data"][0].partition(",")[2])
