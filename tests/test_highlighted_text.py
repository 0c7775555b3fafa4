"""``HighlightedText``: text with spans marked by a class or a confidence, as Gradio's.

The two forms ``fn`` may return, the checks at the call, Gradio's JSON cell,
``load_flagged``, the web API and page, a hypothesis round trip through a real
``Interface`` (asyncio and trio), the Redis round trip with a forged entry
dead-lettered, and a real-browser test that shows the tags and flags.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np
import pytest
from conftest import chromium_page, served_in_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncflag import FlagValueError, HighlightedText, Interface, components, load_flagged
from asyncflag.components import component_from
from asyncflag.transport.redis import as_bytes
from asyncflag.transport.wire import components_from_schema, schema_of

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def tag_names(text: str) -> dict[str, Any]:
    """The model: marks capitalised words as names, as an NER pipeline's output."""
    entities = []
    start = 0
    for word in text.split(" "):
        if word[:1].isupper():
            entities.append({"entity": "NAME", "start": start, "end": start + len(word)})
        start += len(word) + 1
    return {"text": text, "entities": entities}


def names(flagging_dir: Path, **kwargs: Any) -> Interface:
    return Interface(
        tag_names,
        components.Textbox(label="text"),
        HighlightedText(label="names", color_map={"NAME": "#fde68a"}),
        flagging_dir=flagging_dir,
        **kwargs,
    )


# -- the class alone -------------------------------------------------------------------


def test_the_shortcut_and_top_level_name() -> None:
    assert type(component_from("highlightedtext")) is HighlightedText
    assert components.HighlightedText is HighlightedText


def test_both_forms_become_token_pairs() -> None:
    marked = HighlightedText(label="h")
    assert marked.check([["hello ", "greeting"], ("world", None)]) == [
        ("hello ", "greeting"),
        ("world", None),
    ]
    assert marked.check([("hot", 0.9), ("cold", np.float32(-0.5)), ("n", 1)]) == [
        ("hot", 0.9),
        ("cold", -0.5),
        ("n", 1.0),
    ]
    # as Gradio's postprocess: entities sorted, the text between them kept
    entities = [
        {"entity_group": "LOC", "start": 10, "end": 15},
        {"entity": "PER", "start": 0, "end": 3},
    ]
    assert marked.check({"text": "Ann lives Paris", "entities": entities}) == [
        ("", None),
        ("Ann", "PER"),
        (" lives ", None),
        ("Paris", "LOC"),
        ("", None),
    ]
    assert marked.check({"text": "sun", "entities": []}) == [("sun", None)]
    assert marked.check(None) is None


def test_combine_adjacent_as_gradio() -> None:
    joined = HighlightedText(label="h", combine_adjacent=True, adjacent_separator="_")
    assert joined.check([("a", "X"), ("", None), ("b", "X"), ("c", None)]) == [
        ("a_b", "X"),
        ("c", None),
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("text", "stores"),
        ([("a", "b", "c")], "item 0 is .*a \\(token, class\\) pair"),
        ([(1, None)], "token 0 is 1; a token is a string"),
        ([("a", True)], "the class of token 0 is True"),
        ([("a", float("nan"))], "give a string, a finite confidence number or None"),
        ([("a", {"x": 1})], "the class of token 0"),
        ([("a", 10**400)], "a finite confidence number"),
        ([("a", np.bool_(True))], "the class of token 0"),
        ({"text": "ab"}, "stores"),
        ({"text": "ab", "entities": [{"start": 1, "end": 9}]}, "within the text"),
        ({"text": "ab", "entities": ["x"]}, "entity 0 is 'x'"),
        ([("\ud800", None)], "HighlightedText 'h'"),
    ],
)
def test_bad_values_are_refused_at_the_call(value: Any, message: str) -> None:
    with pytest.raises(FlagValueError, match=message):
        HighlightedText(label="h").check(value)


def test_size_limit_and_parameters() -> None:
    with pytest.raises(FlagValueError, match="over the limit of 100; send less text"):
        HighlightedText(label="h", max_size=100).check([("x" * 100, None)])
    with pytest.raises(FlagValueError, match="color_map must map class names to colours"):
        HighlightedText(color_map={"A": "red;background:url(x)"})


def test_the_cell_is_gradios_json() -> None:
    marked = HighlightedText(label="h")
    cell = marked.to_cell(marked.check([("=1+1", "F"), ("x", 0.5)]))
    assert isinstance(cell, str)
    assert json.loads(cell) == [
        {"token": "=1+1", "class_or_confidence": "F"},
        {"token": "x", "class_or_confidence": 0.5},
    ]
    assert marked.from_cell(cell, Path()) == [("=1+1", "F"), ("x", 0.5)]
    assert marked.to_cell(None) == "" and marked.from_cell("", Path()) is None
    with pytest.raises(ValueError, match="a HighlightedText cell is the JSON of"):
        marked.from_cell('[{"class_or_confidence": 1}]', Path())


def test_its_spec_travels_with_its_parameters() -> None:
    (rebuilt,) = components_from_schema(
        schema_of([HighlightedText(label="h", color_map={"A": "red"}, max_size=50)])
    )
    assert isinstance(rebuilt, HighlightedText)
    assert (rebuilt.color_map, rebuilt.max_size) == ({"A": "red"}, 50)


# -- through Interface -----------------------------------------------------------------


@pytest.mark.anyio
async def test_submit_flag_and_load_flagged(tmp_path: Path) -> None:
    iface = names(tmp_path)
    async with iface:
        prediction = await iface.submit("meet Ann")
        assert prediction.outputs == ([("meet ", None), ("Ann", "NAME"), ("", None)],)
        assert await iface.flag(prediction) == 1
        with pytest.raises(FlagValueError, match="HighlightedText 'names'"):
            await iface.flag(["x", [("x", object())]])
    rows = read_rows(tmp_path / "dataset1.csv")
    assert json.loads(rows[1][1])[1] == {"token": "Ann", "class_or_confidence": "NAME"}
    (row,) = load_flagged(tmp_path, iface.components)
    assert row.values == ("meet Ann", [("meet ", None), ("Ann", "NAME"), ("", None)])


@pytest.mark.anyio
async def test_the_web_api_and_page(tmp_path: Path) -> None:
    iface = Interface(
        lambda marked: marked,
        HighlightedText(label="in"),
        HighlightedText(label="out", color_map={"A": "red"}),
        flagging_dir=tmp_path,
    )
    transport = httpx.ASGITransport(app=iface.app())
    async with iface, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        config = (await client.get("/api/config")).json()
        assert config["outputs"][0]["type"] == "highlightedtext"
        assert config["outputs"][0]["color_map"] == {"A": "red"}
        page = (await client.get("/")).text
        assert page.count('asyncflag.register("highlightedtext"') == 1
        assert 'data-colors="{&quot;A&quot;: &quot;red&quot;}"' in page
        refused = await client.post("/api/predict", json={"data": [[["a", True]]]})
        assert refused.status_code == 400
        shown = (await client.post("/api/predict", json={"data": [[["a", "A"]]]})).json()
        assert shown["data"] == [[["a", "A"]]]


# -- the hypothesis round trip -----------------------------------------------------------

CLASSES = st.one_of(
    st.none(),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=8),
    st.floats(allow_nan=False, allow_infinity=False),
)
PAIRS = st.lists(
    st.tuples(st.text(st.characters(exclude_categories=["Cs"]), max_size=12), CLASSES),
    max_size=6,
)


@settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(rows=st.lists(PAIRS, max_size=6), backend=st.sampled_from(["asyncio", "trio"]))
def test_flagged_values_read_back_equal(
    rows: list[list[tuple[str, str | float | None]]], backend: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        iface = Interface(
            lambda marked: marked, HighlightedText(), HighlightedText(), flagging_dir=tmp
        )

        async def flag_all() -> list[int]:
            async with iface:
                return [await iface.flag([pairs, pairs]) for pairs in rows]

        assert anyio.run(flag_all, backend=backend) == list(range(1, len(rows) + 1))
        read = load_flagged(tmp, iface.components) if rows else []
        assert [row.values for row in read] == [(pairs, pairs) for pairs in rows]


# -- through Redis -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_through_the_redis_transport(redis_url: str, tmp_path: Path) -> None:
    import coredis

    from asyncflag import RedisConsumer, RedisStream
    from asyncflag.transport.wire import VERSION, WireBatch, WireRow, encode_batch

    replica = Interface(
        tag_names,
        components.Textbox(label="text"),
        HighlightedText(label="names", max_size=200),
        transport=RedisStream(redis_url, stream="names"),
    )
    consumer = RedisConsumer(redis_url, stream="names", flagging_dir=tmp_path)
    async with consumer, replica:
        prediction = await replica.submit("Bo")
        assert await replica.flag(prediction) == 1
    rows = load_flagged(tmp_path, replica.components)
    assert [row.values for row in rows] == [("Bo", [("", None), ("Bo", "NAME"), ("", None)])]

    # The consumer rebuilt the limit: a forged entry over it is dead-lettered.
    entry = encode_batch(
        WireBatch(
            VERSION, "forger", 1, schema_of(replica.components),
            [WireRow(0, ["x", [["y" * 300, None]]], None, None, None)],
        )
    )  # fmt: skip
    async with coredis.Redis.from_url(redis_url, decode_responses=False) as client:
        await client.xadd("names", {b"batch": entry})
        async with RedisConsumer(redis_url, stream="names", flagging_dir=tmp_path) as running:
            with anyio.fail_after(30):
                while running.stats.dead_letters < 1:
                    await anyio.sleep(0.02)
        dead = await client.xrange("names:dead", "-", "+")
    assert "over the limit of 200" in as_bytes(dead[0].field_values[b"reason"]).decode()
    assert len(load_flagged(tmp_path, replica.components)) == 1


# -- in the real browser -----------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:

    flagging_dir = tmp_path / "flags"
    iface = names(flagging_dir, flagging_options=["wrong"])
    with served_in_thread(iface.app()) as url:
        yield url, flagging_dir


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_tags_in_the_browser(served: tuple[str, Path]) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    url, flagging_dir = served
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(1000, 500) as p:
        p.goto(url + "/")
        p.fill("#in0", "Ann met Bo in <b>town</b>")
        p.click("#submit")
        marks = p.locator(".output .highlighted mark")
        expect(marks).to_have_count(2)
        expect(marks.first).to_have_text("AnnNAME")
        expect(marks.first.locator(".tag")).to_have_text("NAME")
        assert marks.first.evaluate("m => m.style.backgroundColor") == "rgb(253, 230, 138)"
        expect(p.locator(".output .highlighted")).to_contain_text("<b>town</b>")
        p.click("text=Flag as wrong")
        expect(p.locator("#flag-status")).to_contain_text("1 flagged")
        p.screenshot(path=str(ARTIFACTS / "highlightedtext.png"))
    rows = read_rows(flagging_dir / "dataset1.csv")
    assert rows[1][0] == "Ann met Bo in <b>town</b>"
    assert [t["class_or_confidence"] for t in json.loads(rows[1][1])] == [
        None,
        "NAME",
        None,
        "NAME",
        None,
    ]
    assert rows[1][2] == "wrong"
