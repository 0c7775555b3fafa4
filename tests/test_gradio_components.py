"""The components a Gradio user reaches for: Slider, Radio, CheckboxGroup, Label, ColorPicker,
Code, Markdown and HTML.

Each is checked at the call, written as the cell Gradio 6's ``CSVLogger`` writes, read
back by ``load_flagged`` as ``fn`` got or returned it (a hypothesis round trip through a
real ``Interface`` on asyncio and trio), travels through Redis (consumer in-process), and
shows in the page: a control to fill and a display, in the real browser too.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import msgspec
import pytest
from conftest import CHROMIUM, served_in_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncflag import FlagValueError, Interface, load_flagged
from asyncflag.components import (
    HTML,
    CheckboxGroup,
    Code,
    ColorPicker,
    Component,
    Label,
    Markdown,
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
        Label("scores", num_top_classes=3),
        ColorPicker("#336699", label="colour"),
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
    assert type(component_from("label")) is Label
    assert type(component_from("colorpicker")) is ColorPicker


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
    assert Radio(["a"], type="value").check("a") == "a"
    for cls in (Radio, CheckboxGroup):  # Gradio's "value" and "index" only (see
        # tests/test_gradio_keywords.py for "index")
        with pytest.raises(FlagValueError, match="type"):
            cls(["a"], type="indices")  # type: ignore[arg-type]


def test_checkboxgroup_takes_a_list_of_choices() -> None:
    boxes = CheckboxGroup(BOX_CHOICES, label="b")
    assert boxes.check(["red", 7]) == ["red", 7]
    assert boxes.check("red") == ["red"]  # one value stands for a list of one (Gradio)
    assert boxes.check(None) == []
    for bad in (["red", "pink"], [True], {"red"}):
        with pytest.raises(FlagValueError, match="CheckboxGroup 'b'"):
            boxes.check(bad)


def test_label_keeps_classes_and_top_confidences() -> None:
    label = Label("l", num_top_classes=2)
    assert label.check({"cat": 0.2, "dog": 0.7, 3: 0.1, "fox": 0.5}) == {"dog": 0.7, "fox": 0.5}
    ranked = label.check({"a": 0.1, "b": 0.9})
    assert isinstance(ranked, dict) and list(ranked) == ["b", "a"]  # highest first
    plain: list[Any] = ["cat", 3, 2.5, None, {}]
    assert [label.check(v) for v in plain] == plain
    for bad, message in [
        ({"cat": "high"}, "the confidence of 'cat' must be a number, got 'high'"),
        ({"cat": "0.5"}, "the confidence of 'cat' must be a number, got '0.5'"),
        ({"cat": float("nan")}, "the confidence of 'cat' is nan"),
        ({True: 0.5}, "stores a class"),
        ([0.5], "stores a class"),
        (float("inf"), "a class cannot be inf"),
    ]:
        with pytest.raises(FlagValueError, match="Label 'l'.*" + re.escape(message)):
            label.check(bad)
    numpy = pytest.importorskip("numpy")
    assert label.check({"a": numpy.float32(0.5)}) == {"a": 0.5}
    assert label.check(numpy.int64(7)) == 7 and type(label.check(numpy.int64(7))) is int
    with pytest.raises(ValueError, match="a Label cell is the JSON of"):
        label.from_cell('{"label": [1]}', Path())


def test_colorpicker_takes_hex_colours() -> None:
    colour = ColorPicker(label="c")
    assert [colour.check(v) for v in ("#aBc", "#00ff7f", None)] == ["#aBc", "#00ff7f", None]
    for bad in ("red", "#12345", "00ff7f", "#00ff7f ", 0xFF, "#ggg"):
        with pytest.raises(FlagValueError, match="ColorPicker 'c' stores a colour as \"#rrggbb\""):
            colour.check(bad)
    assert 'value="#aabbcc"' in ColorPicker("#abc").control_html("")


def test_cells_are_gradios() -> None:
    """The cells Gradio 6's CSVLogger writes: ``json.dumps`` of the payload for numbers
    and lists, the text for a string (Component.flag)."""
    slider, fine, radio, boxes, label, colour = all_components()
    assert [slider.to_cell(v) for v in (5, 2.5, None)] == [5, 2.5, ""]
    # Label: json.dumps(LabelData.model_dump()), as Gradio's Component.flag writes it
    assert label.to_cell(label.check({"dog": 0.25, "cat": 0.75})) == (
        '{"label": "cat", "confidences": [{"label": "cat", "confidence": 0.75}, '
        '{"label": "dog", "confidence": 0.25}]}'
    )
    assert label.to_cell("cat") == '{"label": "cat", "confidences": null}'
    assert label.to_cell(None) == '{"label": null, "confidences": null}'
    assert label.from_cell("", Path()) is None  # Gradio's cell of a None input
    assert label.to_cell({}) == '{"label": null, "confidences": []}'  # apart from None
    assert [colour.to_cell(v) for v in ("#a0b1c2", None)] == ["#a0b1c2", ""]
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
    slider, fine, radio, boxes, label, colour = rebuilt
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
    assert isinstance(label, Label) and label.num_top_classes == 3
    assert isinstance(colour, ColorPicker) and colour.value == "#336699"
    assert [c.config() for c in rebuilt] == [c.config() for c in all_components()]


# -- through Interface -----------------------------------------------------------------


@pytest.mark.anyio
async def test_submit_flag_and_load_flagged(tmp_path: Path) -> None:
    iface = echo_interface(tmp_path, flagging_options=["wrong"])
    values = (3, 0.75, 3, ["é", "blue"], {"cat": 0.75, "dog": 0.25}, "#00ff7f")
    async with iface:
        prediction = await iface.submit(*values)
        assert prediction.outputs == values
        assert await iface.flag(prediction, option="wrong") == 1
        with pytest.raises(FlagValueError, match="outside its range 0 to 10"):
            await iface.submit(11, 0, None, [], None, None)
        with pytest.raises(FlagValueError, match="Radio 'pick out'"):
            dog: list[Any] = [1, 0, None, [], None, None, 1, 0, "dog", [], None, None]
            await iface.flag(dog, option="wrong")
        with pytest.raises(FlagValueError, match="Label 'scores out': the confidence of 'x'"):
            await iface.flag(
                [1, 0, None, [], None, None, 1, 0, None, [], {"x": "high"}, None], option="wrong"
            )
    rows = read_rows(tmp_path / "dataset1.csv")
    assert rows[0][:4] == ["level", "fine", "pick", "extras"]
    scores = (
        '{"label": "cat", "confidences": [{"label": "cat", "confidence": 0.75}, '
        '{"label": "dog", "confidence": 0.25}]}'
    )
    assert rows[1][:12] == ["3", "0.75", "3", '["\\u00e9", "blue"]', scores, "#00ff7f"] * 2
    flagged = load_flagged(tmp_path, iface.components)
    assert flagged[0].values == values + values
    assert [type(v) for v in flagged[0].values[:3]] == [int, float, int]


def greet(name: str, intensity: int) -> str:
    """Gradio's quickstart function, verbatim."""
    return "Hello, " + name + "!" * int(intensity)


@pytest.mark.anyio
async def test_gradios_hello_world_with_a_slider(tmp_path: Path) -> None:
    """``gr.Interface(fn=greet, inputs=["text", "slider"], outputs=["text"])``."""
    demo = Interface(fn=greet, inputs=["text", "slider"], outputs=["text"], flagging_dir=tmp_path)
    slider = demo.input_components[1]
    assert isinstance(slider, Slider) and (slider.minimum, slider.maximum, slider.step) == (
        0,
        100,
        1,
    )
    async with demo:
        prediction = await demo.submit("World", 3)
        assert prediction.outputs == ("Hello, World!!!",)
        assert await demo.flag(prediction) == 1
        with pytest.raises(FlagValueError, match="outside its range 0 to 100"):
            await demo.submit("World", 101)
    assert load_flagged(tmp_path, demo.components)[0].values == ("World", 3, "Hello, World!!!")


# -- the hypothesis round trip -----------------------------------------------------------


def _radio_values() -> st.SearchStrategy[Any]:
    return st.sampled_from([c[1] if isinstance(c, tuple) else c for c in RADIO_CHOICES] + [None])


def _box_values() -> st.SearchStrategy[Any]:
    values = [c[1] if isinstance(c, tuple) else c for c in BOX_CHOICES]
    return st.lists(st.sampled_from(values), max_size=6)


CLASSES = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)
CONFIDENCE = st.floats(allow_nan=False, allow_infinity=False)
ROW = st.tuples(
    st.one_of(st.none(), st.integers(0, 10), st.floats(0, 10)),
    st.one_of(st.none(), st.floats(-1, 1)),
    _radio_values(),
    _box_values(),
    st.one_of(st.none(), CLASSES, st.dictionaries(CLASSES, CONFIDENCE, max_size=6)),
    st.one_of(st.none(), st.from_regex(r"#([0-9a-fA-F]{3}){1,2}", fullmatch=True)),
)


def expected(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """What each component stores of what ``fn`` got, worked out apart from the code."""
    level, fine, pick, extras, scores, colour = row
    if isinstance(scores, dict):  # the 3 most confident classes (num_top_classes=3)
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        scores = {key: float(value) for key, value in ranked[:3]}
    fine = None if fine is None else round(fine, 2)  # precision=2, as Gradio rounds
    return (level, fine, pick, extras, scores, colour)


@settings(
    max_examples=40,
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
            assert values == expected(row) * 2  # as an input, and returned as an output
            assert [type(v) for v in values] == [type(v) for v in expected(row)] * 2


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
        bad_colour = await client.post("/api/predict", json={"data": [1, 0, None, [], None, "red"]})
        assert bad_colour.status_code == 400
        assert 'stores a colour as "#rrggbb"' in bad_colour.json()["error"]
        assert refused.status_code == 400 and "outside its range" in refused.json()["error"]
        sent = [2, 0.5, 3, [7], "cat", "#123456"]
        shown = (await client.post("/api/predict", json={"data": sent})).json()
        label_shown = {"label": "cat", "confidences": None}  # as Gradio's page gets it
        assert shown["data"] == [*sent[:4], label_shown, sent[5]]
        assert (await client.post("/api/flag", json={"id": shown["id"]})).json() == {"count": 1}
    assert load_flagged(tmp_path, iface.components)[0].values == tuple(sent) * 2


# -- through Redis -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_through_the_redis_transport(redis_url: str, tmp_path: Path) -> None:
    from asyncflag import RedisConsumer, RedisStream

    replica = echo_interface(tmp_path / "unused", transport=RedisStream(redis_url, stream="new"))
    consumer = RedisConsumer(redis_url, stream="new", flagging_dir=tmp_path)
    rows = [
        (10, -1, "", ["-2", "é"], {"a": 1.0, 2: 0.5, 2.5: 0.0}, "#ABC"),
        (None, None, None, [], None, None),
    ]
    async with consumer, replica:
        for number, row in enumerate(rows, 1):
            prediction = await replica.submit(*row)
            assert await replica.flag(prediction) == number
    read = load_flagged(tmp_path, replica.components)
    assert [row.values for row in read] == [row + row for row in rows]
    # the consumer rebuilt the components from the stream's schema, parameters and all
    cells = read_rows(tmp_path / "dataset1.csv")[1][:6]
    assert cells[:4] == ["10", "-1", "'", '["-2", "\\u00e9"]']
    assert json.loads(cells[4])["confidences"][1] == {"label": 2, "confidence": 0.5}
    assert cells[5] == "#ABC"


@pytest.mark.anyio
async def test_forged_stream_entries_are_dead_lettered(redis_url: str, tmp_path: Path) -> None:
    """The consumer checks each value again with the components the schema rebuilds: an
    entry whose values (or parameters) break them is set aside, never written."""
    import coredis

    from asyncflag import RedisConsumer
    from asyncflag.transport.redis import as_bytes
    from asyncflag.transport.wire import VERSION, WireBatch, WireRow, encode_batch

    components = all_components()
    forged: list[tuple[list[Any], str]] = [
        ([99, 0, None, [], None, None], "Slider 'level': 99 is outside its range"),
        ([1, 0, "dog", [], None, None], "Radio 'pick': 'dog' is not one of"),
        ([1, 0, None, ["pink"], None, None], "CheckboxGroup 'extras': 'pink' is not one of"),
        ([1, 0, None, [], {"a": "x"}, None], "Label 'scores': the confidence of 'a'"),
        ([1, 0, None, [], None, "red"], "ColorPicker 'colour' stores a colour as \"#rrggbb\""),
    ]
    bad_specs: list[tuple[dict[str, Any], str]] = [  # parameters the components refuse
        ({"type": "slider", "minimum": 5, "maximum": 1}, "minimum must be less than maximum"),
        ({"type": "radio", "choices": [("a", "a")], "value": "b"}, "'b' is not one of"),
    ]
    forged += [([None], reason) for _, reason in bad_specs]
    schemas = [schema_of(components)] * (len(forged) - len(bad_specs)) + [
        msgspec.msgpack.encode([spec]) for spec, _ in bad_specs
    ]
    async with coredis.Redis.from_url(redis_url, decode_responses=False) as client:
        for sequence, ((values, _), schema) in enumerate(zip(forged, schemas, strict=True), 1):
            batch = WireBatch(
                VERSION, "forger", sequence, schema, [WireRow(0, values, None, None, None)]
            )
            await client.xadd("forged", {b"batch": encode_batch(batch)})
        async with RedisConsumer(redis_url, stream="forged", flagging_dir=tmp_path) as running:
            with anyio.fail_after(30):
                while running.stats.dead_letters < len(forged):
                    await anyio.sleep(0.02)
        dead = await client.xrange("forged:dead", "-", "+")
    reasons = [as_bytes(entry.field_values[b"reason"]).decode() for entry in dead]
    assert len(reasons) == len(forged)
    for reason, (_, expected_reason) in zip(reasons, forged, strict=True):
        assert expected_reason in reason
    assert not list(tmp_path.glob("*.csv"))  # nothing written


# -- in the real browser -----------------------------------------------------------------

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def serve(iface: Interface) -> Iterator[str]:

    with served_in_thread(iface.app()) as url:
        yield url


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
        # a radio button, by its label (the output shows its value= choices too)
        p.locator("#in2").get_by_label("Shown").check()
        p.locator("#in3").get_by_label("Blue sky").check()
        p.locator("#in3").get_by_label("é").check()
        p.fill("#in4", "tabby")  # a Label input: a class as text
        p.locator("#in5").fill("#ff8800")
        p.click("#submit")
        outputs = p.locator(".output")
        expect(outputs.nth(0).locator("output")).to_have_text("7.5")
        expect(outputs.nth(0).locator('input[type="range"]')).to_have_value("7.5")
        picked = "label.choice:has(input:checked)"  # the outputs' choices, picked ones checked
        expect(outputs.nth(2).locator(picked)).to_have_text(["Shown"])
        expect(outputs.nth(2).locator("label.choice")).to_have_count(len(RADIO_CHOICES))
        expect(outputs.nth(3).locator(picked)).to_have_text(["red", "é", "Blue sky"])
        expect(outputs.nth(4).locator(".label-top")).to_have_text("tabby")
        expect(outputs.nth(5)).to_have_text("#ff8800")
        expect(outputs.nth(5).locator(".swatch")).to_have_css(
            "background-color", "rgb(255, 136, 0)"
        )
        p.click("text=good")
        expect(p.locator("#flag-status")).to_contain_text("1 flagged")

    browse(url, steps, "gradio-choices.png")
    rows = read_rows(flagging_dir / "dataset1.csv")
    assert rows[1][:6] == [
        "7.5", "0.5", "hidden value", '["red", "\\u00e9", "blue"]',
        '{"label": "tabby", "confidences": null}', "#ff8800",
    ]  # fmt: skip
    assert rows[1][6:12] == rows[1][:6]


def classify(text: str) -> dict[str, float]:
    """An image classifier's kind of answer: confidences for more classes than shown."""
    return {"cat": 0.62, "dog": 0.25, "fox": 0.08, "owl": 0.05}


@pytest.fixture
def classifier(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    flagging_dir = tmp_path / "flags"
    iface = Interface(classify, "text", Label(num_top_classes=3), flagging_dir=flagging_dir)
    for url in serve(iface):
        yield url, flagging_dir


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_label_bars_in_the_browser(classifier: tuple[str, Path]) -> None:
    url, flagging_dir = classifier

    def steps(p: Any, expect: Any) -> None:
        p.fill("#in0", "a photo")
        p.click("#submit")
        shown = p.locator(".output").first
        expect(shown.locator(".label-top")).to_have_text("cat")
        expect(shown.locator(".label-row")).to_have_count(3)  # num_top_classes=3
        expect(shown.locator(".label-row").nth(1)).to_contain_text("dog25%")
        width = shown.locator(".label-row .bar span").first.evaluate("e => e.style.width")
        assert width == "62%"
        p.click("text=Flag")
        expect(p.locator("#flag-status")).to_contain_text("1 flagged")

    browse(url, steps, "gradio-label.png")
    flagged = load_flagged(flagging_dir, [component_from("text"), Label(num_top_classes=3)])
    assert flagged[0].values == ("a photo", {"cat": 0.62, "dog": 0.25, "fox": 0.08})


# -- Code, Markdown and HTML ----------------------------------------------------------------

HOSTILE = (
    '<script>alert("x")</script><b onclick="alert(1)">bold</b>'
    '<a href="javascript:alert(2)">link</a><img src="x" onerror="alert(3)">'
)
MARKDOWN = "# Title\n\n| a | b |\n|---|---|\n| 1 | ~~2~~ |\n\n" + HOSTILE


def markup() -> list[Component]:
    return [
        Code("print('hi')", "python", lines=3, label="code"),
        Markdown(label="notes", max_length=10_000),
        HTML(label="page"),
    ]


def markup_interface(flagging_dir: Path, **kwargs: Any) -> Interface:
    outputs = markup()
    for component in outputs:
        component.label = f"{component.label} out"
    return Interface(echo, markup(), outputs, flagging_dir=flagging_dir, **kwargs)


def test_markup_components_check_and_write_text_cells() -> None:
    code, notes, page = markup()
    assert type(component_from("code")) is Code
    assert type(component_from("markdown")) is Markdown
    assert type(component_from("html")) is HTML
    for component in (code, notes, page):
        assert [component.check(v) for v in ("x", "", None)] == ["x", "", None]
        # escaped as a Textbox's cell; None (an empty cell, as Gradio) apart from ""
        assert [component.to_cell(v) for v in ("=1+1", "", None)] == ["'=1+1", "'", ""]
        assert [component.from_cell(c, Path()) for c in ("'=1+1", "'", "")] == ["=1+1", "", None]
        with pytest.raises(FlagValueError, match=f"{type(component).__name__} .* stores a str"):
            component.check(b"bytes")
    assert code.to_cell("  x = 1\n") == "  x = 1\n"  # kept as fn returned it (Gradio strips)
    with pytest.raises(FlagValueError, match="10001 characters is over the limit of 10000"):
        notes.check("x" * 10_001)
    with pytest.raises(FlagValueError, match="Code language 'klingon' is not one Gradio knows"):
        Code(language="klingon")
    rebuilt = components_from_schema(schema_of(markup()))
    assert [c.config() for c in rebuilt] == [c.config() for c in markup()]
    assert isinstance(rebuilt[0], Code) and (rebuilt[0].value, rebuilt[0].lines) == (
        "print('hi')",
        3,
    )


@pytest.mark.anyio
async def test_markdown_and_html_reach_the_page_rendered_and_sanitised(tmp_path: Path) -> None:
    code, notes, page = markup()
    rendered = await notes.to_client(MARKDOWN, 0)
    assert "<h1>Title</h1>" in rendered and "<td><s>2</s></td>" in rendered
    cleaned = await page.to_client(HOSTILE, 0)
    for shown in (rendered, cleaned):
        assert "<b>bold</b>" in shown
        for gone in ("<script", "alert", "onclick", "onerror", "javascript:"):
            assert gone not in shown
    assert await code.to_client("<b>x</b>", 0) == "<b>x</b>"  # shown as text by the page
    iface = markup_interface(tmp_path)
    transport = httpx.ASGITransport(app=iface.app())
    async with iface, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        config = (await client.get("/api/config")).json()
        # the initial value is in /api/config too (Gradio's keywords, issue 13)
        assert config["inputs"][0] == {
            "type": "code", "label": "code", "value": "print('hi')", "language": "python",
            "lines": 3,
        }  # fmt: skip
        html_page = (await client.get("/")).text
        assert (
            'class="code" rows="3"' in html_page and "print(&#x27;hi&#x27;)</textarea>" in html_page
        )
        sent = ["x = 1", MARKDOWN, HOSTILE]
        answer = (await client.post("/api/predict", json={"data": sent})).json()
        assert answer["data"] == [sent[0], rendered, cleaned]
        assert (await client.post("/api/flag", json={"id": answer["id"]})).json() == {"count": 1}
    # the text itself is stored and read back: the page's rendering is not
    assert load_flagged(tmp_path, iface.components)[0].values == tuple(sent) * 2


TEXTS = st.one_of(st.none(), st.text(st.characters(exclude_categories=["Cs"]), max_size=40))


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    rows=st.lists(st.tuples(TEXTS, TEXTS, TEXTS), max_size=8),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_markup_reads_back_as_fn_got_it(rows: list[tuple[Any, ...]], backend: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        iface = markup_interface(Path(tmp))

        async def flag_all() -> None:
            async with iface:
                for row in rows:
                    await iface.flag(await iface.submit(*row))

        anyio.run(flag_all, backend=backend)
        read = load_flagged(tmp, iface.components) if rows else []
        assert [row.values for row in read] == [row + row for row in rows]


@pytest.mark.anyio
async def test_markup_through_the_redis_transport(redis_url: str, tmp_path: Path) -> None:
    from asyncflag import RedisConsumer, RedisStream

    replica = markup_interface(tmp_path / "unused", transport=RedisStream(redis_url, stream="m"))
    consumer = RedisConsumer(redis_url, stream="m", flagging_dir=tmp_path)
    rows = [("def f():\n    return 1\n", MARKDOWN, HOSTILE), (None, "", "=cmd")]
    async with consumer, replica:
        for number, row in enumerate(rows, 1):
            assert await replica.flag(await replica.submit(*row)) == number
    assert [row.values for row in load_flagged(tmp_path, replica.components)] == [
        row + row for row in rows
    ]


@pytest.fixture
def served_markup(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    flagging_dir = tmp_path / "flags"
    for url in serve(markup_interface(flagging_dir)):
        yield url, flagging_dir


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_markup_in_the_browser(served_markup: tuple[str, Path]) -> None:
    url, flagging_dir = served_markup
    alerts: list[str] = []

    def steps(p: Any, expect: Any) -> None:
        def refuse(dialog: Any) -> None:
            alerts.append(dialog.message)
            dialog.dismiss()

        p.on("dialog", refuse)
        expect(p.locator("#in0")).to_have_value("print('hi')")
        p.fill("#in0", "def f():\n    return '<b>not bold</b>'")
        p.fill("#in1", MARKDOWN)
        p.fill("#in2", HOSTILE)
        p.click("#submit")
        outputs = p.locator(".output")
        expect(outputs.nth(0).locator("pre code")).to_have_text(
            "def f():\n    return '<b>not bold</b>'"
        )
        font = outputs.nth(0).evaluate("e => getComputedStyle(e.querySelector('pre')).fontFamily")
        assert "monospace" in font
        expect(outputs.nth(1).locator("h1")).to_have_text("Title")
        expect(outputs.nth(1).locator("td s")).to_have_text("2")
        expect(outputs.nth(2).locator("b")).to_have_text("bold")
        expect(outputs.nth(2).locator("script")).to_have_count(0)
        expect(outputs.nth(2).locator("[onerror], [onclick]")).to_have_count(0)
        p.click("text=Flag")
        expect(p.locator("#flag-status")).to_contain_text("1 flagged")

    browse(url, steps, "gradio-markup.png")
    assert alerts == []  # nothing of the hostile HTML ran
    values = load_flagged(flagging_dir, markup_interface(flagging_dir).components)[0].values
    assert values[1:3] == (MARKDOWN, HOSTILE)
