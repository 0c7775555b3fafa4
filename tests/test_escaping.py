"""Reversible CSV-injection escaping, alone and through the whole pipeline."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncflag import FlagValueError, FlagWriteError, Interface, components, load_flagged
from asyncflag.escaping import (
    escape,
    escape_many,
    escape_optional,
    escape_optionals,
    unescape,
    unescape_optional,
)

pytestmark = pytest.mark.anyio

FORMULA_STARTS = [
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    "\n",
    "\x00",
    "\uff1d",
    "\uff0b",
    "\uff0d",
    "\uff20",
]

# Text with the characters that matter to a CSV file or a spreadsheet, plus any other
# character UTF-8 can encode (lone surrogates cannot be; they are refused at the call, see below).
special_chars = st.sampled_from(list("=+-@\t\r\n'\",\x00 ;\\|\uff1d\uff0b\uff0d\uff20\ufeff\u00a0"))
any_text = st.text(alphabet=special_chars | st.characters(codec="utf-8"), max_size=40)
formula_text = st.sampled_from([*FORMULA_STARTS, "'"]).flatmap(
    lambda start: any_text.map(lambda rest: start + rest)
)
texts = any_text | formula_text


# -- escape / unescape -----------------------------------------------------------------


@settings(max_examples=300)
@given(texts)
def test_unescape_inverts_escape(text: str) -> None:
    assert unescape(escape(text)) == text


@settings(max_examples=300)
@given(texts)
def test_escaped_text_never_starts_a_formula(text: str) -> None:
    cell = escape(text)
    assert cell[:1] not in FORMULA_STARTS
    # only the text that needed it changed, by one leading apostrophe
    assert cell == text or cell == "'" + text


@given(st.text())
def test_unescape_inverts_escape_for_any_text(text: str) -> None:
    assert unescape(escape(text)) == text


@settings(max_examples=300)
@given(st.lists(st.none() | texts, max_size=8))
def test_the_none_and_empty_rule_reads_back(values: list[str | None]) -> None:
    """None is an empty cell and "" a lone apostrophe; both read back as they were, and
    the column form agrees with the one-value form."""
    cells = escape_optionals(values)
    assert cells == [escape_optional(v) for v in values]
    assert [unescape_optional(c) for c in cells] == values
    assert escape_optional(None) == "" and escape_optional("") == "'"
    strings = [v for v in values if v is not None]
    assert escape_many(strings) == [escape(v) for v in strings]


@pytest.mark.parametrize(
    "text",
    [
        *["=1+1", "+1", "-1", "-", "@SUM(A1)", "\tx", "\t", "\rx", "'quoted", "'", "''"],
        # LibreOffice drops a leading NUL and runs the formula after it (see escaping.py)
        *["\x00=1+1", "\x00\x00=SUM(1,1)", "\x00"],
        # OWASP lists line feed; a Japanese Excel runs full-width formulas
        *["\n=1+1", "\uff1d1+1", "\uff0b1", "\uff0d1", "\uff20SUM(A1)", "\ufe661+1"],
    ],
)
def test_formula_starts_are_escaped(text: str) -> None:
    assert escape(text) == "'" + text
    assert unescape(escape(text)) == text


@pytest.mark.parametrize(
    "text",
    # LibreOffice 7.4 keeps each of the cells with a leading space or BOM as text (escaping.py)
    ["", "plain", "1+1", " =x", "  +x", "a=b", "x-", '"=x"', "\ufeff=x", "\u00a0=x", "\u3000=x"],
)
def test_harmless_text_is_left_alone(text: str) -> None:
    assert escape(text) == text
    assert unescape(text) == text


def test_the_escaped_first_characters_are_the_documented_ones() -> None:
    """= + - @, tab, CR, LF, NUL, the apostrophe, and every character whose NFKC is = + - @."""
    compatible = {
        chr(code)
        for code in range(sys.maxunicode + 1)
        if unicodedata.normalize("NFKC", chr(code)) in ("=", "+", "-", "@")
    }
    needs = {text for text in compatible if escape(text + "x") != text + "x"}
    assert needs == compatible
    assert "\uff1d" in compatible and len(compatible) == 4 + 13
    for start in "\t\r\n\x00'":
        assert escape(start + "x") == "'" + start + "x"


def test_escaping_is_applied_once_per_layer() -> None:
    assert escape(escape("=x")) == "''=x"
    assert unescape(unescape(escape(escape("=x")))) == "=x"


# -- through the pipeline --------------------------------------------------------------

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | finite_floats | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
numbers = st.none() | st.integers(-(10**18), 10**18) | finite_floats
row_strategy = st.tuples(
    texts,  # Textbox input
    numbers,  # Number input
    st.none() | st.booleans(),  # Checkbox input
    json_values,  # JSON input
    texts,  # Textbox output
)
usernames = st.none() | texts.filter(bool)
flagged_rows = st.lists(st.tuples(row_strategy, usernames), min_size=1, max_size=20)


def make_interface(flagging_dir: Path) -> Interface:
    return Interface(
        lambda text, number, check, data: text,
        [
            components.Textbox(label="text"),
            components.Number(label="number"),
            components.Checkbox(label="check"),
            components.JSON(label="json"),
        ],
        components.Textbox(label="out"),
        flagging_mode="manual",
        flagging_dir=flagging_dir,
    )


def flag_all(flagging_dir: Path, rows: list[tuple[Any, str | None]], backend: str) -> list[int]:
    iface = make_interface(flagging_dir)

    async def run() -> list[int]:
        async with iface:
            return [await iface.flag(list(values), username=user) for values, user in rows]

    return anyio.run(run, backend=backend)


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same type all the way down (1 is not True, 1.0 is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def raw_rows(flagging_dir: Path) -> list[list[str]]:
    with (flagging_dir / "dataset1.csv").open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=flagged_rows)
def test_pipeline_round_trip(
    tmp_path_factory: pytest.TempPathFactory, backend: str, rows: list[tuple[Any, str | None]]
) -> None:
    flagging_dir = tmp_path_factory.mktemp("roundtrip")
    assert flag_all(flagging_dir, rows, backend) == list(range(1, len(rows) + 1))

    flagged = load_flagged(flagging_dir, make_interface(flagging_dir).components)
    assert len(flagged) == len(rows)
    for read, (values, user) in zip(flagged, rows, strict=True):
        assert same(list(read.values), list(values)), (read.values, values)
        assert read.username == user
        assert read.flag is None
        assert read.labels == ("text", "number", "check", "json", "out")

    # What a spreadsheet sees: text cells are escaped, numbers are plain numbers.
    raw = raw_rows(flagging_dir)
    assert raw[0] == ["text", "number", "check", "json", "out", "flag", "username", "timestamp"]
    for cells, (values, _) in zip(raw[1:], rows, strict=True):
        text, number, check, _, out = values
        assert cells[0] == escape(text) and cells[4] == escape(out)
        assert cells[1] == ("" if number is None else repr(number))
        assert cells[2] == {None: "", True: "true", False: "false"}[check]
        for index in (0, 3, 4):
            assert cells[index][:1] not in FORMULA_STARTS


async def test_negative_numbers_stay_numbers_and_text_is_escaped(tmp_path: Path) -> None:
    iface = make_interface(tmp_path)
    async with iface:
        assert await iface.flag(["-3", -3, False, -3, "=cmd()"]) == 1
        assert await iface.flag(["+1", -2.5, True, {"k": "-v"}, "@x"]) == 2
    text = (tmp_path / "dataset1.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[1].startswith("'-3,-3,false,'-3,'=cmd(),")
    assert ",-3," in lines[1] and "'-3,'-3" not in text
    assert lines[2].startswith("'+1,-2.5,true,")
    assert ",-2.5," in lines[2] and "'-2.5" not in text
    assert [row.values for row in load_flagged(tmp_path, iface.components)] == [
        ("-3", -3, False, -3, "=cmd()"),
        ("+1", -2.5, True, {"k": "-v"}, "@x"),
    ]
    # a negative number in a Number column is a number, in a Textbox column a string
    first = load_flagged(tmp_path, iface.components)[0].values
    assert type(first[0]) is str and type(first[1]) is int


async def test_without_components_cells_read_back_unescaped(tmp_path: Path) -> None:
    iface = make_interface(tmp_path)
    async with iface:
        await iface.flag(["'quoted", -3, True, "-j", "\tt"], username="=user")
    (row,) = load_flagged(tmp_path)
    assert row.values == ("'quoted", "-3", "true", '"-j"', "\tt")
    assert row.username == "=user"


async def test_flag_options_and_usernames_are_escaped(tmp_path: Path) -> None:
    iface = Interface(
        lambda t: t,
        "text",
        "text",
        flagging_options=["-bad", "=good"],
        flagging_dir=tmp_path,
    )
    async with iface:
        await iface.flag(["a", "b"], option="-bad", username="@ada")
        await iface.flag(["c", "d"], option="=good", username="'bob")
    raw = raw_rows(tmp_path)
    assert [row[2:4] for row in raw[1:]] == [["'-bad", "'@ada"], ["'=good", "''bob"]]
    assert [(r.flag, r.username) for r in load_flagged(tmp_path, iface.components)] == [
        ("-bad", "@ada"),
        ("=good", "'bob"),
    ]


async def test_a_lone_surrogate_is_refused_at_the_call(tmp_path: Path) -> None:
    iface = Interface(lambda t: t, "text", "text", flagging_dir=tmp_path)
    async with iface:
        try:
            await iface.flag(["bad \ud800", "row"])
            outcome = "written"
        except FlagValueError:
            outcome = "refused at the call"
        except FlagWriteError:
            outcome = "failed in the writer"
    assert outcome == "refused at the call"


async def test_an_unwritable_row_does_not_take_its_batch_down(tmp_path: Path) -> None:
    iface = Interface(lambda t: t, "text", "text", flagging_dir=tmp_path)
    async with iface:
        good = iface.flag_nowait(["good", "row"])
        try:  # refusing it at the call would be fine too
            iface.flag_nowait(["ok", "row"], username="bad \ud800")
        except FlagValueError:
            pass
        try:
            count: int | Exception = await good.wait()
        except FlagWriteError as exc:
            count = exc
    assert count == 1
    assert [row.values for row in load_flagged(tmp_path)] == [("good", "row")]


# -- what a spreadsheet makes of it ------------------------------------------------------------

SPREADSHEET_CASES = [
    *["=1+1", "+1+1", "-1+1", "@SUM(1,1)", "\t=1+1", "\r=1+1", "\n=1+1", "\r\n=1+1"],
    *["\x00=1+1", "\x00\x00=SUM(1,1)", "\x00'=1+1", "'=1+1", "\uff1d1+1", "\uff0b1+1"],
    *[" =1+1", "  =SUM(1,1)", "\ufeff=1+1", "\u00a0=1+1", "\u3000=1+1", "\u200b=1+1"],
]


@pytest.mark.skipif(not shutil.which("soffice"), reason="needs LibreOffice (libreoffice-calc)")
def test_libreoffice_runs_no_escaped_cell_as_a_formula(tmp_path: Path) -> None:
    """The evidence behind escaping.py, measured: LibreOffice Calc opens a CSV of the raw
    and the escaped cells; it runs ``=`` and NUL-then-``=`` raw, and no escaped cell."""
    source = tmp_path / "cells.csv"
    with source.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([text, escape(text)] for text in SPREADSHEET_CASES)
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
            "--headless",
            "--infilter=CSV:44,34,76,1",  # comma, double quote, UTF-8, from line 1
            "--convert-to",
            "ods",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    with zipfile.ZipFile(tmp_path / "cells.ods") as ods:
        content = ElementTree.fromstring(ods.read("content.xml"))
    table = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
    formulas = [
        [
            cell.get(f"{table}formula") is not None
            for cell in row.iter(f"{table}table-cell")
            # two equal cells side by side are stored once, "repeated"
            for _ in range(int(cell.get(f"{table}number-columns-repeated", "1")))
        ][:2]
        for row in content.iter(f"{table}table-row")
    ][: len(SPREADSHEET_CASES)]
    raw_formulas = {text for text, (raw, _) in zip(SPREADSHEET_CASES, formulas, strict=True) if raw}
    assert raw_formulas == {"=1+1", "\x00=1+1", "\x00\x00=SUM(1,1)"}
    assert not any(escaped for _, escaped in formulas)
