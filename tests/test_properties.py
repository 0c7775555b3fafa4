"""Property tests: whatever is flagged through the real pipeline reads back identical.

Every example builds a real :class:`~asyncflag.Interface` over a fresh temporary
directory, flags rows inside ``async with iface:`` (``flag()``, ``flag_nowait()``, or
``submit()`` then flagging the prediction or its id), reads them back with
:func:`~asyncflag.load_flagged` and compares them with what was flagged: cells by value
and type, saved files by their bytes, images by their decoded pixels, audio by its
samples. A value a component refuses must raise :class:`~asyncflag.FlagValueError` at
the call, never fail later in the writer (an accepted row whose receipt fails makes the
test fail).

Each example runs its own event loop with ``anyio.run`` on the backend the test is
parametrized with. ``ASYNCFLAG_RELIABILITY_FULL=1`` runs ten times the examples.

Input classes left out because of known asyncflag bugs are marked ``# BUG:``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import sys
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

import anyio
import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image as PILImage

from asyncflag import (
    CSVLogger,
    FileData,
    FlagReceipt,
    FlagValueError,
    Interface,
    SimpleCSVLogger,
    components,
    load_flagged,
)
from asyncflag.components import Component

FULL = bool(os.environ.get("ASYNCFLAG_RELIABILITY_FULL"))
#: the longest cell load_flagged reads (the csv module's default limit)
CSV_FIELD_LIMIT = csv.field_size_limit()
BACKENDS = ["asyncio", "trio"]
#: the most digits an int can have and still be written as text (Python's limit)
INT_DIGITS: int = sys.get_int_max_str_digits() or 5000


def examples(count: int) -> settings:
    """Few examples by default (the file runs in seconds); ten times more in full runs."""
    return settings(
        max_examples=count * 10 if FULL else count,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


# -- what must read back --------------------------------------------------------------


class _Refused:
    def __repr__(self) -> str:
        return "REFUSED"


#: the expectation for a value that must raise FlagValueError at the call
REFUSED: Any = _Refused()


@dataclass(frozen=True)
class Saved:
    """A file whose bytes must read back exactly."""

    data: bytes


@dataclass(frozen=True, eq=False)
class Pixels:
    """A PNG whose decoded mode and pixels (and colours, for a palette) must match."""

    mode: str
    pixels: np.ndarray
    rgb: np.ndarray | None = None
    #: how far a pixel may be off (floats quantised in their own precision)
    tolerance: int = 0


@dataclass(frozen=True, eq=False)
class Samples:
    """A 16-bit WAV whose rate and samples (frames x channels) must match."""

    rate: int
    frames: np.ndarray
    tolerance: int = 0


@dataclass(frozen=True)
class SourceFile:
    """Flagged as the path of a file holding ``data``, made in the example's directory.

    ``form`` is how the path is given: ``str``, ``path`` (a Path), ``mapping`` (Gradio's
    ``{"path": ...}``), or ``missing`` / ``directory`` (paths that must be refused).
    """

    data: bytes
    form: str
    name: str = "source.bin"


@dataclass
class Column:
    """A component and, per row, the value flagged and what must read back (or REFUSED)."""

    component: Component
    cells: list[tuple[Any, Any]]


@dataclass
class Row:
    values: list[Any]
    expected: list[Any]
    option: str | None = None
    username: str | None = None
    #: "nowait", "flag", "id" (submit, then flag the id) or "prediction"
    method: str = "nowait"

    @property
    def refused(self) -> bool:
        return any(e is REFUSED for e in self.expected)


def same(read: Any, expected: Any) -> bool:
    """Equal in value and in type, NaN equal to NaN, and -0.0 apart from 0.0."""
    if isinstance(expected, float):
        if math.isnan(expected):
            return type(read) is float and math.isnan(read)
        return (
            type(read) is float
            and read == expected
            and math.copysign(1, read) == math.copysign(1, expected)
        )
    if isinstance(expected, list):
        return type(read) is list and len(read) == len(expected) and all(map(same, read, expected))
    if isinstance(expected, dict):
        return (
            type(read) is dict
            and list(read) == list(expected)
            and all(same(read[key], expected[key]) for key in expected)
        )
    return type(read) is type(expected) and read == expected


def check_cell(read: Any, expected: Any, root: Path) -> None:
    """Assert that one value read back is what was flagged."""
    if isinstance(expected, Saved | Pixels | Samples):
        assert isinstance(read, str), read
        path = Path(read)
        assert path.is_file()
        assert path.resolve().is_relative_to(root.resolve())
        if isinstance(expected, Saved):
            assert path.read_bytes() == expected.data
            # content-addressed: the name is the hash of the content
            assert path.name.startswith(hashlib.sha256(expected.data).hexdigest()[:40])
        elif isinstance(expected, Pixels):
            check_image(path, expected)
        else:
            check_audio(path, expected)
        return
    assert same(read, expected), f"read back {read!r}, flagged {expected!r}"


def check_image(path: Path, expected: Pixels) -> None:
    assert path.suffix == ".png"
    with PILImage.open(path) as image:
        image.load()
        assert image.mode == expected.mode
        pixels = np.asarray(image)
        rgb = np.asarray(image.convert("RGB")) if expected.rgb is not None else None
    assert pixels.shape == expected.pixels.shape
    difference = np.abs(pixels.astype(np.int64) - expected.pixels.astype(np.int64))
    assert difference.max() <= expected.tolerance, (pixels, expected.pixels)
    if expected.rgb is not None:
        assert rgb is not None and np.array_equal(rgb, expected.rgb)


def check_audio(path: Path, expected: Samples) -> None:
    assert path.suffix == ".wav"
    with wave.open(str(path), "rb") as audio:
        assert audio.getsampwidth() == 2
        assert audio.getframerate() == expected.rate
        channels = audio.getnchannels()
        data = audio.readframes(audio.getnframes())
    frames = np.frombuffer(data, "<i2").reshape(-1, channels)
    assert frames.shape == expected.frames.shape
    difference = np.abs(frames.astype(np.int64) - expected.frames.astype(np.int64))
    assert difference.max() <= expected.tolerance, (frames, expected.frames)


# -- running an interface --------------------------------------------------------------


def materialize(value: Any, sources: Path, index: int) -> Any:
    """Turn a SourceFile into the path (or Gradio file data) that is flagged."""
    if not isinstance(value, SourceFile):
        return value
    path = sources / f"{index}-{value.name}"
    if value.form == "missing":
        return str(path)
    if value.form == "directory":
        return str(sources)
    path.write_bytes(value.data)
    return {"str": str(path), "path": path, "mapping": {"path": str(path)}}[value.form]


async def _flag_one(
    iface: Interface, row: Row, values: list[Any], n_inputs: int, outputs: list[Any]
) -> int | FlagReceipt:
    if row.method == "nowait":
        return iface.flag_nowait(values, option=row.option, username=row.username)
    if row.method == "flag":
        return await iface.flag(values, option=row.option, username=row.username)
    outputs[:] = values[n_inputs:]  # what fn returns for this submit
    prediction = await iface.submit(*values[:n_inputs])
    if row.method == "id":
        return await iface.flag(prediction.id, option=row.option, username=row.username)
    return iface.flag_nowait(prediction, option=row.option, username=row.username)


async def _flag_rows(
    iface: Interface,
    rows: list[Row],
    values: list[list[Any]],
    n_inputs: int,
    outputs: list[Any],
    split: int,
) -> list[int]:
    """Flag the rows before ``split`` in one ``async with``, the rest in a second one
    (the dataset file is opened again and its count read back from disk)."""
    counts: list[int] = []
    for start, stop in ((0, split), (split, len(rows))):
        results: list[int | FlagReceipt] = []
        async with iface:
            for row, row_values in zip(rows[start:stop], values[start:stop], strict=True):
                if row.refused:
                    with pytest.raises(FlagValueError):
                        await _flag_one(iface, row, row_values, n_inputs, outputs)
                else:
                    results.append(await _flag_one(iface, row, row_values, n_inputs, outputs))
            # a receipt that fails (FlagWriteError) fails the test here
            counts += [r if isinstance(r, int) else await r.wait() for r in results]
    return counts


def run_rows(
    backend: str,
    columns: list[Component],
    rows: list[Row],
    *,
    simple: bool = False,
    n_inputs: int | None = None,
    flagging_options: Any = None,
    labels: list[str] | None = None,
    split: int | None = None,
) -> None:
    """Flag ``rows`` through a real interface, read them back and compare everything.

    :param split: flag the rows from this index on after leaving and entering again
    """
    for i, component in enumerate(columns):
        component.label = labels[i] if labels is not None else f"c{i}"
    n_inputs = len(columns) if n_inputs is None else n_inputs
    for component in columns[:n_inputs]:
        if isinstance(component, components.Image | components.Audio | components.File):
            component.type = "raw"  # fn ignores its inputs: no decoding, storage is tested
    outputs: list[Any] = []

    async def fn(*inputs: Any) -> Any:
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "flagged"
        sources = Path(tmp) / "sources"
        sources.mkdir()
        values = [
            [materialize(v, sources, i * 1000 + j) for j, v in enumerate(row.values)]
            for i, row in enumerate(rows)
        ]
        iface = Interface(
            fn,
            columns[:n_inputs],
            columns[n_inputs:],
            flagging_dir=root,
            flagging_options=flagging_options,
            flagging_callback=SimpleCSVLogger() if simple else CSVLogger(),
        )
        started = datetime.now(UTC)
        split = len(rows) if split is None else split
        counts = anyio.run(
            _flag_rows, iface, rows, values, n_inputs, outputs, split, backend=backend
        )
        finished = datetime.now(UTC)
        accepted = [row for row in rows if not row.refused]
        # rows are written in the order they were accepted, and counted exactly
        assert counts == list(range(1, len(accepted) + 1))
        stats = iface.stats
        assert (stats.written, stats.failed, stats.pending) == (len(accepted), 0, 0)
        read = load_flagged(root, iface.components) if accepted else []
        assert len(read) == len(accepted)
        expected_labels = tuple(c.label for c in iface.components)
        for flagged, got in zip(accepted, read, strict=True):
            assert got.labels == expected_labels
            assert Path(got.file).name == ("log.csv" if simple else "dataset1.csv")
            assert len(got.values) == len(flagged.expected)
            for value, expected in zip(got.values, flagged.expected, strict=True):
                check_cell(value, expected, root)
            assert got.flag == flagged.option
            assert got.username == flagged.username
            assert got.timestamp is not None and got.timestamp.utcoffset() is not None
            assert started <= got.timestamp <= finished
        if not accepted:
            # refused values create nothing: not even the dataset file
            assert not root.exists() or not any(root.iterdir())


def rows_of(columns: list[Column], methods: list[str] | None = None) -> list[Row]:
    count = len(columns[0].cells) if columns else 0
    return [
        Row(
            values=[c.cells[i][0] for c in columns],
            expected=[c.cells[i][1] for c in columns],
            method=methods[i] if methods else "nowait",
        )
        for i in range(count)
    ]


# -- values ------------------------------------------------------------------------------

#: pieces that CSV, spreadsheets and line splitting treat specially
SPECIAL = [
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    "\n",
    "\r\n",
    "'",
    "''",
    '"',
    '""',
    ",",
    "\x00",
    " ",
    "\\",
    "\u2028",
    "\x85",
    "\ufeff",
    "\u00e9",
    "\U0001f600",
    "=1+2",
    "-3",
    "+1",
    "@SUM(A1)",
    '=HYPERLINK("x")',
    "1e5",
    "nan",
    "True",
    "null",
    "[1]",
]
#: strings int() or float() would take for numbers: a Dropdown must keep them strings
NUMBER_LIKE = st.one_of(
    st.integers().map(str),
    st.floats().map(str),
    st.sampled_from(["1_000", " 7 ", "\u0663", "1e5", "inf", "-0", "+5", "0x1f", "1.", ".5"]),
)
TEXT = st.one_of(
    st.lists(st.one_of(st.sampled_from(SPECIAL), st.text(max_size=6)), max_size=6).map("".join),
    NUMBER_LIKE,
)
NONEMPTY_TEXT = st.one_of(
    st.lists(
        st.one_of(st.sampled_from(SPECIAL), st.text(min_size=1, max_size=6)),
        min_size=1,
        max_size=6,
    ).map("".join),
    NUMBER_LIKE,
)
SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
TEXT_WITH_SURROGATES = st.lists(
    st.one_of(st.sampled_from(SPECIAL), st.text(max_size=4), SURROGATES), max_size=6
).map("".join)


def has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def _int_of(digits: int, negative: bool, offset: int) -> int:
    base: int = 10 ** (digits - 1)
    value = base + offset % (9 * base)
    return -value if negative else value


#: ints of 1 to INT_DIGITS digits: up to the longest Python writes as text
HUGE_INTS = st.builds(_int_of, st.integers(1, INT_DIGITS), st.booleans(), st.integers(0, 10**9))
INTS = st.one_of(st.integers(), HUGE_INTS, st.sampled_from([INT_DIGITS]).map(lambda d: 10**d - 1))
#: ints Python cannot write as text: refused at the call
OVERLONG_INTS = st.builds(
    _int_of, st.integers(INT_DIGITS + 1, INT_DIGITS + 30), st.booleans(), st.integers(0, 10**9)
)
#: msgspec reads back a negative int only up to INT_DIGITS - 1 digits
MSGSPEC_MIN_INT: int = -(10 ** (INT_DIGITS - 1))


def json_int_ok(value: int) -> bool:
    """Whether JSON stores an int: one msgspec writes and reads back."""
    return MSGSPEC_MIN_INT < value < int(10**INT_DIGITS)


JSON_INTS = INTS.filter(json_int_ok)
FLOATS = st.one_of(
    st.floats(),
    st.sampled_from(
        [0.0, -0.0, 0.1, 1e16, 1e308, -sys.float_info.max, 5e-324, -5e-324, math.inf, -math.inf]
    ),
)
NUMPY_NUMBERS = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.integers(0, 255).map(np.uint8),
    st.floats(width=32).map(np.float32),
    st.floats().map(np.float64),
)


def plain_number(value: Any) -> Any:
    """What a Number reads back as: numpy integers as int, other numbers as float."""
    if value is None or type(value) in (int, float):
        return value
    if isinstance(value, np.integer):
        return int(value)
    return float(value)


JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), JSON_INTS, st.floats(allow_nan=False, allow_infinity=False), TEXT
)


def _json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(TEXT, inner, max_size=4),
    )


JSON_VALUES = st.recursive(JSON_LEAVES, _json_containers, max_leaves=12)


def plain_json(value: Any) -> Any:
    """What a JSON value reads back as: tuples become lists."""
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_json(v) for k, v in value.items()}
    return value


MAGICS = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"%PDF-", b"RIFF\0\0\0\0WAVE", b"ID3"]
FILE_BYTES = st.one_of(
    st.binary(max_size=64),
    st.tuples(st.sampled_from(MAGICS), st.binary(max_size=16)).map(b"".join),
)
FILE_NAMES = st.one_of(
    st.sampled_from(["a.txt", "x.PNG", "", "../../etc/passwd", "noext", ".hidden", "a.tar.gz"]),
    TEXT,
)


def _encoded_image(kind: str, width: int, height: int) -> bytes:
    if kind == "ICO":  # Pillow 12 writes an ICO smaller than its smallest icon size empty
        width, height = width * 16, height * 16
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), (width * 40 % 256, height * 40 % 256, 7)).save(
        buffer, format=kind
    )
    return buffer.getvalue()


#: encoded images of every format an Image stores (it refuses other content)
IMAGE_FILE_BYTES = st.builds(
    _encoded_image,
    st.sampled_from(["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF", "ICO"]),
    st.integers(1, 4),
    st.integers(1, 4),
)
#: content that is surely no image (nor starts like one): an Image refuses it
NOT_IMAGE_BYTES = st.binary(max_size=64).map(lambda data: b"<" + data)


@st.composite
def file_values(draw: st.DrawFn, content: st.SearchStrategy[bytes] = FILE_BYTES) -> tuple[Any, Any]:
    """A payload in any of the forms a file component takes, and its bytes."""
    data = draw(content)
    form = draw(
        st.sampled_from(["bytes", "bytearray", "memoryview", "filedata", "str", "path", "mapping"])
    )
    if form == "bytes":
        return data, Saved(data)
    if form == "bytearray":
        return bytearray(data), Saved(data)
    if form == "memoryview":
        return memoryview(data), Saved(data)
    if form == "filedata":
        return FileData(data, draw(FILE_NAMES)), Saved(data)
    return SourceFile(data, form, draw(st.sampled_from(["src.bin", "src.png", "src"]))), Saved(data)


def image_mode(pixels: np.ndarray) -> str:
    if pixels.dtype == np.bool_ and pixels.ndim == 2:
        return "1"
    return "L" if pixels.ndim == 2 else {3: "RGB", 4: "RGBA"}[pixels.shape[2]]


def expected_pixels(array: np.ndarray) -> Pixels:
    """The documented conversion: uint8 and bool as they are, other integers as uint8,
    floats in 0..1 as round(x * 255); a single channel is dropped."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    tolerance = 0
    if array.dtype.kind == "b":
        # 1-bit pixels; PNG has no 1-bit colour, so colour pixels become 0 or 255
        pixels = array.copy() if array.ndim == 2 else array.astype(np.uint8) * np.uint8(255)
    elif array.dtype.kind == "f":
        pixels = np.round(array.astype(np.float64) * 255).astype(np.uint8)
        # scaled in the array's own precision: float32 and float16 values at a rounding
        # boundary may be one step off round(x * 255) computed exactly
        tolerance = 0 if array.dtype == np.float64 else 1
    else:
        pixels = array.astype(np.uint8)
    return Pixels(image_mode(pixels), pixels, tolerance=tolerance)


IMAGE_DTYPES = "uint8 bool int8 int16 uint16 int64 float16 float32 float64".split()


def float_width(dtype: np.dtype[Any]) -> Literal[16, 32, 64]:
    """The bits of a float dtype, as hypothesis' ``floats(width=...)`` takes them."""
    bits = dtype.itemsize * 8
    assert bits in (16, 32, 64), dtype
    return cast(Literal[16, 32, 64], bits)


@st.composite
def image_arrays(draw: st.DrawFn) -> tuple[np.ndarray, Pixels]:
    """Arrays an Image stores: h x w (x 1, 3 or 4) of uint8, bool, 0..255 ints, 0..1 floats."""
    dtype = np.dtype(draw(st.sampled_from(IMAGE_DTYPES)))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    shape: tuple[int, ...] = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    if channels is not None:
        shape += (channels,)
    if dtype.kind == "b":
        elements: st.SearchStrategy[Any] = st.booleans()
    elif dtype.kind == "f":
        elements = st.floats(0, 1, width=float_width(dtype))
    else:
        elements = st.integers(0, min(255, int(np.iinfo(cast(Any, dtype)).max)))
    array = draw(hnp.arrays(dtype, shape, elements=elements))
    if draw(st.booleans()):
        array = array[:, ::-1]  # a view that is not contiguous
    return array, expected_pixels(array)


#: PIL modes a PNG stores as they are, with the dtype and channels of their pixels
PNG_MODES = {
    "1": ("bool", ()),
    "L": ("uint8", ()),
    "LA": ("uint8", (2,)),
    "P": ("uint8", ()),
    "RGB": ("uint8", (3,)),
    "RGBA": ("uint8", (4,)),
    "I;16": ("uint16", ()),
}
#: other modes, and the bytes per pixel of their raw data. Colour spaces are converted to
#: RGB, or to RGBA when they have an alpha band; deep modes keep their values: ints up to 255
#: as L, up to 65535 as I;16, F (floats in 0..1) scaled to L like float arrays. "La" is
#: refused at the call (Pillow cannot convert it); see test_components.
CONVERTED_MODES = {
    "CMYK": 4,
    "YCbCr": 3,
    "LAB": 3,
    "HSV": 3,
    "RGBX": 4,
    "RGBa": 4,
    "PA": 2,
    "I": 4,
    "I;16B": 2,
    "I;16L": 2,
    "I;16N": 2,
    "F": 4,
}
ALPHA_MODES = {"RGBa", "PA"}


def _raw_pixels(mode: str, values: np.ndarray) -> bytes:
    """Raw data for a converted mode: byte bands as they are, 0..255 values otherwise."""
    if mode in ("I", "F"):
        return values.astype("<i4" if mode == "I" else "<f4").tobytes()
    if mode.startswith("I;16"):
        order = ">" if mode == "I;16B" else "<"
        return values.astype(order + "u2").tobytes()
    return values.tobytes()


@st.composite
def pil_images(draw: st.DrawFn) -> tuple[Any, Pixels]:
    """PIL images in every mode: the ones a PNG stores read back exactly; the others read
    back as the RGB (or RGBA) Pillow converts them to."""
    mode = draw(st.sampled_from(sorted(PNG_MODES) + sorted(CONVERTED_MODES)))
    height, width = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    if mode == "F":
        floats = draw(hnp.arrays(np.float32, height * width, elements=st.floats(0, 1, width=32)))
        image = PILImage.frombytes(mode, (width, height), floats.astype("<f4").tobytes())
        scaled = np.round(floats.astype(np.float64) * 255).astype(np.uint8)
        return image, Pixels("L", scaled.reshape(height, width), tolerance=1)
    if mode in CONVERTED_MODES and mode.startswith("I"):
        top = draw(st.sampled_from([255, 65535]))
        deep = draw(hnp.arrays(np.uint16, height * width, elements=st.integers(0, top)))
        image = PILImage.frombytes(mode, (width, height), _raw_pixels(mode, deep))
        pixels = deep.reshape(height, width)
        if pixels.max() > 255:
            return image, Pixels("I;16", pixels)
        return image, Pixels("L", pixels.astype(np.uint8))
    if mode in CONVERTED_MODES:
        size = CONVERTED_MODES[mode]
        count = height * width * size
        values = draw(hnp.arrays(np.uint8, count, elements=st.integers(0, 255)))
        image = PILImage.frombytes(mode, (width, height), _raw_pixels(mode, values))
        if mode == "PA":
            image.putpalette(draw(st.binary(min_size=768, max_size=768)))
        target = "RGBA" if mode in ALPHA_MODES else "RGB"
        return image, Pixels(target, np.asarray(image.convert(target)))
    dtype, extra = PNG_MODES[mode]
    shape = (height, width, *extra)
    top = 255 if dtype == "uint8" else 65535
    elements = st.booleans() if dtype == "bool" else st.integers(0, top)
    array = draw(hnp.arrays(dtype, shape, elements=elements))
    image = PILImage.fromarray(array)
    rgb = None
    if mode == "P":
        palette = draw(st.binary(min_size=768, max_size=768))
        image.putpalette(palette)
        rgb = np.frombuffer(palette, np.uint8).reshape(256, 3)[array]
    assert image.mode == mode
    return image, Pixels(mode, array, rgb)


AUDIO_DTYPES = "int16 int8 uint8 uint16 int32 int64 float16 float32 float64".split()


def expected_samples(rate: int, samples: np.ndarray) -> Samples:
    """Integer samples as they are; floats clipped to -1..1 and scaled by 32767."""
    frames = samples.reshape(samples.shape[0], -1)
    if frames.dtype.kind == "f":
        scaled = np.clip(frames.astype(np.float64), -1, 1) * 32767
        return Samples(rate, scaled.astype(np.int16))
    return Samples(rate, frames.astype(np.int16))


@st.composite
def audio_arrays(draw: st.DrawFn, channels: int | None = None) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(AUDIO_DTYPES)))
    if channels is None:
        channels = draw(st.sampled_from([0, 1, 2, 5]))
    frames = draw(st.integers(1, 24))
    shape = (frames,) if channels == 0 else (frames, channels)
    if dtype.kind == "f":
        elements = st.floats(-2, 2, width=float_width(dtype))
    else:
        # integers are 16-bit sample values: wider ones are refused (see wild_audio)
        info = np.iinfo(cast(Any, dtype))
        elements = st.integers(max(int(info.min), -32768), min(int(info.max), 32767))
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def audio_values(draw: st.DrawFn) -> tuple[Any, Any]:
    samples = draw(audio_arrays())
    rate = draw(st.one_of(st.sampled_from([8000, 22050, 44100, 48000]), st.integers(1, 384_000)))
    return (rate, samples), expected_samples(rate, samples)


# -- columns of every component type ------------------------------------------------------


@st.composite
def text_columns(draw: st.DrawFn, rows: int) -> Column:
    max_length = draw(st.none() | st.integers(1, 40))
    values = TEXT if max_length is None else TEXT.map(lambda s: s[:max_length])
    cells = []
    for _ in range(rows):
        value = draw(st.none() | values)
        cells.append((value, "" if value is None else value))
    return Column(components.Textbox(max_length=max_length), cells)


@st.composite
def number_columns(draw: st.DrawFn, rows: int) -> Column:
    cells = []
    for _ in range(rows):
        value = draw(st.one_of(st.none(), INTS, FLOATS, NUMPY_NUMBERS))
        cells.append((value, plain_number(value)))
    return Column(components.Number(), cells)


@st.composite
def checkbox_columns(draw: st.DrawFn, rows: int) -> Column:
    cells = []
    for _ in range(rows):
        value = draw(st.one_of(st.none(), st.booleans(), st.booleans().map(np.bool_)))
        cells.append((value, None if value is None else bool(value)))
    return Column(components.Checkbox(), cells)


def _equal_of_other_type(value: Any) -> list[Any]:
    """``value`` and the numbers of the other type equal to it (1 and 1.0)."""
    if isinstance(value, int) and abs(value) <= 2**53:
        return [value, float(value)]
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return [value, int(value)]
    return [value]


def _choices(draw: st.DrawFn, values: list[Any]) -> list[Any]:
    """Choices as plain values or as (label, value) pairs."""
    return [(draw(TEXT), v) if draw(st.booleans()) else v for v in values]


@st.composite
def dropdown_columns(draw: st.DrawFn, rows: int) -> Column:
    """Fixed choices: strings, or numbers and strings; single or multiselect."""
    multiselect = draw(st.booleans())
    element = TEXT
    if draw(st.booleans()):
        # a multiselect is stored as JSON, which has no infinity: such a choice is refused
        element = st.one_of(
            TEXT, st.integers(), st.floats(allow_nan=False, allow_infinity=not multiselect)
        )
    values = draw(st.lists(element, min_size=1, max_size=5, unique=True))
    component = components.Dropdown(_choices(draw, values), multiselect=multiselect)

    def pick() -> tuple[Any, Any]:
        choice = draw(st.sampled_from(values))
        return draw(st.sampled_from(_equal_of_other_type(choice))), choice

    cells: list[tuple[Any, Any]] = []
    for _ in range(rows):
        if multiselect:
            if draw(st.booleans()):
                cells.append((None, []))
                continue
            picks = [pick() for _ in range(draw(st.integers(0, 4)))]
            given: list[Any] | tuple[Any, ...] = [p[0] for p in picks]
            if draw(st.booleans()):
                given = tuple(given)
            cells.append((given, [p[1] for p in picks]))
        elif draw(st.booleans()):
            cells.append((None, None))
        else:
            cells.append(pick())
    return Column(component, cells)


@st.composite
def custom_dropdown_columns(draw: st.DrawFn, rows: int) -> Column:
    """allow_custom_value (or no choices): any string or number, single or multiselect."""
    multiselect = draw(st.booleans())
    # a multiselect is stored as JSON, which has no NaN nor infinity: those are refused
    floats = st.floats(allow_nan=False, allow_infinity=not multiselect)
    values = draw(st.lists(st.one_of(TEXT, st.integers(), floats), max_size=3, unique=True))
    if bool(values) or draw(st.booleans()):
        component = components.Dropdown(
            _choices(draw, values), multiselect=multiselect, allow_custom_value=True
        )
    else:
        component = components.Dropdown(multiselect=multiselect)
    known = {v: v for v in values}  # a value equal to a choice is stored as the choice
    choices = st.sampled_from(values) if values else st.nothing()
    if multiselect:
        # BUG: a multiselect takes ints msgspec cannot read back (a negative one of
        # INT_DIGITS digits): load_flagged then fails. Only JSON_INTS are drawn.
        element = st.one_of(choices, TEXT, JSON_INTS, floats)
        value_strategy: st.SearchStrategy[Any] = st.one_of(st.none(), st.lists(element, max_size=4))
    else:
        value_strategy = st.one_of(st.none(), choices, TEXT, INTS, FLOATS)
    cells: list[tuple[Any, Any]] = []
    for _ in range(rows):
        value = draw(value_strategy)
        if multiselect:
            expected: Any = [] if value is None else [known.get(v, v) for v in value]
        else:
            expected = None if value is None else known.get(value, value)
        cells.append((value, expected))
    return Column(component, cells)


@st.composite
def json_columns(draw: st.DrawFn, rows: int) -> Column:
    cells = []
    for _ in range(rows):
        value = draw(JSON_VALUES)
        cells.append((value, plain_json(value)))
    return Column(components.JSON(), cells)


def _file_columns(cls: type[components.FileComponent]) -> Callable[..., Any]:
    content = IMAGE_FILE_BYTES if cls is components.Image else FILE_BYTES

    @st.composite
    def columns(draw: st.DrawFn, rows: int) -> Column:
        cells = [draw(st.one_of(st.just((None, None)), file_values(content))) for _ in range(rows)]
        return Column(cls(), cells)

    return columns


@st.composite
def image_array_columns(draw: st.DrawFn, rows: int) -> Column:
    return Column(components.Image(), [draw(image_arrays()) for _ in range(rows)])


@st.composite
def image_pil_columns(draw: st.DrawFn, rows: int) -> Column:
    return Column(components.Image(), [draw(pil_images()) for _ in range(rows)])


@st.composite
def audio_columns(draw: st.DrawFn, rows: int) -> Column:
    cells = [draw(st.one_of(audio_values(), file_values())) for _ in range(rows)]
    return Column(components.Audio(), cells)


KINDS: dict[str, Callable[[int], st.SearchStrategy[Column]]] = {
    "text": text_columns,
    "number": number_columns,
    "checkbox": checkbox_columns,
    "dropdown": dropdown_columns,
    "dropdown_custom": custom_dropdown_columns,
    "json": json_columns,
    "file": _file_columns(components.File),
    "image_file": _file_columns(components.Image),
    "image_array": image_array_columns,
    "image_pil": image_pil_columns,
    "audio": audio_columns,
}
METHODS = st.sampled_from(["nowait", "nowait", "flag", "id", "prediction"])


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("backend", BACKENDS)
@examples(15)
@given(data=st.data())
def test_every_component_reads_back_what_was_flagged(
    backend: str, kind: str, data: st.DataObject
) -> None:
    """Rows of 1-3 columns of one component type, through either CSV logger and every way
    of flagging, read back identical (files by bytes, images by pixels, audio by samples)."""
    rows = data.draw(st.integers(1, 6), label="rows")
    columns = data.draw(st.lists(KINDS[kind](rows), min_size=1, max_size=3), label="columns")
    methods = data.draw(st.lists(METHODS, min_size=rows, max_size=rows), label="methods")
    run_rows(
        backend,
        [c.component for c in columns],
        rows_of(columns, methods),
        simple=data.draw(st.booleans(), label="simple"),
        n_inputs=data.draw(st.integers(0, len(columns)), label="inputs"),
    )


@pytest.mark.parametrize("backend", BACKENDS)
@examples(40)
@given(data=st.data())
def test_mixed_rows_read_back_what_was_flagged(backend: str, data: st.DataObject) -> None:
    """Rows mixing every component type, batched in one interface and flagged over one or
    two runs of it (the second appends to the same file), read back identical."""
    rows = data.draw(st.integers(1, 10), label="rows")
    kinds = data.draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=6))
    columns = [data.draw(KINDS[kind](rows), label=kind) for kind in kinds]
    methods = data.draw(st.lists(METHODS, min_size=rows, max_size=rows), label="methods")
    run_rows(
        backend,
        [c.component for c in columns],
        rows_of(columns, methods),
        simple=data.draw(st.booleans(), label="simple"),
        n_inputs=data.draw(st.integers(0, len(columns)), label="inputs"),
        split=data.draw(st.integers(0, rows), label="split"),
    )


# -- usernames, flagging options and labels ------------------------------------------------

# BUG: "" as an option or a username reads back as None; lone surrogates in either are
# accepted at the call and fail in the writer (UnicodeEncodeError). Neither is drawn.
META_TEXT = NONEMPTY_TEXT
# Labels are not empty: like Gradio, an empty label is written as "component N".
# BUG: a label with a lone surrogate is accepted and every row then fails in the writer.
LABELS = META_TEXT


@pytest.mark.parametrize("backend", BACKENDS)
@examples(30)
@given(data=st.data())
def test_usernames_options_and_labels_read_back(backend: str, data: st.DataObject) -> None:
    """Options (free text, strings or (label, value) pairs), usernames and column labels
    read back identical; an option that is not one of the options is refused at the call."""
    kind = data.draw(st.sampled_from(["free", "strings", "pairs"]), label="options")
    flagging_options: Any = None
    allowed: list[str | None] = []
    if kind == "strings":
        flagging_options = data.draw(st.lists(META_TEXT, min_size=1, max_size=4, unique=True))
        allowed = list(flagging_options)
    elif kind == "pairs":
        flagging_options = data.draw(
            st.lists(
                st.tuples(TEXT, st.none() | META_TEXT),
                min_size=1,
                max_size=4,
                unique_by=lambda pair: pair[1],
            )
        )
        allowed = [value for _, value in flagging_options]
    count = data.draw(st.integers(1, 8), label="rows")
    columns = [components.Textbox(), components.Number()]
    rows = []
    for i in range(count):
        if kind == "free":
            option = data.draw(st.none() | META_TEXT)
        elif data.draw(st.booleans()):
            option = data.draw(
                st.one_of(st.none(), META_TEXT).filter(lambda o: o not in allowed),
                label="bad option",
            )
        else:
            option = data.draw(st.sampled_from(allowed))
        row = Row(
            values=[f"row {i}", i],
            expected=[f"row {i}", i],
            option=option,
            username=data.draw(st.none() | META_TEXT, label="username"),
            method=data.draw(METHODS),
        )
        if kind != "free" and option not in allowed:
            row.expected[0] = REFUSED  # an unknown option: refused at the call
        rows.append(row)
    run_rows(
        backend,
        columns,
        rows,
        simple=data.draw(st.booleans(), label="simple"),
        flagging_options=flagging_options,
        labels=data.draw(st.lists(LABELS, min_size=2, max_size=2), label="labels"),
    )


# -- accepted at the call, or refused at the call ---------------------------------------------


def _refused_unless(ok: bool, value: Any) -> Any:
    return value if ok else REFUSED


@st.composite
def wild_text(draw: st.DrawFn, rows: int) -> Column:
    max_length = draw(st.none() | st.integers(1, 30))
    anything = st.one_of(
        TEXT_WITH_SURROGATES,
        st.none(),
        st.integers(),
        OVERLONG_INTS,
        st.binary(max_size=4),
        st.lists(TEXT),
    )
    cells: list[tuple[Any, Any]] = []
    for _ in range(rows):
        value = draw(anything)
        if value is None:
            cells.append((None, ""))
            continue
        ok = (
            isinstance(value, str)
            and not has_surrogate(value)
            and (max_length is None or len(value) <= max_length)
        )
        cells.append((value, _refused_unless(ok, value)))
    return Column(components.Textbox(max_length=max_length), cells)


@st.composite
def wild_number(draw: st.DrawFn, rows: int) -> Column:
    anything = st.one_of(
        st.none(),
        INTS,
        OVERLONG_INTS,
        FLOATS,
        NUMPY_NUMBERS,
        # BUG: Decimal("sNaN") raises a plain ValueError at the call, not FlagValueError.
        st.decimals(allow_nan=False),
        # BUG: a Fraction beyond the float range raises OverflowError at the call.
        st.fractions(min_value=-(10**300), max_value=10**300),
        st.booleans(),
        st.booleans().map(np.bool_),
        TEXT,
        st.binary(max_size=4),
        st.lists(st.integers(), max_size=2),
    )
    cells: list[tuple[Any, Any]] = []
    for _ in range(rows):
        value = draw(anything)
        overlong = type(value) is int and not -(10**INT_DIGITS) < value < 10**INT_DIGITS
        if isinstance(value, bool | np.bool_ | str | bytes | list) or overlong:
            cells.append((value, REFUSED))
        else:
            cells.append((value, plain_number(value)))
    return Column(components.Number(), cells)


@st.composite
def wild_checkbox(draw: st.DrawFn, rows: int) -> Column:
    anything = st.one_of(
        st.none(),
        st.booleans(),
        st.booleans().map(np.bool_),
        st.integers(0, 1),
        OVERLONG_INTS,
        TEXT,
        FLOATS,
    )
    cells: list[tuple[Any, Any]] = []
    for _ in range(rows):
        value = draw(anything)
        if value is None or isinstance(value, bool | np.bool_):
            cells.append((value, None if value is None else bool(value)))
        else:
            cells.append((value, REFUSED))
    return Column(components.Checkbox(), cells)


@st.composite
def wild_dropdown(draw: st.DrawFn, rows: int) -> Column:
    multiselect = draw(st.booleans())
    if multiselect and draw(st.booleans()):
        with pytest.raises(FlagValueError):  # JSON has no infinity
            components.Dropdown([draw(st.sampled_from([math.inf, -math.inf]))], multiselect=True)
    floats = st.floats(allow_nan=False, allow_infinity=not multiselect)
    values = draw(st.lists(st.one_of(TEXT, st.integers(), floats), max_size=4, unique=True))
    custom = draw(st.booleans())
    component = components.Dropdown(
        _choices(draw, values), multiselect=multiselect, allow_custom_value=custom
    )
    custom = custom or not values
    known = {v: v for v in values}
    # BUG: an int of more than INT_DIGITS digits fails in the writer when it is a custom
    # value, and raises a plain ValueError (from repr) at the call when it is not a choice:
    # not drawn (INTS stop at INT_DIGITS digits).
    one = st.one_of(
        st.sampled_from(values) if values else st.nothing(),
        TEXT_WITH_SURROGATES,
        INTS,
        FLOATS,
        st.booleans(),
        st.binary(max_size=3),
        st.none(),
    )

    def expect_one(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return REFUSED
        if isinstance(value, str) and has_surrogate(value):
            return REFUSED
        if multiselect and isinstance(value, float) and not math.isfinite(value):
            return REFUSED  # a multiselect is stored as JSON, which has no NaN nor infinity
        if value in known:
            return known[value]
        return value if custom else REFUSED

    cells: list[tuple[Any, Any]] = []
    for _ in range(rows):
        if multiselect:
            # BUG: bytes are taken as a list of ints (b"" as [], b"a" as [97]): not drawn.
            value = draw(st.one_of(st.none(), st.lists(one, max_size=3), TEXT, st.integers()))
            if value is None:
                cells.append((None, []))
            elif not isinstance(value, list):
                cells.append((value, REFUSED))
            else:
                expected = [expect_one(v) for v in value]
                # BUG: a multiselect takes a negative int of INT_DIGITS digits, which
                # load_flagged then cannot read back (msgspec): not drawn.
                if any(type(v) is int and not json_int_ok(v) for v in expected):
                    continue
                cells.append((value, REFUSED if REFUSED in expected else expected))
        else:
            value = draw(one)
            if value is None:
                cells.append((None, None))
            else:
                cells.append((value, expect_one(value)))
    return Column(component, cells)


WILD_JSON_LEAVES = st.one_of(
    JSON_LEAVES,
    INTS,
    OVERLONG_INTS,
    TEXT_WITH_SURROGATES,
    st.floats(),
    st.binary(max_size=3),
    st.frozensets(st.integers(), max_size=2),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.builds(object),
)


def _wild_json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(TEXT_WITH_SURROGATES, st.integers()), inner, max_size=3),
    )


WILD_JSON = st.recursive(WILD_JSON_LEAVES, _wild_json_containers, max_leaves=8)


def json_storable(value: Any) -> bool:
    """Whether JSON stores ``value`` so that it reads back the same (tuples as lists)."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return json_int_ok(value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return not has_surrogate(value)
    if isinstance(value, list | tuple):
        return all(map(json_storable, value))
    if isinstance(value, dict):
        return all(isinstance(k, str) and json_storable(k) for k in value) and all(
            map(json_storable, value.values())
        )
    return False


@st.composite
def wild_json(draw: st.DrawFn, rows: int) -> Column:
    max_size = draw(st.none() | st.integers(1, 200))
    cells: list[tuple[Any, Any]] = []
    for _ in range(rows):
        value = draw(WILD_JSON)
        ok = json_storable(value)
        if ok and max_size is not None:
            ok = len(msgspec.json.encode(plain_json(value))) <= max_size
        cells.append((value, _refused_unless(ok, plain_json(value))))
    return Column(components.JSON(max_size=max_size), cells)


@st.composite
def wild_file(draw: st.DrawFn, rows: int) -> Column:
    max_size = draw(st.none() | st.integers(1, 64))
    cells: list[tuple[Any, Any]] = []
    for _ in range(rows):
        choice = draw(st.sampled_from(["good", "good", "missing", "directory", "other", "none"]))
        if choice == "none":
            cells.append((None, None))
        elif choice in ("missing", "directory"):
            cells.append((SourceFile(b"", choice), REFUSED))
        elif choice == "other":
            other = st.one_of(st.integers(), OVERLONG_INTS, st.lists(st.integers()))
            cells.append((draw(other), REFUSED))
        else:
            value, saved = draw(file_values())
            ok = max_size is None or len(saved.data) <= max_size
            cells.append((value, _refused_unless(ok, saved)))
    return Column(components.File(max_size=max_size), cells)


WILD_IMAGE_DTYPES = [*IMAGE_DTYPES, "complex64", "int32"]


@st.composite
def wild_image_arrays(draw: st.DrawFn) -> tuple[np.ndarray, Any]:
    """Arrays of any shape, dtype and range; refused unless the docstring allows them."""
    dtype = np.dtype(draw(st.sampled_from(WILD_IMAGE_DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    if dtype.kind == "b":
        elements: st.SearchStrategy[Any] = st.booleans()
    elif dtype.kind in "fc":
        elements = st.floats(-1, 2, width=32) | st.sampled_from([math.nan, math.inf])
        if dtype == np.float16:
            elements = st.floats(-1, 2, width=16) | st.sampled_from([math.nan, math.inf])
    else:
        info = np.iinfo(cast(Any, dtype))
        elements = st.integers(max(int(info.min), -300), min(int(info.max), 600))
    array = draw(hnp.arrays(dtype, shape, elements=elements))
    squeezed = array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1 else array
    shape_ok = squeezed.size > 0 and (
        squeezed.ndim == 2 or (squeezed.ndim == 3 and squeezed.shape[2] in (3, 4))
    )
    if not shape_ok or dtype.kind == "c":
        return array, REFUSED
    if dtype.kind == "f" and not (
        np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1
    ):
        return array, REFUSED
    if dtype.kind in "iu" and (array.min() < 0 or array.max() > 255):
        return array, REFUSED
    return array, expected_pixels(array)


@st.composite
def wild_image(draw: st.DrawFn, rows: int) -> Column:
    max_size = draw(st.none() | st.integers(1, 80))
    cells: list[tuple[Any, Any]] = []
    for _ in range(rows):
        choice = draw(st.sampled_from(["array", "array", "pil", "file", "other"]))
        if choice == "other":
            cells.append((draw(st.one_of(st.integers(), TEXT.map(list))), REFUSED))
            continue
        if choice == "file":
            image = draw(st.booleans())
            value, expected = draw(file_values(IMAGE_FILE_BYTES if image else NOT_IMAGE_BYTES))
            size = len(expected.data)
            expected = expected if image else REFUSED  # an Image stores images only
        elif choice == "pil":
            value, expected = draw(pil_images())
            size = value.width * value.height * len(value.getbands())
        else:
            value, expected = draw(wild_image_arrays())
            size = value.size  # one byte per pixel and channel once converted
        ok = expected is not REFUSED and (max_size is None or size <= max_size)
        cells.append((value, expected if ok else REFUSED))
    return Column(components.Image(max_size=max_size), cells)


@st.composite
def wild_audio(draw: st.DrawFn, rows: int) -> Column:
    max_size = draw(st.none() | st.integers(44, 200))
    cells: list[tuple[Any, Any]] = []
    for _ in range(rows):
        choice = draw(st.sampled_from(["pair", "pair", "bad samples", "file", "other"]))
        if choice == "file":
            value, saved = draw(file_values())
            ok = max_size is None or len(saved.data) <= max_size
            cells.append((value, _refused_unless(ok, saved)))
            continue
        if choice == "other":
            other = st.one_of(
                st.tuples(st.integers(1, 9)),
                st.builds(lambda r, s: [r, s], st.integers(1, 9), audio_arrays()),
                st.tuples(st.integers(1, 9), st.lists(st.integers(), max_size=3)),
            )
            cells.append((draw(other), REFUSED))
            continue
        if choice == "bad samples":
            bad = st.one_of(
                hnp.arrays(np.float64, st.integers(1, 4), elements=st.sampled_from([math.nan])),
                hnp.arrays(np.float32, st.integers(1, 4), elements=st.just(math.inf)),
                hnp.arrays(np.int16, st.sampled_from([(0,), (3, 0), (), (2, 2, 2)])),
                hnp.arrays(np.bool_, st.integers(1, 4)),
                hnp.arrays(np.complex64, st.integers(1, 4)),
                # integers are 16-bit sample values: wider ones would wrap around
                hnp.arrays(
                    st.sampled_from([np.int32, np.int64, np.uint16]),
                    st.integers(1, 4),
                    elements=st.integers(32768, 40000) | st.integers(0, 0),
                ).filter(lambda a: a.max() > 32767),
                hnp.arrays(
                    st.sampled_from([np.int32, np.int64]),
                    st.integers(1, 4),
                    elements=st.integers(-40000, -32769) | st.integers(0, 0),
                ).filter(lambda a: a.min() < -32768),
            )
            cells.append(((8000, draw(bad)), REFUSED))
            continue
        samples = draw(audio_arrays(channels=draw(st.sampled_from([0, 1, 2, 3]))))
        channels = 1 if samples.ndim == 1 else samples.shape[1]
        # BUG: a rate whose byte rate (rate x channels x 2) is over 2**32 - 1 passes check()
        # but fails in the writer (the WAV header); so does more than 32767 channels.
        top = min(2**31 - 1, (2**32 - 1) // (2 * channels))
        rate = draw(
            st.one_of(
                st.integers(1, top),
                st.just(top),
                st.integers(-(2**40), 0),
                st.integers(2**31, 2**40),
                st.booleans(),
                st.floats(1, 1e5),
                st.just("8000"),
            )
        )
        ok = isinstance(rate, int) and not isinstance(rate, bool) and 0 < rate < 2**31
        ok = ok and (max_size is None or 44 + 2 * samples.size <= max_size)
        expected = expected_samples(rate, samples) if ok else REFUSED
        cells.append(((rate, samples), expected))
    return Column(components.Audio(max_size=max_size), cells)


WILD_KINDS: dict[str, Callable[[int], st.SearchStrategy[Column]]] = {
    "text": wild_text,
    "number": wild_number,
    "checkbox": wild_checkbox,
    "dropdown": wild_dropdown,
    "json": wild_json,
    "file": wild_file,
    "image": wild_image,
    "audio": wild_audio,
}


@pytest.mark.parametrize("kind", sorted(WILD_KINDS))
@pytest.mark.parametrize("backend", BACKENDS)
@examples(20)
@given(data=st.data())
def test_values_are_accepted_or_refused_at_the_call(
    backend: str, kind: str, data: st.DataObject
) -> None:
    """Any value, valid or not, either raises FlagValueError at flag()/flag_nowait()/submit()
    or is written and reads back identical: nothing fails later in the writer."""
    rows = data.draw(st.integers(1, 8), label="rows")
    column = data.draw(WILD_KINDS[kind](rows), label="column")
    count = len(column.cells)  # some wild kinds skip excluded values
    methods = data.draw(st.lists(METHODS, min_size=count, max_size=count), label="methods")
    run_rows(
        backend,
        [column.component],
        rows_of([column], methods),
        simple=data.draw(st.booleans(), label="simple"),
        n_inputs=data.draw(st.integers(0, 1), label="inputs"),
    )


# -- huge values, up to the limit --------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@examples(5)
@given(data=st.data())
def test_values_at_their_limit_read_back_and_one_more_is_refused(
    backend: str, data: st.DataObject
) -> None:
    """A value exactly at its component's limit (max_length, max_size, the longest int
    Python writes) is written and reads back identical; one unit (or digit) more is refused
    at the call. Text without a limit reads back whole up to the longest cell a CSV reader takes."""
    text_limit = data.draw(st.integers(1, 100_000), label="max_length")
    chunk = data.draw(META_TEXT, label="chunk")
    text = (chunk * (text_limit // len(chunk) + 1))[:text_limit]

    inner = data.draw(JSON_VALUES, label="json")
    base = len(msgspec.json.encode([plain_json(inner), ""]))
    # BUG (see big_text below): the JSON cell is kept within csv.field_size_limit()
    padding = min(100_000, CSV_FIELD_LIMIT - base)
    json_limit = base + data.draw(st.integers(0, padding), label="json padding")
    json_value = [inner, "a" * (json_limit - base)]
    json_over = [inner, "a" * (json_limit - base + 1)]

    file_limit = data.draw(st.integers(1, 1 << 18), label="file max_size")
    payload = data.draw(st.binary(min_size=1, max_size=64), label="payload")
    file_bytes = (payload * (file_limit // len(payload) + 1))[:file_limit]

    height, width = data.draw(st.integers(1, 64)), data.draw(st.integers(1, 64))
    channels = data.draw(st.sampled_from([3, 4]))
    image = data.draw(
        hnp.arrays(np.uint8, (height, width, channels), elements=st.integers(0, 255)),
        label="image",
    )
    image_over = np.zeros((height + 1, width, channels), np.uint8)

    frames = data.draw(st.integers(1, 5000), label="frames")
    samples = np.arange(frames, dtype=np.int16) - np.int16(frames // 2)
    audio_limit = 44 + 2 * frames

    longest_int = _int_of(INT_DIGITS, data.draw(st.booleans()), data.draw(st.integers(0, 10**9)))
    # BUG: load_flagged cannot read a cell over csv.field_size_limit() (131072) characters,
    # though such text is accepted and written; so the longest text drawn fills a cell to
    # that limit, the escaping apostrophe included.
    repeat = data.draw(st.integers(1, (CSV_FIELD_LIMIT - 1) // text_limit), label="repeat")
    big_text = text * repeat

    columns = [
        components.Textbox(max_length=text_limit),
        components.JSON(max_size=json_limit),
        components.File(max_size=file_limit),
        components.Image(max_size=height * width * channels),
        components.Audio(max_size=audio_limit),
        components.Number(),
        components.Textbox(),
    ]
    at_limit = [text, json_value, file_bytes, image, (44100, samples), longest_int, big_text]
    expected = [
        text,
        plain_json(json_value),
        Saved(file_bytes),
        Pixels("RGB" if channels == 3 else "RGBA", image),
        Samples(44100, samples.reshape(-1, 1)),
        longest_int,
        big_text,
    ]
    over = [
        text + "x",
        json_over,
        file_bytes + b"x",
        image_over,
        (44100, np.zeros(frames + 1)),
        longest_int * 10,  # one digit more than Python writes as text
    ]
    rows = [Row(list(at_limit), list(expected), method="flag")]
    for i, value in enumerate(over):
        values = list(at_limit)
        values[i] = value
        refused = list(expected)
        refused[i] = REFUSED
        rows.append(Row(values, refused, method=data.draw(METHODS)))
    rows.append(Row(list(at_limit), list(expected)))
    run_rows(backend, columns, rows, simple=data.draw(st.booleans(), label="simple"))
