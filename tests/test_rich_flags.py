"""Richer flags on Interface: a comment, a correction of the outputs, idempotency keys.

The comment and correction columns exist only when turned on (a plain folder stays
Gradio's), are checked at the call, written by components (so the sinks and the Redis
wire carry them unchanged) and read back by ``load_flagged`` as ``FlaggedRow.comment``
and ``.correction``. A key makes a repeated flag (a double click, a retried request)
write one row and return the first call's count.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from conftest import CHROMIUM, chromium_page, served_in_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from asyncflag import (
    CSVLogger,
    FlagDroppedError,
    FlaggingDisabledError,
    FlaggingError,
    FlagRow,
    FlagValueError,
    FlagWriteError,
    Interface,
    UnsafePathError,
    load_flagged,
)
from asyncflag.components import Chatbot, Image, Number, Textbox

Messages = list[dict[str, str]]


def shout(text: str, times: float) -> tuple[str, float]:
    return text.upper(), times * 2


def rich(tmp_path: Path, **kwargs: Any) -> Interface:
    kwargs.setdefault("flagging_comment", True)
    kwargs.setdefault("flagging_correction", True)
    return Interface(
        shout,
        [Textbox(label="text"), Number(label="times")],
        [Textbox(label="loud"), Number(label="double")],
        flagging_dir=tmp_path,
        **kwargs,
    )


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (2, 2), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


# -- the columns -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_plain_folder_stays_gradios(tmp_path: Path) -> None:
    iface = rich(tmp_path, flagging_comment=False, flagging_correction=False)
    async with iface:
        prediction = await iface.submit("hi", 2)
        assert await iface.flag(prediction, "bad") == 1
        with pytest.raises(FlagValueError, match=r"flagging_comment=True"):
            await iface.flag(prediction, comment="why")
        with pytest.raises(FlagValueError, match=r"flagging_correction=True"):
            await iface.flag(prediction, correction=["HELLO", None])
    header = read_rows(tmp_path / "dataset1.csv")[0]
    assert header == ["text", "times", "loud", "double", "flag", "username", "timestamp"]
    assert iface.dataset_components == iface.components
    (row,) = load_flagged(tmp_path, iface.components)
    assert (row.comment, row.correction) == (None, None)


@pytest.mark.anyio
async def test_columns_order_and_reading_back(tmp_path: Path) -> None:
    iface = rich(tmp_path)
    async with iface:
        prediction = await iface.submit("hi", 2)
        await iface.flag(prediction, "a", "ada", comment="=SUM(A1) naïve 🙂")
        await iface.flag(prediction.id, correction=["HELLO", None])
        await iface.flag(prediction, correction=[None, 5], comment="five")
        await iface.flag(prediction, comment="")  # an empty comment is no comment
    rows = read_rows(tmp_path / "dataset1.csv")
    assert rows[0] == [
        "text", "times", "loud", "double",
        "loud (correction)", "double (correction)", "comment",
        "flag", "username", "timestamp",
    ]  # fmt: skip
    assert rows[1][4:8] == ["", "", "'=SUM(A1) naïve 🙂", "a"]  # escaped for spreadsheets
    read = load_flagged(tmp_path, iface.components)
    assert [row.values for row in read] == [("hi", 2, "HI", 4)] * 4
    assert [row.labels for row in read] == [("text", "times", "loud", "double")] * 4
    assert [row.comment for row in read] == ["=SUM(A1) naïve 🙂", None, "five", None]
    assert [row.correction for row in read] == [None, ("HELLO", None), (None, 5), None]
    assert [row.flag for row in read] == ["a", None, None, None]
    assert read[0].username == "ada"
    # without components, every column is a value, as in any folder
    assert load_flagged(tmp_path)[0].values[4:] == ("", "", "=SUM(A1) naïve 🙂")
    # with fewer components than the file has, the extra columns stay values
    assert load_flagged(tmp_path, iface.input_components)[0].comment is None


@pytest.mark.anyio
async def test_only_comments_or_only_corrections(tmp_path: Path) -> None:
    comments = rich(tmp_path / "c", flagging_correction=False)
    corrections = rich(tmp_path / "k", flagging_comment=False)
    async with comments, corrections:
        await comments.flag(await comments.submit("a", 1), comment="c")
        await corrections.flag(await corrections.submit("a", 1), correction=[None, 3])
        with pytest.raises(FlagValueError, match="flagging_correction=True"):
            await comments.flag(await comments.submit("a", 1), correction=[None, 3])
    assert read_rows(tmp_path / "c" / "dataset1.csv")[0][4] == "comment"
    assert read_rows(tmp_path / "k" / "dataset1.csv")[0][4:6] == [
        "loud (correction)",
        "double (correction)",
    ]
    assert load_flagged(tmp_path / "c", comments.components)[0].comment == "c"
    assert load_flagged(tmp_path / "k", corrections.components)[0].correction == (None, 3)


@pytest.mark.anyio
async def test_auto_rows_have_empty_extra_columns(tmp_path: Path) -> None:
    iface = rich(tmp_path, flagging_mode="auto")
    async with iface:
        prediction = await iface.submit("hi", 2)
        assert await iface.flag(prediction, comment="flagged too") == 2
    read = load_flagged(tmp_path, iface.components)
    assert [(r.values, r.comment, r.correction) for r in read] == [
        (("hi", 2, "HI", 4), None, None),
        (("hi", 2, "HI", 4), "flagged too", None),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"comment": 3}, "comment must be a string or None, got 3"),
        ({"comment": "x" * 10_001}, "10,001 characters, over the limit of 10,000"),
        ({"comment": "a\ud800"}, "the comment 'a\\\\ud800'.*lone surrogate"),
        ({"correction": "HELLO"}, "correction must be a list of 2 values"),
        ({"correction": ["HELLO"]}, "correction must hold 2 values .* got 1"),
        ({"correction": [None, "five"]}, "Number 'double \\(correction\\)' stores an int"),
        ({"correction": [7, None]}, "Textbox 'loud \\(correction\\)'"),
        ({"correction": ["", None]}, "would read back as no correction: pass None"),
    ],
)
@pytest.mark.anyio
async def test_bad_comments_and_corrections_fail_at_the_call(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    iface = rich(tmp_path)
    async with iface:
        prediction = await iface.submit("hi", 2)
        with pytest.raises(FlagValueError, match=message):
            await iface.flag(prediction, **kwargs)
        with pytest.raises(FlagValueError, match=message):
            iface.flag_nowait(prediction, **kwargs)
    assert not (tmp_path / "dataset1.csv").exists()


def test_max_comment_length_and_switches_are_checked(tmp_path: Path) -> None:
    with pytest.raises(FlagValueError, match="flagging_comment must be True or False"):
        rich(tmp_path, flagging_comment="yes")
    with pytest.raises(FlagValueError, match="max_comment_length must be a positive int"):
        rich(tmp_path, max_comment_length=0)


def test_labels_of_the_extra_columns_are_not_taken(tmp_path: Path) -> None:
    with pytest.raises(FlagValueError, match=r"labelled 'comment'.*flagging_comment=True"):
        Interface(shout, ["text", "number"], ["text", Textbox("comment")], flagging_comment=True)
    with pytest.raises(FlagValueError, match=r"labelled 'loud \(correction\)'"):
        Interface(
            shout,
            [Textbox("loud (correction)"), "number"],
            [Textbox("loud"), "number"],
            flagging_correction=True,
        )


@pytest.mark.anyio
async def test_the_no_correction_cell_of_components_that_write_none(tmp_path: Path) -> None:
    """A Chatbot writes None as ``[]``: that is its column's "no correction" cell, and an
    empty conversation cannot be told from it, so it is refused; any other reads back."""

    def echo(history: Messages) -> Messages:
        return history

    iface = Interface(
        echo, Chatbot(label="in"), Chatbot(label="out"), flagging_dir=tmp_path,
        flagging_correction=True,
    )  # fmt: skip
    fixed = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    async with iface:
        prediction = await iface.submit([{"role": "user", "content": "hi"}])
        with pytest.raises(FlagValueError, match="no correction"):
            await iface.flag(prediction, correction=[[]])
        await iface.flag(prediction, correction=[None])
        await iface.flag(prediction, correction=[fixed])
    assert read_rows(tmp_path / "dataset1.csv")[1][2] == "[]"  # Chatbot's cell of None
    read = load_flagged(tmp_path, iface.components)
    assert [row.correction for row in read] == [None, (fixed,)]


@pytest.mark.anyio
async def test_a_file_output_is_corrected_with_a_file(tmp_path: Path) -> None:
    def draw(text: str) -> bytes:
        return png()

    iface = Interface(
        draw, "text", Image(label="picture", type="filepath"), flagging_dir=tmp_path,
        flagging_correction=True,
    )  # fmt: skip
    fixed = PILImage.new("RGB", (3, 1), (0, 0, 255))
    async with iface:
        prediction = await iface.submit("red")
        await iface.flag(prediction, correction=[fixed])
        await iface.flag(prediction, correction=[None])
    rows = read_rows(tmp_path / "dataset1.csv")
    assert rows[0][:3] == ["text", "picture", "picture (correction)"]
    # saved as the output's files are, in the folder of the column's label (made safe)
    assert rows[1][2].startswith("picture _correction_/") and rows[2][2] == ""
    first, second = load_flagged(tmp_path, iface.components)
    assert first.correction is not None and second.correction is None
    (path,) = first.correction
    assert Path(path).is_file() and Path(path).is_relative_to(tmp_path)
    with PILImage.open(path) as saved:
        assert saved.size == (3, 1)


# -- idempotency keys ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_hundred_concurrent_duplicates_write_one_row(tmp_path: Path) -> None:
    iface = rich(tmp_path)
    counts: list[int] = []
    async with iface:
        prediction = await iface.submit("hi", 2)
        await iface.flag(prediction)  # the dataset already has a row

        async def flag() -> None:
            counts.append(await iface.flag(prediction.id, "x", comment="once", key="k1"))

        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(flag)
        receipt = iface.flag_nowait(prediction, key="k1")
        assert await receipt.wait() == 2
        assert iface.flag_nowait(prediction, key="k2") is iface.flag_nowait(prediction, key="k2")
    assert counts == [2] * 100
    rows = load_flagged(tmp_path, iface.components)
    assert [(row.flag, row.comment) for row in rows] == [(None, None), ("x", "once"), (None, None)]


@pytest.mark.anyio
async def test_a_key_whose_first_call_failed_may_be_retried(tmp_path: Path) -> None:
    class FailsOnce(CSVLogger):
        failed = False

        async def flag_batch(self, rows: Sequence[FlagRow]) -> list[int | Exception]:
            if not self.failed:
                self.failed = True
                return [OSError("disk full")] * len(rows)
            return await super().flag_batch(rows)

    iface = rich(tmp_path, flagging_callback=FailsOnce())
    async with iface:
        prediction = await iface.submit("hi", 2)
        with pytest.raises(FlagValueError):  # refused at the call: the key is not taken
            await iface.flag(prediction, "x", correction=[1, None], key="k")
        with pytest.raises(FlagWriteError, match="disk full"):
            await iface.flag(prediction, "x", key="k")
        assert await iface.flag(prediction, "x", key="k") == 1  # retried, written
        assert await iface.flag(prediction, "x", key="k") == 1  # and now known
    assert len(load_flagged(tmp_path, iface.components)) == 1


@pytest.mark.anyio
async def test_a_dropped_first_call_may_be_retried(tmp_path: Path) -> None:
    iface = rich(tmp_path, overflow="drop", max_pending=1)
    async with iface:
        prediction = await iface.submit("hi", 2)
        first = iface.flag_nowait(prediction, key="a")
        dropped = iface.flag_nowait(prediction, key="b")  # the queue holds one
        with pytest.raises(FlagDroppedError):
            await dropped.wait()
        assert await first.wait() == 1
        assert await iface.flag(prediction, key="b") == 2
        assert await iface.flag(prediction, key="a") == 1


@pytest.mark.anyio
async def test_keys_are_remembered_as_long_as_the_cache_size(tmp_path: Path) -> None:
    iface = rich(tmp_path, cache_size=2)
    async with iface:
        prediction = await iface.submit("hi", 2)
        for key in ("a", "b", "a", "c"):  # "a" used again: it is the most recent
            await iface.flag(prediction, key=key)
        assert await iface.flag(prediction, key="a") == 1
        assert await iface.flag(prediction, key="b") == 4  # forgotten: written again


@pytest.mark.parametrize("key", ["", "x" * 1001, 3, b"k"])
@pytest.mark.anyio
async def test_bad_keys_are_refused(tmp_path: Path, key: Any) -> None:
    iface = rich(tmp_path)
    async with iface:
        prediction = await iface.submit("hi", 2)
        with pytest.raises(FlagValueError, match="key must be a non-empty string of at most"):
            await iface.flag(prediction, key=key)
        with pytest.raises(FlagValueError, match="key must be a non-empty string"):
            iface.flag_nowait(prediction, key=key)


@pytest.mark.anyio
async def test_a_key_does_not_bypass_the_mode(tmp_path: Path) -> None:
    iface = rich(tmp_path, flagging_mode="never")
    async with iface:
        prediction = await iface.submit("hi", 2)
        with pytest.raises(FlaggingDisabledError):
            await iface.flag(prediction, key="k")


@pytest.mark.anyio
async def test_a_cancelled_first_call_wakes_its_duplicates(tmp_path: Path) -> None:
    """The first call waits for room in a full queue and is cancelled: nothing was queued,
    so the duplicates waiting on its key fail (and do not hang), and the key is free."""
    gate = anyio.Event()
    entered = anyio.Event()

    class Slow(CSVLogger):
        async def flag_batch(self, rows: Sequence[FlagRow]) -> list[int | Exception]:
            entered.set()
            await gate.wait()
            return await super().flag_batch(rows)

    iface = rich(tmp_path, flagging_callback=Slow(), max_pending=1)
    errors: list[BaseException] = []
    async with iface:
        prediction = await iface.submit("hi", 2)
        iface.flag_nowait(prediction)  # taken by the writer, which waits on the gate
        await entered.wait()
        iface.flag_nowait(prediction)  # fills the queue

        async def duplicate() -> None:
            try:
                await iface.flag(prediction, key="k")
            except FlaggingError as exc:
                errors.append(exc)

        with anyio.fail_after(30):  # a duplicate left waiting would hang here
            async with anyio.create_task_group() as tg:
                first = anyio.CancelScope()

                async def first_call() -> None:
                    with first:
                        await iface.flag(prediction, key="k")  # waits for room

                tg.start_soon(first_call)
                await anyio.wait_all_tasks_blocked()
                tg.start_soon(duplicate)  # waits for the first call's receipt
                await anyio.wait_all_tasks_blocked()
                first.cancel()
        gate.set()
        assert len(errors) == 1 and "was not queued" in str(errors[0])
        assert await iface.flag(prediction, key="k") == 3  # the key was freed: written
    assert len(load_flagged(tmp_path, iface.components)) == 3


# -- the hypothesis round trip -------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
FORMULAS = st.sampled_from(["=1+1", "+A1", "-3", "@SUM(1)", "'quoted", "\t=x", "\uff1dcmd|x", ""])
COMMENT = st.one_of(st.none(), TEXT, st.builds(lambda f, t: f + t, FORMULAS, TEXT))
CORRECTION = st.one_of(
    st.none(),
    st.tuples(
        st.one_of(st.none(), TEXT.filter(bool), st.builds(lambda f, t: f + t, FORMULAS, TEXT)),
        st.one_of(st.none(), st.integers(-(10**9), 10**9)),
    ),
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    flags=st.lists(st.tuples(COMMENT, CORRECTION), min_size=1, max_size=6),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_comments_and_corrections_read_back(
    flags: list[tuple[str | None, tuple[str | None, int | None] | None]], backend: str
) -> None:
    flags = [
        (comment, None if correction is None or correction[0] == "" else correction)
        for comment, correction in flags
    ]
    with tempfile.TemporaryDirectory() as tmp:
        iface = rich(Path(tmp))

        async def flag_all() -> None:
            async with iface:
                prediction = await iface.submit("x", 1)
                for comment, correction in flags:
                    fixed = None if correction is None else list(correction)
                    await iface.flag(prediction, comment=comment, correction=fixed)

        anyio.run(flag_all, backend=backend)
        read = load_flagged(tmp, iface.components)
    expected = [
        (comment or None, None if correction == (None, None) else correction)
        for comment, correction in flags
    ]
    assert [(row.comment, row.correction) for row in read] == expected


# -- through Redis -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_through_the_redis_transport(redis_url: str, tmp_path: Path) -> None:
    """The extra columns are data columns: they travel and are checked again as any."""
    from asyncflag import RedisConsumer, RedisStream

    replica = rich(
        tmp_path / "unused",
        transport=RedisStream(redis_url, stream="rich"),
        flagging_mode="auto",  # predictions travel too, their extra columns empty
    )
    consumer = RedisConsumer(redis_url, stream="rich", flagging_dir=tmp_path)
    async with consumer, replica:
        prediction = await replica.submit("é,=x", 2)
        assert await replica.flag(prediction, "bad", comment="=1+1 ünï", key="k") == 2
        assert await replica.flag(prediction, correction=["FIXED", 5], key="j") == 3
        assert await replica.flag(prediction, "bad", comment="again", key="k") == 2
        assert await replica.flag(prediction) == 4
    read = load_flagged(tmp_path, replica.components)
    assert [(r.values, r.flag, r.comment, r.correction) for r in read] == [
        (("é,=x", 2, "É,=X", 4), None, None, None),
        (("é,=x", 2, "É,=X", 4), "bad", "=1+1 ünï", None),
        (("é,=x", 2, "É,=X", 4), None, None, ("FIXED", 5)),
        (("é,=x", 2, "É,=X", 4), None, None, None),
    ]
    header = read_rows(tmp_path / "dataset1.csv")[0]
    assert header[4:7] == ["loud (correction)", "double (correction)", "comment"]


# -- the web API ---------------------------------------------------------------------------


def client_of(app: Any, auth: tuple[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", auth=auth)


@pytest.mark.anyio
async def test_web_config_and_page_show_only_what_is_on(tmp_path: Path) -> None:
    plain = rich(tmp_path / "p", flagging_comment=False, flagging_correction=False)
    full = rich(tmp_path / "f", flagging_options=["wrong"])
    async with plain, full, client_of(plain.app()) as p, client_of(full.app()) as f:
        config = (await p.get("/api/config")).json()
        assert (config["flagging_comment"], config["flagging_correction"]) == (False, False)
        config = (await f.get("/api/config")).json()
        assert (config["flagging_comment"], config["flagging_correction"]) == (True, True)
        assert config["max_comment_length"] == 10_000
        page = (await p.get("/")).text
        assert 'id="flag-comment"' not in page and 'class="correction"' not in page
        page = (await f.get("/")).text
        assert '<textarea id="flag-comment" rows="2" maxlength="10000"' in page
        assert page.count('class="correction"') == 2
        assert 'data-key="0"' in page


@pytest.mark.anyio
async def test_web_flag_with_comment_correction_and_key(tmp_path: Path) -> None:
    iface = rich(tmp_path, flagging_options=["wrong", "rude"])
    async with iface, client_of(iface.app()) as client:
        made = (await client.post("/api/predict", json={"data": ["hi", 2]})).json()
        other = (await client.post("/api/predict", json={"data": ["yo", 1]})).json()
        flag = {
            "id": made["id"],
            "option": "wrong",
            "comment": "=2+2 is not 'HI'",
            "correction": ["HELLO", None],
            "key": f"{made['id']}:0",
            "username": "mallory",  # never taken from the body
        }
        responses = [await client.post("/api/flag", json=flag) for _ in range(3)]
        assert [r.json() for r in responses] == [{"count": 1}] * 3
        # the same key for another prediction is another flag
        moved = {**flag, "id": other["id"], "correction": None}
        assert (await client.post("/api/flag", json=moved)).json() == {"count": 2}
        plain = {"id": made["id"], "option": "rude"}
        assert (await client.post("/api/flag", json=plain)).json() == {"count": 3}
        assert (await client.post("/api/flag", json=plain)).json() == {"count": 4}  # no key
    read = load_flagged(tmp_path, iface.components)
    assert [(r.flag, r.username, r.comment, r.correction) for r in read] == [
        ("wrong", None, "=2+2 is not 'HI'", ("HELLO", None)),
        ("wrong", None, "=2+2 is not 'HI'", None),
        ("rude", None, None, None),
        ("rude", None, None, None),
    ]


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        ({"comment": 3}, 400, '"comment" must be a string or null'),
        ({"comment": "x" * 10_001}, 400, "over the limit of 10,000"),
        ({"correction": "HELLO"}, 400, '"correction" must be a list of 2 values'),
        ({"correction": ["HELLO"]}, 400, '"correction" must be a list of 2 values'),
        ({"correction": [None, "five"]}, 400, "stores an int or a float"),
        ({"correction": ["", None]}, 400, "would read back as no correction"),
        ({"key": 5}, 400, '"key" must be a string of 1 to 200 characters'),
        ({"key": ""}, 400, '"key" must be a string of 1 to 200 characters'),
        ({"key": "k" * 201}, 400, '"key" must be a string of 1 to 200 characters'),
    ],
)
@pytest.mark.anyio
async def test_web_bad_flags_get_a_400(
    tmp_path: Path, extra: dict[str, Any], status: int, message: str
) -> None:
    iface = rich(tmp_path)
    async with iface, client_of(iface.app()) as client:
        made = (await client.post("/api/predict", json={"data": ["hi", 2]})).json()
        response = await client.post("/api/flag", json={"id": made["id"], **extra})
        assert response.status_code == status
        assert message in response.json()["error"]
        assert iface.stats.published == 0
    assert not (tmp_path / "dataset1.csv").exists()


@pytest.mark.anyio
async def test_web_comment_refused_when_off(tmp_path: Path) -> None:
    iface = rich(tmp_path, flagging_comment=False, flagging_correction=False)
    async with iface, client_of(iface.app()) as client:
        made = (await client.post("/api/predict", json={"data": ["hi", 2]})).json()
        refused: list[tuple[dict[str, Any], str]] = [
            ({"comment": "why"}, "flagging_comment=True"),
            ({"correction": ["A", 1]}, "flagging_correction=True"),
        ]
        for extra, message in refused:
            response = await client.post("/api/flag", json={"id": made["id"], **extra})
            assert response.status_code == 400 and message in response.json()["error"]
        # a plain flag stays JSON only
        form = await client.post("/api/flag", data={"data": "{}"}, files={"x": ("a", b"b")})
        assert form.status_code == 415


@pytest.mark.anyio
async def test_web_keys_are_kept_apart_per_user(tmp_path: Path) -> None:
    iface = rich(tmp_path)
    app = iface.app(auth=[("ada", "a"), ("bob", "b")])
    async with iface, client_of(app, ("ada", "a")) as ada, client_of(app, ("bob", "b")) as bob:
        mine = (await ada.post("/api/predict", json={"data": ["hi", 2]})).json()
        theirs = (await bob.post("/api/predict", json={"data": ["hi", 2]})).json()
        assert (await ada.post("/api/flag", json={"id": mine["id"], "key": "k"})).json() == {
            "count": 1
        }
        assert (await bob.post("/api/flag", json={"id": theirs["id"], "key": "k"})).json() == {
            "count": 2
        }
    assert [r.username for r in load_flagged(tmp_path, iface.components)] == ["ada", "bob"]


@pytest.mark.anyio
async def test_web_file_output_corrected_by_upload(tmp_path: Path) -> None:
    def draw(text: str) -> tuple[bytes, str]:
        return png(), text

    iface = Interface(
        draw,
        "text",
        [Image(label="picture", type="filepath"), Textbox(label="caption")],
        flagging_dir=tmp_path,
        flagging_correction=True,
    )
    async with iface, client_of(iface.app()) as client:
        page = (await client.get("/")).text
        assert page.count('class="correction"') == 1  # the page corrects the caption only
        made = (await client.post("/api/predict", json={"data": ["red"]})).json()
        fixed = io.BytesIO()
        PILImage.new("RGB", (5, 1), (0, 0, 255)).save(fixed, format="PNG")
        data = json.dumps({"id": made["id"], "correction": [None, "blue"], "key": "k"})
        sent = await client.post(
            "/api/flag",
            data={"data": data},
            files={"correction0": ("blue.png", fixed.getvalue(), "image/png")},
        )
        assert sent.json() == {"count": 1}
        path_sent = {"id": made["id"], "correction": ["/etc/passwd", None]}
        refused = await client.post("/api/flag", json=path_sent)
        assert refused.status_code == 400
        assert "takes its correction as a file upload" in refused.json()["error"]
    (row,) = load_flagged(tmp_path, iface.components)
    assert row.correction is not None
    picture, caption = row.correction
    assert caption == "blue"
    with PILImage.open(picture) as saved:
        assert saved.size == (5, 1)


# -- in the real browser -------------------------------------------------------------------

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
@pytest.mark.parametrize("width", [1000, 390])
def test_comment_and_correction_in_the_browser(tmp_path: Path, width: int) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    ARTIFACTS.mkdir(exist_ok=True)
    iface = rich(tmp_path, flagging_options=["wrong", "rude"])
    with served_in_thread(iface.app()) as url, chromium_page(width, 800) as p:
        p.goto(url + "/")
        expect(p.locator("#flag-comment")).to_be_visible()
        expect(p.locator(".correction-box").first).to_be_hidden()  # nothing to correct yet
        p.fill("#in0", "hi there")
        p.fill("#in1", "3")
        p.click("#submit")
        expect(p.locator(".output").first).to_have_text("HI THERE")
        loud, double = p.locator("textarea.correction").all()
        expect(loud).to_have_value("HI THERE")
        expect(double).to_have_value("6")
        loud.fill("Hi there!")
        p.fill("#flag-comment", "=should keep the case, ünïcode")
        p.screenshot(path=str(ARTIFACTS / f"rich-flag-before-{width}.png"), full_page=True)
        p.dblclick("text=Flag as wrong")  # a double click: one row
        expect(p.locator("#flag-status")).to_contain_text("1 flagged")
        expect(p.locator("text=Flag as wrong ✓ saved (#1)")).to_be_disabled()
        # the request retried (a lost response): the page's key makes it the same flag
        retried = p.evaluate(
            """async () => {
                const button = document.querySelector("button.flag");
                const id = predictionId;
                const body = JSON.stringify({ id, option: "wrong", key: `${id}:0` });
                const response = await fetch("/api/flag", { method: "POST",
                    headers: { "content-type": "application/json" }, body });
                return await response.json();
            }"""
        )
        assert retried == {"count": 1}
        double.fill("not json")
        p.click("text=Flag as rude")
        expect(p.locator("#error")).to_contain_text("not valid JSON")
        double.fill("7")
        p.click("text=Flag as rude")
        expect(p.locator("#flag-status")).to_contain_text("2 flagged")
        expect(p.locator("#error")).to_be_empty()
        p.screenshot(path=str(ARTIFACTS / f"rich-flag-saved-{width}.png"), full_page=True)
        # a new prediction clears the comment and the corrections
        p.click("#submit")
        expect(loud).to_have_value("HI THERE")
        expect(p.locator("#flag-comment")).to_have_value("")
    read = load_flagged(tmp_path, iface.components)
    assert [(r.flag, r.comment, r.correction) for r in read] == [
        ("wrong", "=should keep the case, ünïcode", ("Hi there!", None)),
        ("rude", "=should keep the case, ünïcode", ("Hi there!", 7)),
    ]


@pytest.mark.anyio
async def test_a_forged_file_correction_is_refused_on_reading(tmp_path: Path) -> None:
    def draw(text: str) -> bytes:
        return png()

    iface = Interface(
        draw, "text", Image(label="picture"), flagging_dir=tmp_path, flagging_correction=True
    )
    async with iface:
        prediction = await iface.submit("red")
        await iface.flag(prediction, correction=[png()])
        await iface.flag(prediction)
    dataset = tmp_path / "dataset1.csv"
    rows = read_rows(dataset)
    rows[1][2] = "../../../etc/passwd"
    with dataset.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    with pytest.raises(UnsafePathError, match="row 1, a correction column"):
        load_flagged(tmp_path, iface.components)
    (kept,) = load_flagged(tmp_path, iface.components, unsafe_paths="skip")
    assert kept.correction is None
