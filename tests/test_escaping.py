"""Reversible CSV-injection escaping, alone and through the whole pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncflag import Interface, components, load_flagged
from asyncflag.escaping import escape, unescape


@given(st.text())
def test_unescape_inverts_escape(text: str) -> None:
    assert unescape(escape(text)) == text


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'quoted"])
def test_formula_starts_are_escaped(text: str) -> None:
    assert escape(text) == "'" + text


@pytest.mark.parametrize("text", ["", "plain", "1+1", " =x", "a=b"])
def test_harmless_text_is_left_alone(text: str) -> None:
    assert escape(text) == text


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
formula_text = st.sampled_from(
    ["=", "+", "-", "@", "\t", "\r", "'", '"', ",", "\n", "\x00"]
).flatmap(lambda start: st.text(max_size=30).map(lambda rest: start + rest))
rows = st.lists(
    st.tuples(
        st.text(max_size=40) | formula_text,
        st.integers(-(10**15), 10**15) | st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        json_values,
        st.text(max_size=40) | formula_text,
    ),
    min_size=1,
    max_size=30,
)


def flag_and_read(tmp: Path, batch: list[tuple[Any, ...]], backend: str) -> list[tuple[Any, ...]]:
    iface = Interface(
        lambda *values: values[-1],
        [
            components.Textbox(label="text"),
            components.Number(label="number"),
            components.Checkbox(label="check"),
            components.JSON(label="json"),
        ],
        components.Textbox(label="out"),
        flagging_dir=tmp,
    )

    async def run() -> None:
        async with iface:
            for row in batch:
                await iface.flag(list(row))

    anyio.run(run, backend=backend)
    return [row.values for row in load_flagged(tmp, iface.components)]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=rows)
def test_pipeline_round_trip(
    tmp_path_factory: pytest.TempPathFactory, backend: str, batch: Any
) -> None:
    tmp = tmp_path_factory.mktemp("roundtrip")
    assert flag_and_read(tmp, batch, backend) == batch


def test_numbers_are_written_as_numbers_and_text_is_escaped(tmp_path: Path) -> None:
    flag_and_read(tmp_path, [("-3", -3, False, -3, "=cmd()")], "asyncio")
    line = (tmp_path / "dataset1.csv").read_text(encoding="utf-8").splitlines()[1]
    assert line.startswith("'-3,-3,False,'-3,'=cmd(),")
    assert flag_and_read(tmp_path, [], "asyncio") == [("-3", -3, False, -3, "=cmd()")]
