"""The components a Gradio user reaches for: Slider, Radio, CheckboxGroup.

Each is checked at the call, written as the cell Gradio 6's ``CSVLogger`` writes, read
back by ``load_flagged`` as ``fn`` got or returned it (a hypothesis round trip through a
real ``Interface`` on asyncio and trio), travels through Redis (consumer in-process), and
shows in the page: a control to fill and a display, in the real browser too.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from conftest import free_port
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncflag import FlagValueError, Interface, load_flagged
from asyncflag.components import (
    CheckboxGroup,
    Component,
    Radio,
    Slider,
    component_from,
)
from asyncflag.transport.wire import components_from_schema, schema_of

RADIO_CHOICES: list[str | int | float | tuple[str, str | int | float]] = [
    "cat", "3", 3, 2.5, "=1+1", "'quoted", "", "ünï", ("Shown", "hidden value"),
]  # fmt: skip
BOX_CHOICES: list[str | int | float | tuple[str, str | int | float]] = [
    "red", "green", "é", 7, "-2", ("Blue sky", "blue"),
]  # fmt: skip


def all_components() -> list[Component]:
    """One of each new component, with parameters that make the cells interesting."""
    return [
        Slider(0, 10, label="level"),
        Slider(-1, 1, 0.5, step=0.25, precision=2, label="fine"),
        Radio(RADIO_CHOICES, value="cat", label="pick"),
        CheckboxGroup(BOX_CHOICES, value=["red"], label="extras"),
    ]


def echo(*values: Any) -> tuple[Any, ...]:
    """The model: gives back what it got (so each component is an input and an output)."""
    return values


def echo_interface(flagging_dir: Path, **kwargs: Any) -> Interface:
    inputs = all_components()
    outputs = all_components()
    for component in outputs:
        component.label = f"{component.label} out"
    return Interface(echo, inputs, outputs, flagging_dir=flagging_dir, **kwargs)


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


# -- each component alone ----------------------------------------------------------------


def test_shortcuts_name_the_components() -> None:
    assert type(component_from("slider")) is Slider
    assert type(component_from("radio")) is Radio
    assert type(component_from("checkboxgroup")) is CheckboxGroup


def test_slider_checks_range_and_rounds_as_gradio() -> None:
    slider = Slider(0, 10, label="s")
    assert slider.step == 0.1  # Gradio's default: 10 ** floor(log10(range) - 2)
    assert Slider(0, 100).step == 1
    assert [slider.check(v) for v in (0, 10, 2.5, None)] == [0, 10, 2.5, None]
    for bad in (-0.001, 10.5, float("nan"), float("inf")):
        with pytest.raises(FlagValueError, match=r"Slider 's': .* is outside its range 0 to 10"):
            slider.check(bad)
    for bad_type in ("5", True, [5]):
        with pytest.raises(FlagValueError, match="Slider 's' stores a number from 0 to 10"):
            slider.check(bad_type)
    assert Slider(0, 10, precision=0).check(3.6) == 4
    assert type(Slider(0, 10, precision=0).check(3.6)) is int
    assert Slider(0, 1, precision=2).check(0.12345) == 0.12
    with pytest.raises(FlagValueError, match="minimum must be less than maximum"):
        Slider(5, 5)
    with pytest.raises(FlagValueError, match="step must be a positive number"):
        Slider(0, 1, step=0)
    with pytest.raises(FlagValueError, match="outside its range"):
        Slider(0, 1, value=2)
    numpy = pytest.importorskip("numpy")
    assert slider.check(numpy.float32(2.5)) == 2.5 and slider.check(numpy.int64(3)) == 3


def test_radio_takes_its_choices_only() -> None:
    radio = Radio(RADIO_CHOICES, label="r")
    assert [radio.check(v) for v in ("cat", 3, 3.0, "3", None)] == ["cat", 3, 3, "3", None]
    for bad in ("dog", 4, ["cat"], True):
        with pytest.raises(FlagValueError, match="Radio 'r'"):
            radio.check(bad)
    with pytest.raises(FlagValueError, match=r"Radio None: 'x' is not one of the choices \[\]"):
        Radio().check("x")  # no choices: nothing to pick (a Dropdown would take any value)


def test_checkboxgroup_takes_a_list_of_choices() -> None:
    boxes = CheckboxGroup(BOX_CHOICES, label="b")
    assert boxes.check(["red", 7]) == ["red", 7]
    assert boxes.check("red") == ["red"]  # one value stands for a list of one (Gradio)
    assert boxes.check(None) == []
    for bad in (["red", "pink"], [True], {"red"}):
        with pytest.raises(FlagValueError, match="CheckboxGroup 'b'"):
            boxes.check(bad)


def test_cells_are_gradios() -> None:
    """The cells Gradio 6's CSVLogger writes: ``json.dumps`` of the payload for numbers
    and lists, the text for a string (Component.flag)."""
    slider, fine, radio, boxes = all_components()
    assert [slider.to_cell(v) for v in (5, 2.5, None)] == [5, 2.5, ""]
    assert fine.to_cell(fine.check(0.5)) == 0.5
    assert [radio.to_cell(v) for v in ("cat", 3, 2.5)] == ["cat", 3, 2.5]
    # asyncflag's reversible forms where Gradio's are lossy: "3" apart from 3, formulas
    assert [radio.to_cell(v) for v in ("3", "=1+1", "", None)] == ["'3", "'=1+1", "'", ""]
    assert boxes.to_cell(["red", "é", 7]) == json.dumps(["red", "é", 7]) == '["red", "\\u00e9", 7]'
    assert boxes.to_cell([]) == "[]"
    assert boxes.from_cell('["red", "\\u00e9", 7]', Path()) == ["red", "é", 7]
    assert boxes.from_cell('["red","blue"]', Path()) == ["red", "blue"]  # compact JSON too


def test_specs_travel_in_a_stream_schema() -> None:
    rebuilt = components_from_schema(schema_of(all_components()))
    slider, fine, radio, boxes = rebuilt
    assert isinstance(slider, Slider) and (slider.minimum, slider.maximum) == (0, 10)
    assert isinstance(fine, Slider) and (fine.step, fine.precision, fine.value) == (0.25, 2, 0.5)
    assert (
        isinstance(radio, Radio)
        and radio.value == "cat"
        and radio.choices[-1]
        == (
            "Shown",
            "hidden value",
        )
    )
    assert isinstance(boxes, CheckboxGroup) and boxes.value == ["red"]
    assert [c.config() for c in rebuilt] == [c.config() for c in all_components()]


# -- through Interface -----------------------------------------------------------------


@pytest.mark.anyio
async def test_submit_flag_and_load_flagged(tmp_path: Path) -> None:
    iface = echo_interface(tmp_path, flagging_options=["wrong"])
    values = (3, 0.75, 3, ["é", "blue"])
    async with iface:
        prediction = await iface.submit(*values)
        assert prediction.outputs == values
        assert await iface.flag(prediction, option="wrong") == 1
        with pytest.raises(FlagValueError, match="outside its range 0 to 10"):
            await iface.submit(11, 0, None, [])
        with pytest.raises(FlagValueError, match="Radio 'pick out'"):
            await iface.flag([1, 0, None, [], 1, 0, "dog", []], option="wrong")
    rows = read_rows(tmp_path / "dataset1.csv")
    assert rows[0][:4] == ["level", "fine", "pick", "extras"]
    assert rows[1][:8] == ["3", "0.75", "3", '["\\u00e9", "blue"]'] * 2
    flagged = load_flagged(tmp_path, iface.components)
    assert flagged[0].values == values + values
    assert [type(v) for v in flagged[0].values[:3]] == [int, float, int]


# -- the hypothesis round trip -----------------------------------------------------------


def _radio_values() -> st.SearchStrategy[Any]:
    return st.sampled_from([c[1] if isinstance(c, tuple) else c for c in RADIO_CHOICES] + [None])


def _box_values() -> st.SearchStrategy[Any]:
    values = [c[1] if isinstance(c, tuple) else c for c in BOX_CHOICES]
    return st.lists(st.sampled_from(values), max_size=6)


ROW = st.tuples(
    st.one_of(st.none(), st.integers(0, 10), st.floats(0, 10)),
    st.one_of(st.none(), st.floats(-1, 1)),
    _radio_values(),
    _box_values(),
)


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(rows=st.lists(ROW, max_size=8), backend=st.sampled_from(["asyncio", "trio"]))
def test_what_fn_got_and_returned_reads_back(rows: list[tuple[Any, ...]], backend: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        iface = echo_interface(Path(tmp))
        stored: list[tuple[Any, ...]] = []

        async def flag_all() -> None:
            async with iface:
                for row in rows:
                    prediction = await iface.submit(*row)
                    stored.append(prediction.inputs + prediction.outputs)
                    await iface.flag(prediction)

        anyio.run(flag_all, backend=backend)
        read = load_flagged(tmp, iface.components) if rows else []
        assert [row.values for row in read] == stored
        for row, values in zip(rows, stored, strict=True):
            fine = None if row[1] is None else round(row[1], 2)  # precision=2, as Gradio
            assert values[:4] == (row[0], fine, row[2], row[3])  # what fn got is stored
            assert values[4:] == values[:4]  # and what it returned
            assert [type(v) for v in values[:4]] == [type(v) for v in (row[0], fine, *row[2:])]


# -- the web API and page ------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_web_api_and_page(tmp_path: Path) -> None:
    iface = echo_interface(tmp_path)
    transport = httpx.ASGITransport(app=iface.app())
    async with iface, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        config = (await client.get("/api/config")).json()
        assert config["inputs"][0] == {
            "type": "slider", "label": "level", "minimum": 0, "maximum": 10, "step": 0.1,
            "value": None, "precision": None,
        }  # fmt: skip
        assert config["inputs"][2]["type"] == "radio" and config["inputs"][2]["value"] == "cat"
        assert config["inputs"][3]["choices"][-1] == ["Blue sky", "blue"]
        page = (await client.get("/")).text
        assert page.count('<input type="range"') == 2
        assert page.count('<input type="radio"') == len(RADIO_CHOICES)
        assert page.count('<input type="checkbox"') == len(BOX_CHOICES)
        assert 'value="&quot;cat&quot;" checked' in page  # the Radio's value
        assert 'value="&quot;red&quot;" checked' in page  # the CheckboxGroup's value
        for kind in ("slider", "radio", "checkboxgroup"):
            assert page.count(f'asyncflag.register("{kind}"') == 1
        refused = await client.post("/api/predict", json={"data": [99, 0, None, []]})
        assert refused.status_code == 400 and "outside its range" in refused.json()["error"]
        shown = (await client.post("/api/predict", json={"data": [2, 0.5, 3, [7]]})).json()
        assert shown["data"] == [2, 0.5, 3, [7]]
        assert (await client.post("/api/flag", json={"id": shown["id"]})).json() == {"count": 1}
    assert load_flagged(tmp_path, iface.components)[0].values == (2, 0.5, 3, [7]) * 2


# -- through Redis -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_through_the_redis_transport(redis_url: str, tmp_path: Path) -> None:
    from asyncflag import RedisConsumer, RedisStream

    replica = echo_interface(tmp_path / "unused", transport=RedisStream(redis_url, stream="new"))
    consumer = RedisConsumer(redis_url, stream="new", flagging_dir=tmp_path)
    rows = [(10, -1, "", ["-2", "é"]), (None, None, None, [])]
    async with consumer, replica:
        for number, row in enumerate(rows, 1):
            prediction = await replica.submit(*row)
            assert await replica.flag(prediction) == number
    read = load_flagged(tmp_path, replica.components)
    assert [row.values for row in read] == [row + row for row in rows]
    # the consumer rebuilt the components from the stream's schema, parameters and all
    assert read_rows(tmp_path / "dataset1.csv")[1][:4] == ["10", "-1", "'", '["-2", "\\u00e9"]']


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    from streams.redis_server import REDIS_SERVER, RedisServer

    if not os.path.exists(REDIS_SERVER):
        pytest.skip("needs Debian's redis-server (.ci/run installs it)")
    server = RedisServer(tmp_path / "redis", free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


# -- in the real browser -----------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def serve(iface: Interface) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(iface.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    flagging_dir = tmp_path / "flags"
    for url in serve(echo_interface(flagging_dir, flagging_options=["good"])):
        yield url, flagging_dir


def browse(url: str, steps: Callable[[Any, Any], None], screenshot: str) -> None:
    """Open ``url`` in chromium and run ``steps(page, expect)``; keep a screenshot."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.goto(url + "/")
            steps(page, playwright_api.expect)
            page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
        finally:
            browser.close()


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_fill_show_and_flag_in_the_browser(served: tuple[str, Path]) -> None:
    url, flagging_dir = served

    def steps(p: Any, expect: Any) -> None:
        shown = p.locator("#in0 + output")
        expect(shown).to_have_text("0")  # the slider's value beside it
        p.locator("#in0").fill("7.5")
        expect(shown).to_have_text("7.5")
        expect(p.locator("#in1 + output")).to_have_text("0.5")  # its starting value
        p.get_by_label("Shown").check()  # a radio button, by its label
        p.locator("#in3").get_by_label("Blue sky").check()
        p.locator("#in3").get_by_label("é").check()
        p.click("#submit")
        outputs = p.locator(".output")
        expect(outputs.nth(0).locator("output")).to_have_text("7.5")
        expect(outputs.nth(0).locator('input[type="range"]')).to_have_value("7.5")
        expect(outputs.nth(2)).to_have_text("hidden value")
        expect(outputs.nth(3)).to_have_text("red, é, blue")
        p.click("text=good")
        expect(p.locator("#flag-status")).to_contain_text("1 flagged")

    browse(url, steps, "gradio-choices.png")
    rows = read_rows(flagging_dir / "dataset1.csv")
    assert rows[1][:4] == ["7.5", "0.5", "hidden value", '["red", "\\u00e9", "blue"]']
    assert rows[1][4:8] == rows[1][:4]
