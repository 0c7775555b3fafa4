"""``Dataframe``: a table as Gradio's, end to end.

What ``fn`` receives by ``type`` (pandas, numpy, a list of rows), what it may return,
the checks at the call (cells, ragged rows, limits), Gradio's JSON cell, ``load_flagged``
in the component's form, the web API and page, a hypothesis round trip through a real
``Interface`` (asyncio and trio), the Redis round trip with a forged entry dead-lettered,
and a real-browser test that edits a cell, submits and flags.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np
import pandas as pd
import pytest
from conftest import chromium_page, served_in_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncflag import Dataframe, FlagValueError, Interface, components, load_flagged
from asyncflag.components import component_from
from asyncflag.transport.redis import as_bytes
from asyncflag.transport.wire import components_from_schema, schema_of

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def double_scores(table: pd.DataFrame) -> pd.DataFrame:
    """The model: doubles the score column of the table it is given."""
    assert isinstance(table, pd.DataFrame)
    return table.assign(score=table["score"] * 2)


def scores(flagging_dir: Path, **kwargs: Any) -> Interface:
    return Interface(
        double_scores,
        Dataframe(label="table", headers=["name", "score"]),
        Dataframe(label="doubled"),
        flagging_dir=flagging_dir,
        **kwargs,
    )


# -- the class alone -------------------------------------------------------------------


def test_the_shortcut_and_top_level_name() -> None:
    assert type(component_from("dataframe")) is Dataframe is components.Dataframe


def test_what_fn_may_return_becomes_the_same_table() -> None:
    table = Dataframe(label="t")
    expected = {"headers": ["a", "b"], "data": [[1, "x"], [2, None]]}
    assert table.check(pd.DataFrame({"a": [1, 2], "b": ["x", None]})) == expected
    assert table.check({"headers": ["a", "b"], "data": [(1, "x"), [2, None]]}) == expected
    assert table.check(np.array([[1.5, 2.0]])) == {"headers": ["1", "2"], "data": [[1.5, 2.0]]}
    assert table.check([[np.int64(3), np.bool_(True)]]) == {
        "headers": ["1", "2"],
        "data": [[3, True]],
    }
    # pandas' missing value is None in the cell
    assert table.check(pd.DataFrame({"x": [1.0, float("nan")]}))["data"] == [[1.0], [None]]  # type: ignore[index]
    named = Dataframe(label="n", headers=["p", "q"])
    assert named.check([[1, 2]]) == {"headers": ["p", "q"], "data": [[1, 2]]}
    assert table.check(None) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("text", "stores a list of rows"),
        ([[1, 2], [3]], "row 1 has 1 cells, row 0 has 2"),
        ([[object()]], "row 0, column 0 is .*a cell must be a string, a number"),
        ([[float("inf")]], "a cell must be a finite number"),
        ([["ok"], "row"], "row 1 is 'row'; each row must be a list"),
        (np.zeros(3), "must have 2 dimensions"),
        ({"headers": ["a"], "data": [[1, 2]]}, "1 headers for rows of 2 cells"),
        ({"rows": []}, "stores"),
        ({"headers": "ab", "data": []}, "headers must be a list of strings"),
        ([["\ud800"]], "Dataframe 't'"),
        ([[10**5000]], "an int of more than"),
    ],
)
def test_bad_tables_are_refused_at_the_call(value: Any, message: str) -> None:
    with pytest.raises(FlagValueError, match=message):
        Dataframe(label="t").check(value)


def test_size_limits_in_cells_and_bytes() -> None:
    with pytest.raises(FlagValueError, match=r"more than 4 cells.*raise max_cells"):
        Dataframe(label="t", max_cells=4).check([[1, 2, 3]] * 2)
    with pytest.raises(FlagValueError, match=r"6 cells \(more than 4\)"):
        Dataframe(label="t", max_cells=4).check(np.zeros((3, 2)))
    with pytest.raises(FlagValueError, match=r"6 cells \(more than 4\)"):
        Dataframe(label="t", max_cells=4).check(pd.DataFrame(np.zeros((3, 2))))
    with pytest.raises(FlagValueError, match=r"bytes of JSON \(more than 100\)"):
        Dataframe(label="t", max_size=100).check([["x" * 100]])
    assert Dataframe(label="t", max_cells=4).check([[1, 2]] * 2) is not None
    # endless rows, or an endless row, stop at the limit
    with pytest.raises(FlagValueError, match="more than 4 rows"):
        Dataframe(label="t", max_cells=4).check(itertools.repeat([]))
    with pytest.raises(FlagValueError, match="more than 4 cells"):
        Dataframe(label="t", max_cells=4).check([itertools.count()])


def test_parameters_are_checked() -> None:
    with pytest.raises(FlagValueError, match="Dataframe type must be 'pandas' or 'numpy'"):
        Dataframe(type="polars")  # type: ignore[arg-type]
    with pytest.raises(FlagValueError, match="headers must be a list of strings"):
        Dataframe(headers="ab")


def test_what_fn_receives_by_type(tmp_path: Path) -> None:
    value = {"headers": ["a", "b"], "data": [[1, "x"], [2, None]]}
    frame = Dataframe().preprocess(value, tmp_path)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["a", "b"]
    array = Dataframe(type="numpy").preprocess(value, tmp_path)
    assert isinstance(array, np.ndarray) and array.shape == (2, 2) and array[0, 1] == "x"
    numbers = Dataframe(type="numpy").preprocess({"headers": ["a"], "data": [[1], [2]]}, tmp_path)
    assert numbers.dtype.kind == "i" and numbers.tolist() == [[1], [2]]
    assert Dataframe(type="array").preprocess(value, tmp_path) == value["data"]


def test_without_pandas_type_pandas_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(FlagValueError, match=r"pip install 'asyncflag\[dataframe\]'"):
        Dataframe().preprocess({"headers": ["a"], "data": [[1]]}, tmp_path)
    assert Dataframe(type="array").preprocess({"headers": ["a"], "data": [[1]]}, tmp_path) == [[1]]


def test_the_cell_is_gradios_json() -> None:
    table = Dataframe(label="t", type="array")
    cell = table.to_cell(table.check({"headers": ["a"], "data": [["=1+1"]]}))
    assert isinstance(cell, str)
    assert json.loads(cell) == {"headers": ["a"], "data": [["=1+1"]], "metadata": None}
    assert table.from_cell(cell, Path()) == [["=1+1"]]
    assert table.to_cell(None) == "" and table.from_cell("", Path()) is None
    with pytest.raises(ValueError, match="a Dataframe cell is the JSON of"):
        table.from_cell('{"data": 3}', Path())


def test_its_spec_travels_with_its_parameters() -> None:
    rebuilt = components_from_schema(
        schema_of([Dataframe(label="t", headers=["a"], max_cells=9, max_size=999)])
    )
    (table,) = rebuilt
    assert isinstance(table, Dataframe)
    assert (table.label, table.headers, table.max_cells, table.max_size) == ("t", ["a"], 9, 999)


# -- through Interface -----------------------------------------------------------------


@pytest.mark.anyio
async def test_submit_flag_and_load_flagged(tmp_path: Path) -> None:
    iface = scores(tmp_path, flagging_options=["wrong"])
    async with iface:
        prediction = await iface.submit([["ann", 1], ["bob", 2.5]])
        assert prediction.outputs == (
            {"headers": ["name", "score"], "data": [["ann", 2], ["bob", 5.0]]},
        )
        assert await iface.flag(prediction, option="wrong") == 1
        with pytest.raises(FlagValueError, match="row 1 has 1 cells"):
            await iface.submit([["ann", 1], ["bob"]])
    rows = read_rows(tmp_path / "dataset1.csv")
    assert rows[0][:2] == ["table", "doubled"]
    assert json.loads(rows[1][0]) == {
        "headers": ["name", "score"],
        "data": [["ann", 1], ["bob", 2.5]],
        "metadata": None,
    }
    (row,) = load_flagged(tmp_path, iface.components)
    given, doubled = row.values
    assert isinstance(given, pd.DataFrame) and isinstance(doubled, pd.DataFrame)
    assert given.to_numpy().tolist() == [["ann", 1.0], ["bob", 2.5]]
    assert doubled.to_dict(orient="list") == {"name": ["ann", "bob"], "score": [2.0, 5.0]}


@pytest.mark.anyio
async def test_the_web_api_and_page(tmp_path: Path) -> None:
    iface = scores(tmp_path)
    transport = httpx.ASGITransport(app=iface.app())
    async with iface, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        config = (await client.get("/api/config")).json()
        assert config["inputs"][0]["type"] == "dataframe"
        assert config["inputs"][0]["headers"] == ["name", "score"]
        page = (await client.get("/")).text
        assert page.count('asyncflag.register("dataframe"') == 1
        assert "data-start=" in page
        refused = await client.post("/api/predict", json={"data": [{"data": [[1], [1, 2]]}]})
        assert refused.status_code == 400
        assert "give every row the same number of cells" in refused.json()["error"]
        sent = {"headers": ["name", "score"], "data": [["cy", 4]]}
        shown = (await client.post("/api/predict", json={"data": [sent]})).json()
        assert shown["data"] == [{"headers": ["name", "score"], "data": [["cy", 8]]}]
        assert (await client.post("/api/flag", json={"id": shown["id"]})).json() == {"count": 1}
    (row,) = load_flagged(tmp_path, [Dataframe(type="array"), Dataframe(type="array")])
    assert row.values == ([["cy", 4]], [["cy", 8]])


# -- the hypothesis round trip -----------------------------------------------------------

CELLS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
)


@st.composite
def tables(draw: st.DrawFn) -> list[list[Any]]:
    width = draw(st.integers(1, 4))
    return draw(st.lists(st.lists(CELLS, min_size=width, max_size=width), max_size=5))


@settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(rows=st.lists(tables(), max_size=6), backend=st.sampled_from(["asyncio", "trio"]))
def test_flagged_tables_read_back_equal(rows: list[list[list[Any]]], backend: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        iface = Interface(
            lambda table: table, Dataframe(type="array"), Dataframe(type="array"), flagging_dir=tmp
        )

        async def flag_all() -> list[int]:
            async with iface:
                return [await iface.flag([table, table]) for table in rows]

        assert anyio.run(flag_all, backend=backend) == list(range(1, len(rows) + 1))
        read = load_flagged(tmp, iface.components) if rows else []
        assert [row.values for row in read] == [(table, table) for table in rows]


# -- through Redis -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_through_the_redis_transport(redis_url: str, tmp_path: Path) -> None:
    import coredis

    from asyncflag import RedisConsumer, RedisStream
    from asyncflag.transport.wire import VERSION, WireBatch, WireRow, encode_batch

    replica = Interface(
        double_scores,
        Dataframe(label="table", headers=["name", "score"], max_cells=10),
        Dataframe(label="doubled"),
        transport=RedisStream(redis_url, stream="tables"),
    )
    consumer = RedisConsumer(redis_url, stream="tables", flagging_dir=tmp_path)
    async with consumer, replica:
        prediction = await replica.submit([["ann", 1]])
        assert await replica.flag(prediction) == 1
    read = [Dataframe(type="array"), Dataframe(type="array")]
    assert [row.values for row in load_flagged(tmp_path, read)] == [([["ann", 1]], [["ann", 2]])]

    # The consumer rebuilt the limit: a forged entry over it is dead-lettered.
    entry = encode_batch(
        WireBatch(
            VERSION, "forger", 1, schema_of(replica.components),
            [WireRow(0, [[[1, 2]] * 6, None], None, None, None)],
        )
    )  # fmt: skip
    async with coredis.Redis.from_url(redis_url, decode_responses=False) as client:
        await client.xadd("tables", {b"batch": entry})
        async with RedisConsumer(redis_url, stream="tables", flagging_dir=tmp_path) as running:
            with anyio.fail_after(30):
                while running.stats.dead_letters < 1:
                    await anyio.sleep(0.02)
        dead = await client.xrange("tables:dead", "-", "+")
    assert "more than 10 cells" in as_bytes(dead[0].field_values[b"reason"]).decode()
    assert len(load_flagged(tmp_path, read)) == 1


# -- in the real browser -----------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:

    flagging_dir = tmp_path / "flags"
    iface = Interface(
        double_scores,
        Dataframe([["ann", 1], ["bob", 2]], label="table", headers=["name", "score"]),
        Dataframe(label="doubled"),
        flagging_dir=flagging_dir,
        flagging_options=["wrong"],
    )
    with served_in_thread(iface.app()) as url:
        yield url, flagging_dir


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_edit_a_cell_in_the_browser(served: tuple[str, Path]) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    url, flagging_dir = served
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(1000, 600) as p:
        p.goto(url + "/")
        cell = p.locator("#in0 tbody tr").nth(1).locator("td").nth(1)
        cell.fill("7")
        p.click("#submit")
        output = p.locator(".output table.dataframe")
        expect(output.locator("tbody tr").nth(1)).to_have_text("bob14")
        expect(output.locator("th")).to_have_text(["name", "score"])
        p.click("text=Flag as wrong")
        expect(p.locator("#flag-status")).to_contain_text("1 flagged")
        p.screenshot(path=str(ARTIFACTS / "dataframe.png"))
    rows = read_rows(flagging_dir / "dataset1.csv")
    assert json.loads(rows[1][0])["data"] == [["ann", 1], ["bob", 7]]
    assert json.loads(rows[1][1])["data"] == [["ann", 2], ["bob", 14]]
    assert rows[1][2] == "wrong"


def two_tables(
    fixed: list[list[Any]], free: list[list[Any]], shown: list[list[Any]]
) -> tuple[int, list[list[Any]]]:
    return len(fixed), free


@pytest.fixture
def served_editable(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    flagging_dir = tmp_path / "flags"
    iface = Interface(
        two_tables,
        [
            Dataframe([["ann", 1], ["bob", 2]], headers=["name", "score"], type="array"),
            Dataframe([[1, 2]], type="array", label="free"),  # no headers: columns free
            # Gradio's keywords are taken at run time (a static checker sees __init__ alone)
            Dataframe([["read", "only"]], type="array", label="shown", interactive=False),  # type: ignore[call-arg]
        ],
        ["number", Dataframe(type="array", label="echo")],
        flagging_dir=flagging_dir,
        flagging_options=["ok"],
    )
    with served_in_thread(iface.app()) as url:
        yield url, flagging_dir


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_add_and_remove_rows_and_columns_in_the_browser(
    served_editable: tuple[str, Path],
) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    url, flagging_dir = served_editable
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(1000, 700) as p:
        p.goto(url + "/")
        fixed, free = p.locator("#in0"), p.locator("#in1")
        # interactive=False: no tools, no editing
        expect(p.locator("#in2 .table-tools")).to_have_count(0)
        expect(p.locator("#in2 td").first).not_to_have_attribute("contenteditable", "true")
        # headers given: rows only
        expect(fixed.locator(".table-tools button")).to_have_text(["+ row", "\u2212 row"])
        fixed.get_by_role("button", name="+ row").click()
        new_row = fixed.locator("tbody tr").nth(2).locator("td")
        new_row.nth(0).fill("cy")
        new_row.nth(1).fill("3")
        fixed.locator("tbody tr").nth(0).locator("td").nth(0).click()  # ann's row
        fixed.get_by_role("button", name="\u2212 row").click()
        expect(fixed.locator("tbody tr")).to_have_count(2)
        # no headers: columns too, renamed in place
        free.get_by_role("button", name="+ column").click()
        expect(free.locator("th")).to_have_text(["1", "2", "3"])
        free.locator("th").nth(2).fill("z")
        free.locator("tbody td").nth(2).fill("x")
        free.locator("tbody td").nth(0).click()  # column "1"
        free.get_by_role("button", name="\u2212 column").click()
        free.get_by_role("button", name="+ row").click()
        free.locator("tbody tr").nth(1).locator("td").nth(0).fill("5")
        free.locator("tbody tr").nth(1).locator("td").nth(1).fill("y")
        p.screenshot(path=str(ARTIFACTS / "dataframe-edit-before.png"))
        p.click("#submit")
        outputs = p.locator(".output")
        expect(outputs.nth(0)).to_have_text("2")
        # fn gets (and returns) the rows alone with type="array", as in Gradio
        expect(outputs.nth(1).locator("tbody tr")).to_have_text(["2x", "5y"])
        p.click("text=ok")
        expect(p.locator("#flag-status")).to_contain_text("1 flagged")
        p.screenshot(path=str(ARTIFACTS / "dataframe-edit.png"))
    rows = read_rows(flagging_dir / "dataset1.csv")
    assert json.loads(rows[1][0])["data"] == [["bob", 2], ["cy", 3]]
    assert json.loads(rows[1][2])["data"] == [["read", "only"]]
    assert json.loads(rows[1][1]) == {
        "headers": ["2", "z"],
        "data": [[2, "x"], [5, "y"]],
        "metadata": None,
    }
