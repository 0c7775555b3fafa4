"""What ``fn`` receives and may return, as in Gradio 6 (issue 13).

An input component's ``preprocess`` turns the checked value (an upload) into what
Gradio hands ``fn``: ``Image(type="numpy"|"pil"|"filepath")``, ``Audio(type="numpy"|
"filepath")``, ``File(type="filepath"|"binary")``, ``Video`` (a path). What is stored
and flagged stays the upload. Files handed over as paths live in the run's private
folder, removed on leaving ``async with``. ``Textbox(lines=, placeholder=)`` and
``Number(minimum=, maximum=, precision=)``. Gradio's quickstarts run with
``import asyncflag as gr``.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import numpy as np
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import FilePayload

from conftest import CHROMIUM, chromium_page, free_port, served_in_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

import asyncflag as gr
from asyncflag import FileData, FlagValueError, Interface, components, load_flagged
from asyncflag.components import component_from, component_types
from asyncflag.transport.wire import components_from_schema, schema_of

pytestmark = pytest.mark.anyio


def png(size: tuple[int, int] = (3, 2), mode: str = "RGB", color: Any = "red") -> bytes:
    buffer = io.BytesIO()
    PILImage.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def wav(samples: Any, rate: int = 8000, width: int = 2) -> bytes:
    array = np.asarray(samples)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1 if array.ndim == 1 else array.shape[1])
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(array.tobytes())
    return buffer.getvalue()


#: the first bytes of an MP4 (an ftyp box), then filler: what a Video checks
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 40
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 40


class Seen:
    """An fn that records what it received and returns it (or ``result``)."""

    def __init__(self, result: Any = None, *, echo: bool = True) -> None:
        self.values: list[Any] = []
        self.result = result
        self.echo = echo

    def __call__(self, value: Any) -> Any:
        self.values.append(value)
        return value if self.echo else self.result


# -- Image ---------------------------------------------------------------------------------


async def test_an_image_input_hands_fn_an_rgb_array_by_default(tmp_path: Path) -> None:
    upload = FileData(png(mode="RGBA", color=(255, 0, 0, 128)), "cat.png")
    fn = Seen()
    iface = Interface(fn, "image", "image", flagging_dir=tmp_path)
    async with iface:
        prediction = await iface.submit(upload)
        assert prediction.inputs == (upload,)  # what is stored is the upload
        await iface.flag(prediction)
    array = fn.values[0]
    assert isinstance(array, np.ndarray) and array.dtype == np.uint8
    assert array.shape == (2, 3, 3)  # RGB, as Gradio's default image_mode
    assert array[0, 0].tolist() == [255, 0, 0]
    saved_input, saved_output = load_flagged(tmp_path, iface.components)[0].values
    assert Path(saved_input).read_bytes() == upload.data
    with PILImage.open(saved_output) as output:
        assert output.size == (3, 2) and output.getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize(("mode", "shape"), [("L", (2, 3)), ("RGBA", (2, 3, 4)), (None, (2, 3, 4))])
async def test_image_mode_decides_the_array(
    tmp_path: Path, mode: str | None, shape: tuple[int, ...]
) -> None:
    fn = Seen()
    iface = Interface(fn, components.Image(image_mode=mode), "image", flagging_mode="never")
    async with iface:
        await iface.submit(png(mode="RGBA", color=(0, 0, 255, 255)))
    assert fn.values[0].shape == shape


async def test_an_upload_is_turned_upright_by_its_exif_orientation() -> None:
    exif = PILImage.Exif()
    exif[274] = 6  # rotated 90 degrees: the camera held sideways
    buffer = io.BytesIO()
    PILImage.new("RGB", (6, 4), "white").save(buffer, format="JPEG", exif=exif.tobytes())
    fn = Seen()
    iface = Interface(fn, "image", "image", flagging_mode="never")
    async with iface:
        await iface.submit(buffer.getvalue())
    assert fn.values[0].shape == (6, 4, 3)  # 4 wide, 6 high once upright


async def test_type_pil_and_raw(tmp_path: Path) -> None:
    data = png()
    pil, raw = Seen(), Seen()
    for fn, image in ((pil, components.Image(type="pil")), (raw, components.Image(type="raw"))):
        iface = Interface(fn, image, "image", flagging_dir=tmp_path)
        async with iface:
            await iface.submit(FileData(data, "x.png"))
    assert isinstance(pil.values[0], PILImage.Image) and pil.values[0].mode == "RGB"
    assert pil.values[0].size == (3, 2)
    assert raw.values[0] == FileData(data, "x.png")  # asyncflag's former behaviour


async def test_type_filepath_is_a_file_in_the_runs_own_folder(tmp_path: Path) -> None:
    data = png()
    fn = Seen(result="ok", echo=False)
    iface = Interface(fn, components.Image(type="filepath"), "text", flagging_dir=tmp_path)
    assert iface.run_dir is None
    async with iface:
        run_dir = iface.run_dir
        assert run_dir is not None and run_dir.is_dir()
        assert run_dir.stat().st_mode & 0o777 == 0o700
        await iface.submit(FileData(data, "../../evil.html"))
        path = Path(fn.values[0])
        assert path.parent == run_dir  # never a name the client chose
        assert path.suffix == ".png" and "evil" not in path.name
        assert path.read_bytes() == data  # already RGB: the upload itself
        # converted when not in image_mode: saved as PNG
        grey = Interface(fn, components.Image(type="filepath", image_mode="L"), "text")
        async with grey:
            await grey.submit(data)
            with PILImage.open(fn.values[1]) as image:
                assert image.mode == "L"
        assert grey.run_dir is None
    assert not run_dir.exists() and iface.run_dir is None  # removed on leaving


async def test_a_path_the_caller_gives_is_handed_over_as_it_is(tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    source.write_bytes(png())
    fn = Seen()
    iface = Interface(fn, components.Image(type="filepath"), "image", flagging_mode="never")
    async with iface:
        await iface.submit(str(source))
    assert fn.values[0] == str(source)


async def test_an_image_that_cannot_be_decoded_fails_the_call_before_fn(tmp_path: Path) -> None:
    truncated = png((64, 64))[:60]  # the header says PNG; the pixels are missing
    fn = Seen()
    iface = Interface(fn, "image", "image", flagging_dir=tmp_path)
    async with iface:
        with pytest.raises(FlagValueError, match="'value': the image could not be decoded"):
            await iface.submit(truncated)
    assert fn.values == []


async def test_never_mode_still_checks_what_it_decodes() -> None:
    fn = Seen()
    iface = Interface(fn, "image", "image", flagging_mode="never")
    async with iface:
        with pytest.raises(FlagValueError, match="is not a PNG, JPEG"):
            await iface.submit(b"<html>not an image</html>")
        with pytest.raises(FlagValueError, match="pixels is over the limit"):
            never = Interface(fn, components.Image(max_pixels=5), "image", flagging_mode="never")
            async with never:
                await never.submit(png())
    assert fn.values == []


def test_bad_types_are_refused() -> None:
    with pytest.raises(FlagValueError, match="type must be 'numpy' or 'pil' or 'filepath'"):
        components.Image(type="array")  # type: ignore[arg-type]
    with pytest.raises(FlagValueError, match="image_mode must be"):
        components.Image(image_mode="rgb")
    with pytest.raises(FlagValueError, match="type must be 'numpy' or 'filepath'"):
        components.Audio(type="pil")  # type: ignore[arg-type]
    with pytest.raises(FlagValueError, match="type must be 'filepath' or 'binary'"):
        components.File(type="numpy")  # type: ignore[arg-type]


# -- Audio --------------------------------------------------------------------------------


async def test_an_audio_input_hands_fn_rate_and_samples(tmp_path: Path) -> None:
    mono = np.array([0, 1000, -1000, 32767, -32768], dtype=np.int16)
    stereo = np.array([[1, -1], [2, -2], [3, -3]], dtype=np.int16)
    fn = Seen()
    iface = Interface(fn, "audio", "audio", flagging_dir=tmp_path)
    async with iface:
        prediction = await iface.submit(FileData(wav(mono, 16000), "a.wav"))
        await iface.submit(wav(stereo, 8000))
        await iface.submit(wav(np.array([0, 128, 255], dtype=np.uint8), 8000, width=1))
        await iface.submit((8000, mono))  # a pair stays a pair
        await iface.flag(prediction)
    rate, samples = fn.values[0]
    assert rate == 16000 and samples.dtype == np.int16 and samples.tolist() == mono.tolist()
    assert fn.values[1][1].shape == (3, 2) and fn.values[1][1].tolist() == stereo.tolist()
    assert fn.values[2][1].tolist() == [-32768, 0, 32512]  # 8-bit scaled to 16
    assert fn.values[3][0] == 8000 and fn.values[3][1].tolist() == mono.tolist()
    saved_input, saved_output = load_flagged(tmp_path, iface.components)[0].values
    assert Path(saved_input).read_bytes() == wav(mono, 16000)  # the upload itself
    with wave.open(saved_output, "rb") as output:  # fn's pair, saved as WAV
        assert output.getframerate() == 16000 and output.getnframes() == 5


async def test_audio_numpy_refuses_what_it_cannot_decode_and_says_so() -> None:
    # (other formats decode with soundfile since issue 13: tests/test_audio_decoding.py)
    fn = Seen()
    iface = Interface(fn, "audio", "text", flagging_mode="never")
    async with iface:
        with pytest.raises(FlagValueError, match="MP3 audio could not be decoded"):
            await iface.submit(b"ID3\x04\x00" + b"\x00" * 100)
        with pytest.raises(FlagValueError, match="WAV audio could not be decoded"):
            await iface.submit(wav(np.zeros(4, np.int16))[:30])
    assert fn.values == []


async def test_wide_wav_samples_are_int32() -> None:
    values = [0, 1, -1, 2**23 - 1, -(2**23)]
    packed = b"".join(v.to_bytes(3, "little", signed=True) for v in values)
    wide = np.array([0, 7, -7, 2**31 - 1, -(2**31)], dtype="<i4")
    fn = Seen()
    iface = Interface(fn, "audio", None, flagging_mode="never")
    async with iface:
        await iface.submit(wav(np.frombuffer(packed, np.uint8), width=3))
        await iface.submit(wav(wide, width=4))
    assert fn.values[0][1].dtype == np.int32
    assert fn.values[0][1].tolist() == [v * 256 for v in values]  # 24-bit scaled to 32
    assert fn.values[1][1].tolist() == wide.tolist()


async def test_audio_filepath(tmp_path: Path) -> None:
    data = wav(np.arange(10, dtype=np.int16))
    fn = Seen(result=None, echo=False)
    iface = Interface(fn, components.Audio(type="filepath"), None, flagging_mode="never")
    async with iface:
        await iface.submit(FileData(data, "voice.exe"))
        await iface.submit((8000, np.zeros(3, np.int16)))
        assert iface.run_dir is not None
        assert fn.values[0].endswith(".wav") and Path(fn.values[0]).read_bytes() == data
        assert Path(fn.values[1]).parent == iface.run_dir
        with wave.open(fn.values[1], "rb") as pair:
            assert pair.getnframes() == 3


# -- File -----------------------------------------------------------------------------------


async def test_a_file_input_hands_fn_a_path_or_bytes(tmp_path: Path) -> None:
    upload = FileData(b"hello", "../notes.txt")
    path_fn, bytes_fn = Seen(), Seen()
    iface = Interface(path_fn, "file", "file", flagging_dir=tmp_path)
    binary = Interface(bytes_fn, components.File(type="binary"), "file", flagging_dir=tmp_path)
    async with iface, binary:
        prediction = await iface.submit(upload)
        path = Path(path_fn.values[0])
        assert iface.run_dir is not None and path.parent == iface.run_dir
        assert path.suffix == ".txt" and path.read_bytes() == b"hello"
        assert prediction.inputs == (upload,)
        assert prediction.outputs == (path,)  # fn returned the path: a file output takes it
        await iface.flag(prediction)
        await binary.submit(upload)
    assert bytes_fn.values == [b"hello"]
    saved_input, saved_output = load_flagged(tmp_path, iface.components)[0].values
    assert Path(saved_input).read_bytes() == Path(saved_output).read_bytes() == b"hello"


# -- Video ----------------------------------------------------------------------------------


async def test_video_in_and_out_by_path(tmp_path: Path) -> None:
    fn = Seen()
    iface = Interface(fn, "video", "video", flagging_dir=tmp_path)
    assert tuple(type(c) for c in iface.components) == (gr.Video, gr.Video)
    async with iface:
        prediction = await iface.submit(FileData(MP4, "clip.html"))
        path = Path(fn.values[0])
        assert path.suffix == ".mp4" and path.read_bytes() == MP4
        assert await iface.flag(prediction) == 1
        assert await iface.flag([WEBM, WEBM]) == 2
        with pytest.raises(FlagValueError, match="'value': the content is not a MP4"):
            await iface.submit(b"<html><script>alert(1)</script></html>")
        with pytest.raises(FlagValueError, match="a Video stores videos only"):
            await iface.flag([MP4, b"plain text"])
    rows = load_flagged(tmp_path, iface.components)
    names = [[Path(v).relative_to(tmp_path).parts[0] for v in row.values] for row in rows]
    assert names == [["value", "output"], ["value", "output"]]  # each under its folder
    assert [Path(v).suffix for row in rows for v in row.values] == [".mp4"] * 2 + [".webm"] * 2
    assert Path(rows[0].values[1]).read_bytes() == MP4


async def test_video_on_the_page_and_in_the_api(tmp_path: Path) -> None:
    iface = Interface(lambda video: video, "video", "video", flagging_dir=tmp_path)
    transport = httpx.ASGITransport(app=iface.app())
    async with iface, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = (await client.get("/")).text
        assert 'accept="video/*"' in page and 'asyncflag.register("video"' in page
        assert "video.controls = true" in page
        config = (await client.get("/api/config")).json()
        assert config["inputs"][0]["type"] == "video"
        shown = await client.post(
            "/api/predict", data={"data": "[null]"}, files={"file0": ("a.mp4", MP4)}
        )
        assert shown.status_code == 200, shown.text
        assert shown.json()["data"][0].startswith("data:video/mp4;base64,")
        refused = await client.post(
            "/api/predict", data={"data": "[null]"}, files={"file0": ("a.mp4", b"<svg/>")}
        )
        assert refused.status_code == 400 and "Video stores videos only" in refused.text


# -- Textbox, Number ---------------------------------------------------------------------


def test_textbox_lines_and_placeholder() -> None:
    one = components.Textbox(label="name", placeholder='Your "name"', max_length=20)
    assert one.control_html("id=x").startswith(
        '<input type="text" placeholder="Your &quot;name&quot;" maxlength="20"'
    )
    many = components.Textbox(lines=4)
    assert many.control_html("id=x") == '<textarea rows="4" id=x></textarea>'
    assert 'asyncflag.register("textbox"' in components.Textbox.page_script
    assert "Enter" in components.Textbox.page_script  # Enter submits a one-line box
    assert one.config()["placeholder"] == 'Your "name"'
    rebuilt = components_from_schema(schema_of([one, many]))
    assert [(c.lines, c.placeholder) for c in rebuilt] == [  # type: ignore[attr-defined]
        (1, 'Your "name"'),
        (4, None),
    ]
    for bad, match in (
        ({"lines": 0}, "lines"),
        ({"lines": 10**6}, "lines must be at most"),
        ({"placeholder": 3}, "placeholder must be a string"),
        ({"placeholder": "x\udc00"}, "lone surrogate"),
    ):
        with pytest.raises(FlagValueError, match=match):
            components.Textbox(**bad)


async def test_number_bounds_and_precision_at_the_call(tmp_path: Path) -> None:
    fn = Seen()
    number = components.Number(label="n", minimum=0, maximum=10, precision=1)
    iface = Interface(fn, number, components.Number(precision=0), flagging_dir=tmp_path)
    async with iface:
        prediction = await iface.submit(3.14159)
        assert fn.values == [3.1]  # fn receives the rounded value, as in Gradio
        assert prediction.inputs == (3.1,) and prediction.outputs == (3,)
        assert type(prediction.outputs[0]) is int  # precision 0 is an int
        await iface.flag(prediction)
        with pytest.raises(FlagValueError, match="'n': -1 is less than the minimum 0"):
            await iface.submit(-1)
        with pytest.raises(FlagValueError, match=r"'n': 10\.5 is greater than the maximum 10"):
            await iface.submit(10.5)
        with pytest.raises(FlagValueError, match="'n': nan is not between the minimum 0"):
            await iface.flag([float("nan"), 1])
        with pytest.raises(FlagValueError, match="'output' cannot round nan to 0 decimals"):
            await iface.flag([1, float("nan")])
    assert load_flagged(tmp_path, iface.components)[0].values == (3.1, 3)
    never = Interface(fn, components.Number(precision=0, maximum=5), None, flagging_mode="never")
    async with never:  # nothing is stored, yet fn gets what Gradio would hand it
        await never.submit(2.6)
        with pytest.raises(FlagValueError, match="greater than the maximum 5"):
            await never.submit(7)
    assert fn.values[-1] == 3 and type(fn.values[-1]) is int
    assert 'min="0" max="10"' in number.control_html("")
    rebuilt = components_from_schema(schema_of([number]))[0]
    assert (rebuilt.minimum, rebuilt.maximum, rebuilt.precision) == (0, 10, 1)  # type: ignore[attr-defined]
    with pytest.raises(FlagValueError, match="minimum 3 is over maximum 1"):
        components.Number(minimum=3, maximum=1)
    with pytest.raises(FlagValueError, match="precision must be an int from 0"):
        components.Number(precision=-1)
    with pytest.raises(FlagValueError, match="minimum must be a finite number"):
        components.Number(minimum=float("inf"))


# -- Gradio's quickstarts, verbatim but for the import and the async launch -------------


def sepia(input_img: Any) -> Any:
    sepia_filter = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
    sepia_img = input_img.dot(sepia_filter.T)
    sepia_img /= sepia_img.max()
    return sepia_img


async def test_gradio_quickstart_sepia(tmp_path: Path) -> None:
    demo = gr.Interface(sepia, gr.Image(), "image", flagging_dir=tmp_path)
    async with demo:
        prediction = await demo.submit(FileData(png((4, 3), color=(200, 100, 50)), "me.jpg"))
        await demo.flag(prediction)
    (_, toned) = load_flagged(tmp_path, demo.components)[0].values
    with PILImage.open(toned) as image:
        assert image.size == (4, 3) and image.mode == "RGB"
        red, green, blue = image.getpixel((0, 0))  # type: ignore[misc]
        assert red == 255 and red > green > blue  # brownish


async def test_gradio_quickstart_hello_world(tmp_path: Path) -> None:
    def greet(name: str, intensity: float) -> str:
        return "Hello, " + name + "!" * int(intensity)

    # Gradio's uses a "slider": until Slider is built here, a "number" stands in for it
    slider = "slider" if "slider" in component_types() else "number"
    demo = gr.Interface(fn=greet, inputs=["text", slider], outputs=["text"], flagging_dir=tmp_path)
    async with demo:
        prediction = await demo.submit("World", 3)
        assert prediction.outputs == ("Hello, World!!!",)
        await demo.flag(prediction)
    assert load_flagged(tmp_path, demo.components)[0].values == ("World", 3, "Hello, World!!!")


async def test_gradio_quickstart_calculator(tmp_path: Path) -> None:
    def calculator(num1: float, operation: str, num2: float) -> float:
        if operation == "add":
            return num1 + num2
        elif operation == "subtract":
            return num1 - num2
        elif operation == "multiply":
            return num1 * num2
        elif operation == "divide":
            if num2 == 0:
                raise gr.FlagValueError("Cannot divide by zero!")
            return num1 / num2
        raise AssertionError(operation)

    choice = getattr(gr, "Radio", gr.Dropdown)  # Gradio's uses a Radio
    demo = gr.Interface(
        calculator,
        ["number", choice(["add", "subtract", "multiply", "divide"]), "number"],
        "number",
        examples=[
            [45, "add", 3],
            [3.14, "divide", 2],
            [144, "multiply", 2.5],
            [0, "subtract", 1.2],
        ],
        flagging_dir=tmp_path,
    )
    async with demo:
        results = [(await demo.submit(*example)).outputs[0] for example in demo.examples or []]
        assert results == [48, 1.57, 360.0, -1.2]
        with pytest.raises(gr.FlagValueError, match="Cannot divide by zero"):
            await demo.submit(1, "divide", 0)
        await demo.flag([45, "add", 3, 48])
    assert load_flagged(tmp_path, demo.components)[0].values == (45, "add", 3, 48)


def test_the_components_are_top_level_names() -> None:
    for name in ("Image", "Audio", "File", "Video", "Textbox", "Number", "Checkbox", "Dropdown"):
        assert getattr(gr, name) is getattr(components, name) and name in gr.__all__
    assert type(component_from("video")) is gr.Video


# -- hypothesis round trips ------------------------------------------------------------------

NUMBERS = st.one_of(st.none(), st.integers(-100, 100), st.floats(-100, 100))
VIDEOS = st.one_of(
    st.none(),
    st.binary(max_size=64).map(lambda tail: MP4 + tail),
    st.binary(max_size=64).map(lambda tail: WEBM + tail),
)


@settings(
    max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    rows=st.lists(st.tuples(st.text(max_size=20), NUMBERS, VIDEOS, NUMBERS, VIDEOS), max_size=6),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_flagged_values_read_back(
    rows: list[tuple[str, Any, bytes | None, Any, bytes | None]], backend: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inputs = [
            components.Textbox(label="t", lines=3, placeholder="p"),
            components.Number(label="n", minimum=-100, maximum=100, precision=2),
            components.Video(label="v"),
        ]
        outputs = [components.Number(label="m", precision=0), components.Video(label="w")]

        def model(text: str, number: Any, video: str | None) -> tuple[Any, Any]:
            return number, video

        iface = Interface(model, inputs, outputs, flagging_dir=tmp)

        async def run() -> list[tuple[Any, ...]]:
            expected: list[tuple[Any, ...]] = []
            async with iface:
                for text, number, video, number2, video2 in rows:
                    prediction = await iface.submit(text, number, video)
                    await iface.flag(prediction)
                    await iface.flag([text, number, video, number2, video2])
                    checked = [inputs[0].check(text), inputs[1].check(number)]
                    expected.append((*checked, video, outputs[0].check(checked[1]), video))
                    expected.append((*checked, video, outputs[0].check(number2), video2))
            return expected

        expected = anyio.run(run, backend=backend)
        read = load_flagged(tmp, iface.components) if rows else []
        assert len(read) == len(expected)
        for row, values in zip(read, expected, strict=True):
            text, number, video, number2, video2 = row.values
            assert (text, number, number2) == (values[0], values[1], values[3])
            for saved, given_video in ((video, values[2]), (video2, values[4])):
                if given_video is None:
                    assert saved is None
                else:
                    assert Path(saved).read_bytes() == given_video


# -- through Redis -------------------------------------------------------------------------


async def test_through_the_redis_transport(redis_url: str, tmp_path: Path) -> None:
    from asyncflag import RedisConsumer, RedisStream

    replica = Interface(
        lambda video, n: (video, n),
        [components.Video(label="clip"), components.Number(label="n", precision=1)],
        [gr.Video(label="same"), components.Number(label="m", minimum=0)],
        transport=RedisStream(redis_url, stream="types"),
    )
    consumer = RedisConsumer(redis_url, stream="types", flagging_dir=tmp_path)
    async with consumer, replica:
        prediction = await replica.submit(FileData(MP4, "x.mp4"), 2.26)
        assert await replica.flag(prediction) == 1
    [row] = load_flagged(tmp_path, replica.components)
    clip, n, same, m = row.values
    assert Path(clip).read_bytes() == Path(same).read_bytes() == MP4
    assert Path(clip).suffix == ".mp4" and (n, m) == (2.3, 2.3)


# -- in the real browser -----------------------------------------------------------------

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def clip_echo(name: str, n: float, clip: str) -> tuple[str, str]:
    return f"{name} {n}", clip


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A Textbox, a Number and a Video in, text and a Video out, on uvicorn in a thread."""

    flagging_dir = tmp_path / "flags"
    iface = Interface(
        clip_echo,
        [
            components.Textbox(label="name", placeholder="who?"),
            components.Number(label="n", precision=1),
            components.Video(label="clip"),
        ],
        ["text", components.Video(label="back")],
        flagging_dir=flagging_dir,
        flagging_options=["wrong"],
    )
    with served_in_thread(iface.app()) as url:
        yield url, flagging_dir


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_enter_submits_and_the_video_plays_back(served: tuple[str, Path]) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    url, flagging_dir = served
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(1000, 700) as p:
        p.goto(url + "/")
        expect(p.locator("input#in0")).to_have_attribute("placeholder", "who?")
        p.fill("#in1", "2.26")
        clip: FilePayload = {"name": "clip.mp4", "mimeType": "video/mp4", "buffer": MP4}
        p.set_input_files("#in2", files=[clip])
        p.fill("#in0", "ada")
        p.press("#in0", "Enter")  # a one-line Textbox submits on Enter
        expect(p.locator(".output").first).to_have_text("ada 2.3")
        video = p.locator(".output video")
        expect(video).to_have_count(1)
        assert (video.get_attribute("src") or "").startswith("data:video/mp4;base64,")
        assert video.evaluate("v => v.controls") is True
        p.click("text=Flag as wrong")
        expect(p.locator("#flag-status")).to_contain_text("1 flagged")
        p.screenshot(path=str(ARTIFACTS / "types-video.png"))
    with (flagging_dir / "dataset1.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0][:5] == ["name", "n", "clip", "output 0", "back"]
    assert rows[1][:2] == ["ada", "2.3"] and rows[1][3] == "ada 2.3"
    assert rows[1][2].startswith("clip/") and rows[1][2].endswith(".mp4")
    assert rows[1][4].startswith("back/") and rows[1][5] == "wrong"
    assert (flagging_dir / rows[1][4]).read_bytes() == MP4


def test_gradio_sepia_in_the_browser_with_a_preview(tmp_path: Path) -> None:
    """Gradio's quickstart sepia, served: the chosen image is previewed, then toned and flagged."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium")
    playwright_api = pytest.importorskip("playwright.sync_api")
    import uvicorn

    expect = playwright_api.expect
    demo = gr.Interface(
        sepia, gr.Image(), "image", flagging_dir=tmp_path, flagging_options=["ugly"]
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(demo.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    upload = png((40, 30), color=(30, 120, 200))
    try:
        with playwright_api.sync_playwright() as driver:
            browser = driver.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
            )
            try:
                p = browser.new_page(viewport={"width": 1000, "height": 600})
                p.goto(f"http://127.0.0.1:{port}/")
                preview = p.locator("img.preview")
                expect(preview).to_be_hidden()
                p.set_input_files(
                    "#in0", files=[{"name": "me.png", "mimeType": "image/png", "buffer": upload}]
                )
                expect(preview).to_be_visible()
                assert preview.evaluate("img => img.naturalWidth") == 40  # the chosen image
                p.click("#submit")
                toned = p.locator(".output img")
                expect(toned).to_have_count(1)
                assert (toned.get_attribute("src") or "").startswith("data:image/png;base64,")
                p.click("text=Flag as ugly")
                expect(p.locator("#flag-status")).to_contain_text("1 flagged")
                p.screenshot(path=str(ARTIFACTS / "types-sepia.png"))
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=60)
    [row] = load_flagged(tmp_path, demo.components)
    saved_input, saved_output = row.values
    assert Path(saved_input).read_bytes() == upload
    with PILImage.open(saved_output) as image:
        assert image.size == (40, 30)


@settings(
    max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    pixels=st.lists(
        st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1)),
        min_size=1,
        max_size=3,
    ),
    samples=st.lists(st.integers(-32768, 32767), min_size=1, max_size=50),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_fn_gets_the_pixels_and_samples_and_they_read_back(
    pixels: list[tuple[int, int, int]], samples: list[int], backend: str
) -> None:
    """An uploaded PNG reaches fn as its exact RGB array, a WAV as its exact samples; what
    fn returns is flagged and load_flagged's files decode to it."""
    images = [
        np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
        for h, w, seed in pixels
    ]
    sound = np.array(samples, dtype=np.int16)
    with tempfile.TemporaryDirectory() as tmp:
        got: list[Any] = []

        def model(image: Any, audio: Any) -> tuple[Any, Any]:
            got.append((image, audio))
            return image, audio

        iface = Interface(model, ["image", "audio"], ["image", "audio"], flagging_dir=tmp)

        async def run() -> None:
            async with iface:
                for image in images:
                    buffer = io.BytesIO()
                    PILImage.fromarray(image).save(buffer, format="PNG")
                    upload = FileData(buffer.getvalue(), "x.png")
                    await iface.flag(await iface.submit(upload, wav(sound, 22050)))

        anyio.run(run, backend=backend)
        rows = load_flagged(tmp, iface.components)
        assert len(rows) == len(images) == len(got)
        for image, (seen_image, (rate, seen_sound)), row in zip(images, got, rows, strict=True):
            assert np.array_equal(seen_image, image)
            assert rate == 22050 and np.array_equal(seen_sound, sound)
            _, _, image_file, audio_file = row.values
            with PILImage.open(image_file) as saved:
                assert np.array_equal(np.asarray(saved), image)
            with wave.open(audio_file, "rb") as saved_sound:
                frames = saved_sound.readframes(saved_sound.getnframes())
                assert np.array_equal(np.frombuffer(frames, "<i2"), sound)
