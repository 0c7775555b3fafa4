"""A component type defined here, in the test file alone, works everywhere a built-in does.

``Rating`` (1 to 5 stars, or none) is a user's component: one class that declares its
type name and shortcuts, checks its values, writes and reads its CSV cell, travels in a
stream's schema (with a parameter of its own), and brings its own page control and
script. Nothing in ``asyncflag/`` knows of it. It is used through ``Interface``
(submit, flag, ``load_flagged``, on asyncio and trio), the web API and page (in the
real browser too), the Redis transport (consumer in-process) and a hypothesis round trip.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from conftest import CHROMIUM, chromium_page, served_in_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncflag import FlagValueError, Interface, components, load_flagged
from asyncflag.components import Component, ComponentSpec, component_from, register
from asyncflag.transport.redis import as_bytes
from asyncflag.transport.wire import components_from_schema, schema_of


class Rating(Component):
    """One to five stars; ``None`` for no rating (refused when ``required``)."""

    type_name = "rating"
    shortcuts = ("rating", "stars")

    class Spec(ComponentSpec):
        required: bool = False

    page_style = """
.rating { display: flex; gap: .1rem; }
.rating button.star { font-size: 1.8rem; line-height: 1; border: none; background: none;
  color: #d4d4d4; padding: 0 .1rem; margin: 0; cursor: pointer; }
.rating button.star.on { color: #f59e0b; }
.output[data-type=rating] { color: #f59e0b; font-size: 1.4rem; }
"""
    page_script = """
(() => {
  function paint(el) {
    const stars = Number(el.dataset.value || 0);
    el.querySelectorAll("button.star").forEach(b => {
      const on = Number(b.dataset.value) <= stars;
      b.classList.toggle("on", on);
      b.textContent = on ? "\\u2605" : "\\u2606";
      b.setAttribute("aria-pressed", String(on));
    });
  }
  asyncflag.register("rating", {
    setup(el) {
      el.querySelectorAll("button.star").forEach(b => b.addEventListener("click", () => {
        el.dataset.value = b.dataset.value;
        paint(el);
      }));
      paint(el);
    },
    read: el => el.dataset.value ? Number(el.dataset.value) : null,
    show(el, value) {
      el.textContent = "\\u2605".repeat(value) + "\\u2606".repeat(5 - value);
      el.setAttribute("aria-label", `${value} of 5 stars`);
    },
  });
})();
"""

    def __init__(self, label: str | None = None, *, required: bool = False) -> None:
        super().__init__(label)
        self.required = required

    def check(self, value: Any) -> int | None:
        if value is None and not self.required:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise self._reject(value, "an int from 1 to 5 (stars)")
        return value

    def to_cell(self, value: Any) -> int | str:
        return "" if value is None else int(value)

    def from_cell(self, cell: str, flagging_dir: Path) -> int | None:
        return int(cell) if cell else None

    def control_html(self, attributes: str) -> str:
        stars = "".join(
            f'<button type="button" class="star" data-value="{n}" aria-label="{n} stars">'
            "\u2606</button>"
            for n in range(1, 6)
        )
        return f'<div class="rating" role="group" {attributes}>{stars}</div>'


def review(text: str, stars: int | None) -> int | None:
    """The model: agrees with the reviewer, except that it never gives fewer than 2 stars."""
    return None if stars is None else max(stars, 2)


def reviews(flagging_dir: Path, **kwargs: Any) -> Interface:
    return Interface(
        review,
        [components.Textbox(label="text"), Rating(label="stars")],
        Rating(label="predicted"),
        flagging_dir=flagging_dir,
        **kwargs,
    )


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


# -- the class alone -------------------------------------------------------------------


def test_the_class_registers_its_type_and_shortcuts() -> None:
    assert type(component_from("rating")) is Rating
    assert type(component_from("Stars")) is Rating
    assert Rating(label="r").config() == {"type": "rating", "label": "r"}
    register(Rating)  # the same class again (a module imported twice) is fine

    with pytest.raises(FlagValueError, match=r"'rating' of .* is already taken by .*Rating"):

        class OtherRating(Component):
            type_name = "rating"

    with pytest.raises(FlagValueError, match=r"shortcut 'text' .* already taken"):

        class Stars(Component):
            type_name = "stars_other"
            shortcuts = ("text",)

    with pytest.raises(FlagValueError, match="lower-case identifier"):

        class Bad(Component):
            type_name = "Not A Name"

    class Unfinished(Component):
        type_name = "unfinished_rating"

        class Spec(ComponentSpec):
            scale: int = 5  # but no attribute "scale"

    with pytest.raises(FlagValueError, match="Spec lists 'scale', which the component has no"):
        schema_of([Unfinished(label="u")])


def test_its_values_are_checked_at_the_call() -> None:
    rating = Rating(label="r")
    assert [rating.check(v) for v in (1, 5, None)] == [1, 5, None]
    for bad in (0, 6, 2.5, "3", True):
        with pytest.raises(FlagValueError, match="Rating 'r' stores an int from 1 to 5"):
            rating.check(bad)
    with pytest.raises(FlagValueError, match="stores an int from 1 to 5"):
        Rating(label="r", required=True).check(None)


def test_its_spec_travels_with_its_parameter() -> None:
    schema = schema_of([components.Textbox(label="t"), Rating(label="r", required=True)])
    rebuilt = components_from_schema(schema)
    assert tuple(type(c) for c in rebuilt) == (components.Textbox, Rating)
    assert rebuilt[1].label == "r" and rebuilt[1].required is True  # type: ignore[attr-defined]


# -- through Interface -----------------------------------------------------------------


@pytest.mark.anyio
async def test_submit_flag_and_load_flagged(tmp_path: Path) -> None:
    iface = reviews(tmp_path, flagging_options=["wrong", "right"])
    async with iface:
        prediction = await iface.submit("too harsh", 1)
        assert prediction.outputs == (2,)
        assert await iface.flag(prediction, option="wrong") == 1
        assert await iface.flag(["no stars", None, None], option="right") == 2
        with pytest.raises(FlagValueError, match="Rating 'stars' stores an int from 1 to 5"):
            await iface.submit("too many", 6)
        with pytest.raises(FlagValueError, match="Rating 'predicted' stores"):
            await iface.flag(["x", 3, "4"], option="wrong")
    rows = read_rows(tmp_path / "dataset1.csv")
    assert rows[0][:3] == ["text", "stars", "predicted"]
    assert rows[1][:4] == ["too harsh", "1", "2", "wrong"]  # the cell is the digit
    assert rows[2][:4] == ["no stars", "", "", "right"]
    flagged = load_flagged(tmp_path, iface.components)
    assert [row.values for row in flagged] == [("too harsh", 1, 2), ("no stars", None, None)]
    assert [row.flag for row in flagged] == ["wrong", "right"]


@pytest.mark.anyio
async def test_the_shortcut_works_in_an_interface(tmp_path: Path) -> None:
    iface = Interface(review, ["text", "stars"], "rating", flagging_dir=tmp_path)
    assert tuple(type(c) for c in iface.components) == (components.Textbox, Rating, Rating)
    async with iface:
        assert await iface.flag(["ok", 4, 4]) == 1
    assert load_flagged(tmp_path, iface.components)[0].values == ("ok", 4, 4)


@pytest.mark.anyio
async def test_the_web_api_and_page(tmp_path: Path) -> None:
    iface = reviews(tmp_path)
    transport = httpx.ASGITransport(app=iface.app())
    async with iface, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        config = (await client.get("/api/config")).json()
        assert config["inputs"][1] == {"type": "rating", "label": "stars"}
        assert config["outputs"] == [{"type": "rating", "label": "predicted"}]
        page = (await client.get("/")).text
        assert page.count('class="star"') == 5  # the input's own control
        assert 'data-type="rating"' in page and 'asyncflag.register("rating"' in page
        assert page.count('asyncflag.register("rating"') == 1  # one script per type
        refused = await client.post("/api/predict", json={"data": ["x", 9]})
        assert refused.status_code == 400
        assert "stores an int from 1 to 5" in refused.json()["error"]
        shown = (await client.post("/api/predict", json={"data": ["fine", 4]})).json()
        assert shown["data"] == [4]
        flagged = await client.post("/api/flag", json={"id": shown["id"]})
        assert flagged.json() == {"count": 1}
    assert load_flagged(tmp_path, iface.components)[0].values == ("fine", 4, 4)


# -- the hypothesis round trip -----------------------------------------------------------

RATINGS = st.one_of(st.none(), st.integers(1, 5))


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    rows=st.lists(st.tuples(st.text(max_size=20), RATINGS, RATINGS), max_size=12),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_flagged_ratings_read_back_equal(
    rows: list[tuple[str, int | None, int | None]], backend: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        iface = reviews(Path(tmp))

        async def flag_all() -> list[int]:
            async with iface:
                return [await iface.flag(list(row)) for row in rows]

        assert anyio.run(flag_all, backend=backend) == list(range(1, len(rows) + 1))
        read = load_flagged(tmp, iface.components) if rows else []
        assert [row.values for row in read] == rows


# -- through Redis -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_through_the_redis_transport(redis_url: str, tmp_path: Path) -> None:
    import coredis

    from asyncflag import RedisConsumer, RedisStream
    from asyncflag.transport.wire import VERSION, WireBatch, WireRow, encode_batch

    replica = Interface(
        review,
        [components.Textbox(label="text"), Rating(label="stars")],
        Rating(label="predicted", required=True),
        transport=RedisStream(redis_url, stream="ratings"),
    )
    consumer = RedisConsumer(redis_url, stream="ratings", flagging_dir=tmp_path)
    async with consumer, replica:
        prediction = await replica.submit("good", 5)
        assert await replica.flag(prediction, option="x") == 1
        assert await replica.flag(["none given", None, 3]) == 2
    rows = load_flagged(tmp_path, replica.components)
    assert [row.values for row in rows] == [("good", 5, 5), ("none given", None, 3)]
    assert read_rows(tmp_path / "dataset1.csv")[1][:3] == ["good", "5", "5"]

    # The consumer rebuilt Rating with its parameter: an entry breaking it is refused.
    entry = encode_batch(
        WireBatch(
            VERSION, "forger", 1, schema_of(replica.components),
            [WireRow(0, ["x", 1, None], None, None, None)],
        )
    )  # fmt: skip
    async with coredis.Redis.from_url(redis_url, decode_responses=False) as client:
        await client.xadd("ratings", {b"batch": entry})
        async with RedisConsumer(redis_url, stream="ratings", flagging_dir=tmp_path) as running:
            with anyio.fail_after(30):
                while running.stats.dead_letters < 1:
                    await anyio.sleep(0.02)
        dead = await client.xrange("ratings:dead", "-", "+")
    assert (
        "Rating 'predicted' stores an int from 1 to 5"
        in as_bytes(dead[0].field_values[b"reason"]).decode()
    )
    assert len(load_flagged(tmp_path, replica.components)) == 2


# -- in the real browser -----------------------------------------------------------------

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The reviews app on uvicorn in a thread of this process (Rating is defined here)."""

    flagging_dir = tmp_path / "flags"
    iface = reviews(flagging_dir, flagging_options=["wrong"])
    with served_in_thread(iface.app()) as url:
        yield url, flagging_dir


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_four_stars_in_the_browser(served: tuple[str, Path]) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    url, flagging_dir = served
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(1000, 600) as p:
        p.goto(url + "/")
        p.fill("#in0", "a lovely day")
        p.click('#in1 button.star[data-value="4"]')
        expect(p.locator("#in1 button.star.on")).to_have_count(4)
        p.click("#submit")
        output = p.locator(".output").first
        expect(output).to_have_text("\u2605\u2605\u2605\u2605\u2606")
        p.click("text=Flag as wrong")
        expect(p.locator("#flag-status")).to_contain_text("1 flagged")
        p.screenshot(path=str(ARTIFACTS / "custom-rating.png"))
    rows = read_rows(flagging_dir / "dataset1.csv")
    assert rows[0][:3] == ["text", "stars", "predicted"]
    assert rows[1][:4] == ["a lovely day", "4", "4", "wrong"]
