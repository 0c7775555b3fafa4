"""``Gallery``: several images with captions in one cell, as Gradio's, end to end.

What ``fn`` receives by ``type``, what it may return, the checks at the call (images as
``Image`` checks them, captions, ``max_images``, ``max_size``), Gradio's JSON cell with
the images saved under the component's folder, ``load_flagged`` (and hostile cells read
back), the web API with several ``file<N>`` parts, a hypothesis round trip through a real
``Interface`` (asyncio and trio), the Redis round trip with forged entries dead-lettered,
and a real-browser test that uploads two images, submits and flags.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np
import pytest
from conftest import CHROMIUM, chromium_page, served_in_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image as PILImage

import asyncflag
from asyncflag import FileData, FlagValueError, Gallery, Interface, components, load_flagged
from asyncflag.components import Component, component_from, saved_file
from asyncflag.errors import UnsafePathError
from asyncflag.escaping import escape, unescape
from asyncflag.transport.redis import as_bytes
from asyncflag.transport.wire import (
    RowChecker,
    WireError,
    WireRow,
    components_from_schema,
    file_value,
    schema_of,
)

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def png(color: tuple[int, int, int], size: tuple[int, int] = (3, 2)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


RED, BLUE = png((255, 0, 0)), png((0, 0, 255))


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def captioned(images: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """The model: each image path given, captioned with its number."""
    return [(path, f"image {i}: {caption}") for i, (path, caption) in enumerate(images)]


# -- the class alone -------------------------------------------------------------------


def test_the_shortcut_and_top_level_names() -> None:
    assert type(component_from("gallery")) is Gallery is components.Gallery is asyncflag.Gallery
    for names in (asyncflag.__all__, components.__all__):
        at = names.index("Gallery")  # in alphabetical order among its neighbours
        assert names[at - 1] < "Gallery" < names[at + 1]


def test_what_fn_may_return(tmp_path: Path) -> None:
    gallery = Gallery(label="g")
    path = tmp_path / "blue.png"
    path.write_bytes(BLUE)
    array = np.zeros((2, 3, 3), dtype=np.uint8)
    checked = gallery.check(
        [array, (str(path), "blue"), {"image": RED, "caption": None}, FileData(RED, "r.png")]
    )
    assert checked is not None
    assert [caption for _, caption in checked] == [None, "blue", None, None]
    assert checked[1][0] == path.absolute()
    assert np.array_equal(checked[0][0], array) and checked[0][0] is not array  # copied
    assert gallery.check(None) is None and gallery.check([]) == []
    assert gallery.check([PILImage.new("L", (2, 2))])[0][0].mode == "L"  # type: ignore[index]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a.png", "stores a list of images"),
        ({"image": RED}, "stores a list of images"),
        (7, "stores a list of images"),
        ([b"<html>"], "image 0: .*not a PNG, JPEG"),
        ([(RED, "ok"), (b"GIF8", "x")], "image 1: .*not a PNG"),
        ([(RED, 3)], "a caption is a string or None, got int"),
        ([(RED, "a", "b")], "a pair is \\(image, caption\\), got 3 items"),
        ([None], "image 0: the image is None"),
        ([np.zeros((2, 2), dtype=np.int64) - 1], "integer pixels must be in 0..255"),
        ([(RED, "\ud800")], "lone surrogate"),
    ],
)
def test_bad_values_are_refused_at_the_call(value: Any, message: str) -> None:
    with pytest.raises(FlagValueError, match=message):
        Gallery(label="g").check(value)


def test_an_image_refused_is_named_by_the_gallery_and_its_number() -> None:
    gallery = Gallery()
    gallery.label = "renamed"  # as an Interface names an unlabelled input after fn's parameter
    with pytest.raises(FlagValueError) as refused:
        gallery.check([RED, b"<svg/>"])
    assert str(refused.value).startswith("Gallery 'renamed', image 1: the content is not a PNG")


def test_limits_are_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FlagValueError, match=r"3 images is over the limit of 2 \(Gallery\(max"):
        Gallery(label="g", max_images=2).check([RED, RED, BLUE])
    assert len(Gallery(max_images=2).check([RED, BLUE]) or []) == 2
    limit = len(RED) + len(BLUE) - 1
    with pytest.raises(FlagValueError, match=f"more than the limit of {limit} bytes together"):
        Gallery(label="g", max_size=limit).check([RED, BLUE])
    with pytest.raises(FlagValueError, match="more than the limit of 10 bytes"):
        Gallery(max_size=10).check([np.zeros((2, 2, 3), dtype=np.uint8)])  # 12 bytes of pixels
    with pytest.raises(
        FlagValueError,
        match=r"image 0: 3 x 2 pixels is over the limit of 5 pixels \(Gallery\(max_pixels",
    ):
        Gallery(max_pixels=5).check([RED])
    for bad in ({"max_images": 0}, {"max_size": -1}, {"type": "base64"}):
        with pytest.raises(FlagValueError):
            Gallery(**bad)


def test_what_fn_receives_by_type(tmp_path: Path) -> None:
    value = Gallery().check([(RED, "red"), BLUE])
    grey = Gallery().check([PILImage.new("L", (2, 2), 7)])
    paths = Gallery().preprocess(value, tmp_path)  # filepath: Gradio's default
    assert [Path(p).read_bytes() for p, _ in paths] == [RED, BLUE]
    assert [c for _, c in paths] == ["red", None]
    assert all(Path(p).parent == tmp_path for p, _ in paths)
    arrays_ = Gallery(type="numpy").preprocess(value, tmp_path)
    assert arrays_[0][0].shape == (2, 3, 3) and arrays_[0][0][0, 0].tolist() == [255, 0, 0]
    assert Gallery(type="numpy").preprocess(grey, tmp_path)[0][0].shape == (2, 2)  # no mode change
    pils = Gallery(type="pil").preprocess(value, tmp_path)
    assert isinstance(pils[1][0], PILImage.Image) and pils[1][0].getpixel((0, 0)) == (0, 0, 255)
    assert Gallery().preprocess(None, tmp_path) is None
    assert Gallery().preprocess([], tmp_path) is None  # as Gradio: no images is None


def test_its_spec_travels_with_its_parameters() -> None:
    gallery = Gallery(label="g", max_images=3, max_size=1000, max_pixels=50)
    (rebuilt,) = components_from_schema(schema_of([gallery]))
    assert isinstance(rebuilt, Gallery)
    assert (rebuilt.label, rebuilt.max_images, rebuilt.max_size, rebuilt.max_pixels) == (
        "g",
        3,
        1000,
        50,
    )


def test_one_files_in_a_cell_protocol_and_no_second_path() -> None:
    """The sinks, the wire, the interface, read and web ask a component for its files
    (``holds_files``, ``files``, ``with_files``...), never whether it is a FileComponent."""
    package = Path(asyncflag.__file__).parent
    for name in [
        "interface.py",
        "read.py",
        "web.py",
        "sinks/csvfile.py",
        "sinks/datasets.py",
        "transport/wire.py",
        "transport/redis.py",
    ]:
        assert "FileComponent" not in (package / name).read_text(encoding="utf-8"), name
    image, gallery = components.Image(), Gallery()
    assert image.holds_files and gallery.holds_files and not components.Textbox().holds_files
    assert image.with_files(RED, image.files(RED)) == RED
    assert image.files(None) == [] and gallery.files(None) == []
    pairs = gallery.check([(RED, "r")])
    assert gallery.with_files(pairs, ["g/x.png"]) == [("g/x.png", "r")]


class Attachments(Component):
    """A user's component holding files: named attachments, ``{name: bytes}``, through
    the same protocol as Gallery and Image (nothing in the sinks or the wire knows it)."""

    type_name = "test_attachments"
    holds_files = True

    def check(self, value: Any) -> dict[str, bytes] | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise self._reject(value, "a dict of name -> bytes")
        checked = {}
        for name, data in value.items():
            if isinstance(data, FileData):  # as a stream carried it
                data = data.data
            if not isinstance(data, bytes):
                raise self._reject(data, "bytes")
            checked[name] = data
        return checked

    def files(self, value: Any) -> list[Any]:
        return [] if value is None else list(value.values())

    def with_files(self, value: Any, files: Sequence[Any]) -> Any:
        return None if value is None else dict(zip(value, files, strict=True))

    def file_payload(self, file: Any) -> tuple[bytes | Path, str]:
        return file, ".txt"

    def to_cell(self, value: Any) -> str:
        return "" if value is None else escape(json.dumps(value))

    def from_cell(self, cell: str, flagging_dir: Path) -> Any:
        text = unescape(cell)
        if not text:
            return None
        return {k: saved_file(self, v, flagging_dir) for k, v in json.loads(text).items()}


@pytest.mark.anyio
async def test_a_users_component_holding_files_goes_the_same_way(tmp_path: Path) -> None:
    value = {"a": b"first", "b": b"second"}
    iface = Interface(lambda x: x, Attachments(label="att"), [], flagging_dir=tmp_path)
    async with iface:
        assert await iface.flag([value]) == 1
    cell = json.loads(read_rows(tmp_path / "dataset1.csv")[1][0])
    assert set(cell) == {"a", "b"} and all(path.startswith("att/") for path in cell.values())
    ((read,),) = [row.values for row in load_flagged(tmp_path, iface.components)]
    assert {name: Path(path).read_bytes() for name, path in read.items()} == value
    # through the wire: the files travel as [name, bytes] and come back checked
    travelling = file_value(iface.components[0], value)
    assert travelling == {"a": ["file.txt", b"first"], "b": ["file.txt", b"second"]}
    checker = RowChecker(list(iface.components), max_file_size=100)
    assert checker(WireRow(0, [travelling], None, None, None)) == (value,)
    with pytest.raises(WireError, match="a path is refused"):
        checker(WireRow(0, [{"a": "/etc/passwd"}], None, None, None))


# -- through Interface -----------------------------------------------------------------


@pytest.mark.anyio
async def test_submit_flag_and_load_flagged(tmp_path: Path) -> None:
    iface = Interface(
        captioned, Gallery(label="photos"), Gallery(label="out"), flagging_dir=tmp_path
    )
    async with iface:
        prediction = await iface.submit([(RED, "red"), BLUE])
        assert [caption for _, caption in prediction.outputs[0]] == [
            "image 0: red",
            "image 1: None",
        ]
        assert await iface.flag(prediction) == 1
        assert await iface.flag([None, []]) == 2
        with pytest.raises(FlagValueError, match=r"image 0: .*not a PNG"):
            await iface.submit([b"not an image"])
    rows = read_rows(tmp_path / "dataset1.csv")
    cell = json.loads(rows[1][0])
    assert cell == [
        {"image": f"photos/{sha(RED)[:40]}.png", "caption": "red"},
        {"image": f"photos/{sha(BLUE)[:40]}.png", "caption": None},
    ]
    assert (tmp_path / cell[0]["image"]).read_bytes() == RED
    assert [item["caption"] for item in json.loads(rows[1][1])] == ["image 0: red", "image 1: None"]
    assert rows[2][:2] == ["", "[]"]
    first, second = load_flagged(tmp_path, iface.components)
    photos, out = first.values
    assert [(Path(p).read_bytes(), c) for p, c in photos] == [(RED, "red"), (BLUE, None)]
    assert all(os.path.isabs(p) for p, _ in out)
    assert second.values == (None, [])


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("../outside.png", "climbs out with '..'"),
        ("/etc/passwd", "is an absolute path"),
        ("g/link.png", "leads outside through a symlink"),
    ],
)
def test_a_hostile_cell_is_never_read_as_a_flagged_file(
    tmp_path: Path, image: str, why: str
) -> None:
    root = tmp_path / "flags"
    (root / "g").mkdir(parents=True)
    (tmp_path / "outside.png").write_bytes(RED)
    (root / "g" / "link.png").symlink_to(tmp_path / "outside.png")
    (root / "g" / "ok.png").write_bytes(BLUE)
    cell = json.dumps([{"image": "g/ok.png", "caption": None}, {"image": image, "caption": "x"}])
    with (root / "dataset1.csv").open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([["g", "flag", "username", "timestamp"], [cell, "", "", ""]])
    with pytest.raises(UnsafePathError, match=re.escape(why)):
        load_flagged(root, [Gallery(label="g")])
    assert load_flagged(root, [Gallery(label="g")], unsafe_paths="skip") == []


@pytest.mark.parametrize(
    "cell", ['{"image": "g/a.png"}', "[1]", '[{"image": 1, "caption": null}]', "[{", "x"]
)
def test_a_cell_that_is_not_a_gallery_is_refused(tmp_path: Path, cell: str) -> None:
    with pytest.raises(ValueError, match="a Gallery cell is the JSON of a list of"):
        Gallery(label="g").from_cell(cell, tmp_path)


@pytest.mark.anyio
async def test_the_web_api_and_page(tmp_path: Path) -> None:
    iface = Interface(
        captioned,
        Gallery(label="photos", max_images=2),
        Gallery(label="out"),
        flagging_dir=tmp_path,
    )
    transport = httpx.ASGITransport(app=iface.app())
    async with iface, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        config = (await client.get("/api/config")).json()
        assert config["inputs"][0] == {
            "type": "gallery",
            "label": "photos",
            "max_size": None,
            "max_images": 2,
            "receives": "filepath",
        }
        page = (await client.get("/")).text
        assert page.count('asyncflag.register("gallery"') == 1
        assert 'type="file" multiple accept="image/*"' in page
        parts = [("file0", ("a.png", RED, "image/png")), ("file0", ("b.png", BLUE, "image/png"))]
        shown = (await client.post("/api/predict", data={"data": "[null]"}, files=parts)).json()
        (out,) = shown["data"]
        assert [item["caption"] for item in out] == ["image 0: None", "image 1: None"]
        assert out[0]["image"].startswith("data:image/png;base64,")
        assert (await client.post("/api/flag", json={"id": shown["id"]})).json() == {"count": 1}
        too_many = await client.post(
            "/api/predict", data={"data": "[null]"}, files=[*parts, parts[0]]
        )
        assert too_many.status_code == 400
        assert "takes at most 2 file(s) (field file0), got 3" in too_many.json()["error"]
        path = await client.post("/api/predict", json={"data": [[["/etc/hosts", None]]]})
        assert path.status_code == 400 and "takes a file upload" in path.json()["error"]
        html = await client.post(
            "/api/predict", data={"data": "[null]"}, files=[("file0", ("x.png", b"<svg>", "x"))]
        )
        assert html.status_code == 400 and "not a PNG" in html.json()["error"]
    ((photos, _),) = [row.values for row in load_flagged(tmp_path, iface.components)]
    assert [Path(p).read_bytes() for p, _ in photos] == [RED, BLUE]


# -- the hypothesis round trip -----------------------------------------------------------

IMAGES = arrays(np.uint8, st.tuples(st.integers(1, 3), st.integers(1, 3), st.just(3)))
CAPTIONS = st.none() | st.text(st.characters(exclude_categories=["Cs"]), max_size=10)


@settings(
    max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    galleries=st.lists(st.lists(st.tuples(IMAGES, CAPTIONS), max_size=3), max_size=3),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_flagged_galleries_read_back_equal(
    galleries: list[list[tuple[Any, str | None]]], backend: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        iface = Interface(lambda g: g, Gallery(type="numpy"), Gallery(), flagging_dir=tmp)

        async def flag_all() -> list[int]:
            async with iface:
                return [await iface.flag([gallery, gallery]) for gallery in galleries]

        assert anyio.run(flag_all, backend=backend) == list(range(1, len(galleries) + 1))
        read = load_flagged(tmp, iface.components) if galleries else []
        for row, gallery in zip(read, galleries, strict=True):
            for value in row.values:
                assert [c for _, c in value] == [c for _, c in gallery]
                for (path, _), (array, _) in zip(value, gallery, strict=True):
                    with PILImage.open(path) as image:
                        assert np.array_equal(np.asarray(image), array)


# -- through Redis -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_through_the_redis_transport(redis_url: str, tmp_path: Path) -> None:
    import coredis

    from asyncflag import RedisConsumer, RedisStream
    from asyncflag.transport.wire import VERSION, WireBatch, WireRow, encode_batch

    replica = Interface(
        captioned,
        Gallery(label="photos", max_images=2),
        Gallery(label="out"),
        transport=RedisStream(redis_url, stream="galleries"),
    )
    consumer = RedisConsumer(redis_url, stream="galleries", flagging_dir=tmp_path)
    async with consumer, replica:
        prediction = await replica.submit([(RED, "red"), np.zeros((1, 1, 3), dtype=np.uint8)])
        assert await replica.flag(prediction) == 1
    ((photos, out),) = [row.values for row in load_flagged(tmp_path, replica.components)]
    assert Path(photos[0][0]).read_bytes() == RED and photos[0][1] == "red"
    with PILImage.open(photos[1][0]) as image:
        assert image.size == (1, 1)
    assert [c for _, c in out] == ["image 0: red", "image 1: None"]

    # Forged entries: a path instead of bytes, content that is not an image, more images
    # than the rebuilt max_images, a value that is not a list of pairs.
    schema = schema_of(replica.components)
    forged: list[list[Any]] = [
        [[["/etc/passwd", None]], None],
        [[[["x.png", b"<html>"], None]], None],
        [[[["a.png", RED], None]] * 3, None],
        [[RED], None],
    ]
    async with coredis.Redis.from_url(redis_url, decode_responses=False) as client:
        for number, values in enumerate(forged, start=1):
            entry = WireBatch(
                VERSION, "forger", number, schema, [WireRow(0, values, None, None, None)]
            )
            await client.xadd("galleries", {b"batch": encode_batch(entry)})
        async with RedisConsumer(redis_url, stream="galleries", flagging_dir=tmp_path) as running:
            with anyio.fail_after(30):
                while running.stats.dead_letters < len(forged):
                    await anyio.sleep(0.02)
        dead = await client.xrange("galleries:dead", "-", "+")
    reasons = [as_bytes(entry.field_values[b"reason"]).decode() for entry in dead]
    assert "a file travels as [name, bytes]" in reasons[0]
    assert "not a PNG" in reasons[1]
    assert "3 images is over the limit of 2" in reasons[2]
    assert "travels as a list of [image, caption] pairs" in reasons[3]
    assert len(load_flagged(tmp_path, replica.components)) == 1


# -- in the real browser -----------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    flagging_dir = tmp_path / "flags"
    iface = Interface(
        captioned,
        Gallery(label="photos"),
        Gallery(label="captioned"),
        flagging_dir=flagging_dir,
        flagging_options=["wrong"],
    )
    with served_in_thread(iface.app()) as url:
        yield url, flagging_dir


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_upload_two_images_in_the_browser(served: tuple[str, Path], tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    url, flagging_dir = served
    ARTIFACTS.mkdir(exist_ok=True)
    red, blue = tmp_path / "red.png", tmp_path / "blue.png"
    red.write_bytes(png((255, 0, 0), (40, 30)))
    blue.write_bytes(png((0, 0, 255), (30, 40)))
    with chromium_page(1000, 700) as p:
        p.goto(url + "/")
        p.set_input_files("#in0", [str(red), str(blue)])
        expect(p.locator(".gallery-grid.previews img")).to_have_count(2)
        p.click("#submit")
        figures = p.locator(".output .gallery-grid figure")
        expect(figures).to_have_count(2)
        expect(figures.locator("figcaption")).to_have_text(["image 0: None", "image 1: None"])
        expect(figures.first.locator("img")).to_have_attribute("src", re.compile("^data:image/png"))
        p.click("text=Flag as wrong")
        expect(p.locator("#flag-status")).to_contain_text("1 flagged")
        p.screenshot(path=str(ARTIFACTS / "gallery.png"))
    rows = read_rows(flagging_dir / "dataset1.csv")
    given_ = json.loads(rows[1][0])
    assert [(flagging_dir / item["image"]).read_bytes() for item in given_] == [
        red.read_bytes(),
        blue.read_bytes(),
    ]
    assert [item["caption"] for item in json.loads(rows[1][1])] == [
        "image 0: None",
        "image 1: None",
    ]
    assert rows[1][2] == "wrong"
