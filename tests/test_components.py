"""Components: what each accepts, how it becomes a cell, and how the cell becomes a value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from asyncflag import FileData, FlaggingError, FlagValueError, components
from asyncflag.components import component_from


def test_shortcuts() -> None:
    expected = {
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
    for shortcut, cls in expected.items():
        assert type(component_from(shortcut)) is cls
    number = components.Number(label="n")
    assert component_from(number) is number
    with pytest.raises(FlagValueError, match="unknown component shortcut"):
        component_from("slider")
    with pytest.raises(FlagValueError, match="expected a component"):
        component_from(3)  # type: ignore[arg-type]


def test_label_must_be_a_string() -> None:
    with pytest.raises(FlagValueError, match="label must be a string"):
        components.Textbox(label=3)  # type: ignore[arg-type]


def test_textbox() -> None:
    box = components.Textbox(label="t")
    assert box.check("hi") == "hi"
    assert box.check(None) == ""
    with pytest.raises(FlagValueError, match="Textbox 't' stores a string, got int 3"):
        box.check(3)
    assert box.to_cell("=1+1") == "'=1+1"
    assert box.to_cells(["a", "-x", ""]) == ["a", "'-x", ""]
    assert box.from_cell("'=1+1", Path(".")) == "=1+1"


@pytest.mark.parametrize("value", [0, -3, 2.5, -0.125, 10**30, float("inf")])
def test_number_round_trip(value: float) -> None:
    number = components.Number(label="n")
    cell = number.to_cell(number.check(value))
    assert cell == value  # written as a number, never escaped
    assert number.from_cell(str(cell), Path(".")) == value


def test_number() -> None:
    number = components.Number(label="n")
    assert number.check(None) is None
    assert number.to_cell(None) == ""
    assert number.from_cell("", Path(".")) is None
    assert number.check(np.int64(4)) == 4 and type(number.check(np.int64(4))) is int
    assert number.check(np.float32(0.5)) == 0.5
    assert type(number.from_cell("3.0", Path("."))) is float
    for bad in [True, "3", b"3", [3]]:
        with pytest.raises(FlagValueError, match="Number 'n' stores an int or a float"):
            number.check(bad)


def test_checkbox() -> None:
    box = components.Checkbox(label="c")
    assert box.check(True) is True
    assert box.check(np.bool_(False)) is False
    assert [box.to_cell(v) for v in (True, False, None)] == ["True", "False", ""]
    assert box.from_cell("True", Path(".")) is True
    assert box.from_cell("false", Path(".")) is False
    assert box.from_cell("", Path(".")) is None
    with pytest.raises(FlagValueError, match="stores a bool"):
        box.check(1)


def test_dropdown() -> None:
    drop = components.Dropdown(["add", ("Subtract", "sub"), 3], label="op")
    assert drop.check("add") == "add"
    assert drop.check("sub") == "sub"
    assert drop.check(3) == 3
    with pytest.raises(FlagValueError, match="'Subtract' is not one of the choices"):
        drop.check("Subtract")
    assert drop.from_cell(str(drop.to_cell(3)), Path(".")) == 3
    assert drop.from_cell(str(drop.to_cell("sub")), Path(".")) == "sub"
    assert drop.config()["choices"] == [["add", "add"], ["Subtract", "sub"], ["3", 3]]
    free = components.Dropdown(label="free")
    assert free.check("anything") == "anything"
    custom = components.Dropdown(["a"], allow_custom_value=True)
    assert custom.check("b") == "b"


def test_dropdown_multiselect() -> None:
    drop = components.Dropdown(["a", "b", "-c"], label="m", multiselect=True)
    assert drop.check(("a", "-c")) == ["a", "-c"]
    assert drop.check(None) == []
    cell = drop.to_cell(["a", "-c"])
    assert drop.from_cell(str(cell), Path(".")) == ["a", "-c"]
    with pytest.raises(FlagValueError, match="list of choices"):
        drop.check("a")
    with pytest.raises(FlagValueError, match="not one of the choices"):
        drop.check(["z"])


@pytest.mark.parametrize(
    "value", [{"a": [1, -2.5, None]}, [1, "=x"], -5, "text", None, True, {"nested": {"k": "v"}}]
)
def test_json_round_trip(value: Any) -> None:
    box = components.JSON(label="j")
    cell = box.to_cell(box.check(value))
    assert isinstance(cell, str)
    assert box.from_cell(cell, Path(".")) == value


@pytest.mark.parametrize("value", [object(), {1j: 2}, float("nan"), {"x": {1, 2}}])
def test_json_rejects_what_it_cannot_store(value: Any) -> None:
    with pytest.raises(FlagValueError, match="JSON 'j'") as info:
        components.JSON(label="j").check(value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, FlaggingError)


def test_file_components_accept_bytes_paths_and_file_data(tmp_path: Path) -> None:
    source = tmp_path / "report.pdf"
    source.write_bytes(b"%PDF-1.4 data")
    file = components.File(label="f")
    assert file.check(b"abc") == b"abc"
    assert file.check(bytearray(b"abc")) == b"abc"
    assert file.check(str(source)) == source.absolute()
    assert file.check(source) == source.absolute()
    assert file.check({"path": str(source)}) == source.absolute()
    data = FileData(b"hello", "notes.txt")
    assert file.check(data) is data
    assert file.check(None) is None
    assert file.payload(b"%PDF-1.4") == (b"%PDF-1.4", ".pdf")
    assert file.payload(data) == (b"hello", ".txt")
    assert file.payload(source.absolute()) == (source.absolute(), ".pdf")
    assert file.payload(b"plain") == (b"plain", ".bin")


def test_file_component_errors(tmp_path: Path) -> None:
    file = components.File(label="f", max_size=4)
    with pytest.raises(FlagValueError, match="cannot read"):
        file.check(str(tmp_path / "missing.txt"))
    with pytest.raises(FlagValueError, match="is not a file"):
        file.check(tmp_path)
    with pytest.raises(FlagValueError, match="5 bytes is over the limit of 4 bytes"):
        file.check(b"12345")
    with pytest.raises(FlagValueError, match="stores bytes"):
        file.check(12)
    with pytest.raises(FlagValueError, match="max_size"):
        components.File(max_size=0)


def test_image_accepts_pil_and_arrays() -> None:
    image = components.Image(label="i")
    picture = PILImage.new("RGB", (4, 3), "blue")
    assert image.check(picture) is picture
    data, suffix = image.payload(picture)
    assert suffix == ".png" and isinstance(data, bytes) and data.startswith(b"\x89PNG")
    array = np.zeros((3, 4, 3), dtype=np.uint8)
    data, suffix = image.payload(image.check(array))
    assert suffix == ".png" and isinstance(data, bytes)
    assert image.payload(b"\xff\xd8\xff\xe0rest")[1] == ".jpg"
    with pytest.raises(FlagValueError, match="PIL image"):
        image.check([[0, 0]])


def test_audio_accepts_rate_and_samples() -> None:
    audio = components.Audio(label="a")
    samples = np.sin(np.linspace(0, 6.28, 800)).astype(np.float32)
    value = audio.check((8000, samples))
    data, suffix = audio.payload(value)
    assert suffix == ".wav" and isinstance(data, bytes)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert audio.payload(data)[1] == ".wav"
    with pytest.raises(FlagValueError, match="sample_rate"):
        audio.check((8000, [0.0, 1.0]))


def test_file_cell_reads_back_as_an_absolute_path(tmp_path: Path) -> None:
    file = components.File(label="f")
    assert file.from_cell("f/abc.bin", tmp_path) == str(tmp_path.absolute() / "f" / "abc.bin")
    assert file.from_cell("", tmp_path) is None


def test_size_limits() -> None:
    box = components.Textbox(label="t", max_length=5)
    assert box.check("12345") == "12345"
    with pytest.raises(FlagValueError, match="6 characters is over the limit of 5"):
        box.check("123456")
    data = components.JSON(label="j", max_size=10)
    assert data.check([1, 2]) == [1, 2]
    with pytest.raises(FlagValueError, match="over the limit of 10"):
        data.check({"long": "value"})
    for bad in (0, -1, 2.5):
        with pytest.raises(FlagValueError, match="must be a positive int"):
            components.Textbox(max_length=bad)  # type: ignore[arg-type]
