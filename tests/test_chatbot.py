"""The Chatbot component: a conversation as Gradio's ``type="messages"``.

Checked at the call (roles, text content, keys, size limit), written as the cell Gradio 6's
``CSVLogger`` writes, read back by ``load_flagged`` as the messages ``fn`` returned (a
hypothesis round trip through a real ``Interface`` on asyncio and trio), through Redis
(consumer in-process, forged entries dead-lettered), and shown as bubbles in the browser.
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

import asyncflag
from asyncflag import FlagValueError, Interface, load_flagged
from asyncflag.components import Chatbot, component_from
from asyncflag.transport.wire import components_from_schema, schema_of

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gradio"

Messages = list[dict[str, str]]


def reply(history: Messages) -> Messages:
    """A chat model: answers the last message by shouting it back."""
    last = history[-1]["content"] if history else ""
    return [*history, {"role": "assistant", "content": last.upper()}]


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


# -- the component alone -------------------------------------------------------------------


def test_shortcut_and_top_level_name() -> None:
    assert isinstance(component_from("chatbot"), Chatbot)
    assert asyncflag.Chatbot is Chatbot
    assert "Chatbot" in asyncflag.__all__


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("hi", "stores a list of messages"),
        ({"role": "user", "content": "hi"}, "stores a list of messages"),
        (["hi"], "stores a list of messages"),
        ([{"role": "system", "content": "x"}], "message 0 has the role 'system'; use 'user'"),
        ([{"role": 1, "content": "x"}], "message 0 has the role 1"),
        ([{"role": "user", "content": ["x"]}], "message 0: the content must be a string"),
        ([{"role": "user", "content": {"a": [[[]]]}}], "the content must be a string"),
        ([{"role": "user", "content": None}], "the content must be a string"),
        ([{"role": "user"}], "exactly the keys 'role' and 'content'; it lacks content"),
        (
            [{"role": "user", "content": "x", "metadata": {"title": "t"}}],
            "it has also 'metadata'",
        ),
        ([{"role": "user", "content": "\ud800"}], "Chatbot 'chat'"),
    ],
)
def test_refuses_what_is_not_a_conversation(value: Any, message: str) -> None:
    with pytest.raises(FlagValueError, match=message):
        Chatbot(label="chat").check(value)


def test_nested_lists_are_refused_without_recursing() -> None:
    deep: Any = "x"
    for _ in range(100_000):  # deeper than Python's recursion limit
        deep = [deep]
    with pytest.raises(FlagValueError, match="stores a list of messages"):
        Chatbot(label="chat").check(deep)


def test_size_limit_counts_utf8_bytes() -> None:
    chat = Chatbot(label="chat", max_size=10)
    assert chat.check([{"role": "user", "content": "é" * 5}]) == [
        {"role": "user", "content": "é" * 5}
    ]  # 10 bytes: at the limit
    with pytest.raises(FlagValueError, match="11 bytes of message text is over the limit of 10"):
        chat.check([{"role": "user", "content": "é" * 5}, {"role": "assistant", "content": "!"}])
    with pytest.raises(FlagValueError, match="max_size"):
        Chatbot(max_size=0)


def test_gradios_null_metadata_and_options_are_taken() -> None:
    message = {"role": "user", "content": "hi", "metadata": None, "options": None}
    assert Chatbot().check([message]) == [{"role": "user", "content": "hi"}]
    with pytest.raises(FlagValueError, match="it has also 'options'"):
        Chatbot().check([{**message, "options": [{"value": "x"}]}])


def test_check_copies_and_none_is_empty() -> None:
    original = ({"role": "user", "content": "hi"},)
    checked = Chatbot().check(original)
    assert checked == [{"role": "user", "content": "hi"}]
    assert checked[0] is not original[0]
    assert Chatbot().check(None) == []


def test_cell_is_the_one_gradio_wrote() -> None:
    """Byte for byte the cells of Gradio 6's CSVLogger (tests/fixtures/gradio/chatbot)."""
    gradio = [row[0] for row in read_rows(FIXTURES / "chatbot" / "dataset1.csv")[1:]]
    chat = Chatbot(label="chatbot")
    ours = [
        chat.to_cell(chat.check([
            {"role": "user", "content": "hi"}, {"role": "assistant", "content": "=hello"},
        ])),
        chat.to_cell(chat.check([])),
    ]  # fmt: skip
    assert ours == gradio


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("[1]", "a Chatbot cell is the JSON of a list of messages"),
        ('[{"role": "bot", "content": "x"}]', "a Chatbot cell is the JSON"),
        (
            '[{"role": "user", "content": [{"type": "file", "file": {"path": "a.png"}}]}]',
            "not text",
        ),
    ],
)
def test_unreadable_cells_say_why(cell: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        Chatbot().from_cell(cell, tmp_path)


def test_reads_text_parts_and_plain_string_content(tmp_path: Path) -> None:
    cell = (
        '[{"role": "user", "content": [{"text": "a", "type": "text"}, '
        '{"text": "b", "type": "text"}]}, {"role": "assistant", "content": "c"}]'
    )
    assert Chatbot().from_cell(cell, tmp_path) == [
        {"role": "user", "content": "ab"},
        {"role": "assistant", "content": "c"},
    ]
    assert Chatbot().from_cell("", tmp_path) == []


def test_spec_travels_in_a_stream_schema() -> None:
    (rebuilt,) = components_from_schema(schema_of([Chatbot(label="c", max_size=99)]))
    assert isinstance(rebuilt, Chatbot)
    assert (rebuilt.label, rebuilt.max_size) == ("c", 99)


# -- through Interface ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_submit_flag_and_load_flagged(tmp_path: Path) -> None:
    iface = Interface(
        reply, Chatbot(label="history"), Chatbot(label="answer"), flagging_dir=tmp_path
    )
    history = [{"role": "user", "content": "hello, bot\n=1+1"}]
    async with iface:
        prediction = await iface.submit(history)
        assert prediction.outputs == (
            [*history, {"role": "assistant", "content": "HELLO, BOT\n=1+1"}],
        )
        assert await iface.flag(prediction) == 1
        with pytest.raises(FlagValueError, match="Chatbot 'history': message 0 has the role"):
            await iface.submit([{"role": "robot", "content": "x"}])
    (row,) = load_flagged(tmp_path, iface.components)
    assert row.values == (history, prediction.outputs[0])


# -- the hypothesis round trip -------------------------------------------------------------

MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant"]),
        "content": st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
    }
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    histories=st.lists(st.lists(MESSAGE, max_size=5), max_size=6),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_what_fn_got_and_returned_reads_back(histories: list[Messages], backend: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        iface = Interface(reply, Chatbot(label="in"), Chatbot(label="out"), flagging_dir=tmp)

        async def flag_all() -> None:
            async with iface:
                for history in histories:
                    await iface.flag(await iface.submit(history))

        anyio.run(flag_all, backend=backend)
        read = load_flagged(tmp, iface.components) if histories else []
        assert [row.values for row in read] == [(h, reply(h)) for h in histories]


# -- the web API ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_web_api_and_page(tmp_path: Path) -> None:
    iface = Interface(reply, "chatbot", Chatbot(label="answer"), flagging_dir=tmp_path)
    transport = httpx.ASGITransport(app=iface.app())
    async with iface, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = (await client.get("/")).text
        assert page.count('asyncflag.register("chatbot"') == 1
        assert ".chat-bubble.user" in page
        config = (await client.get("/api/config")).json()
        assert config["outputs"][0] == {"type": "chatbot", "label": "answer", "max_size": None}
        sent = [{"role": "user", "content": "hi"}]
        shown = (await client.post("/api/predict", json={"data": [sent]})).json()
        assert shown["data"] == [[*sent, {"role": "assistant", "content": "HI"}]]
        for bad, why in [
            ([{"role": "user", "content": {"nested": [1]}}], "the content must be a string"),
            ([{"role": "admin", "content": "x"}], "has the role 'admin'"),
            ("hi", "stores a list of messages"),
        ]:
            refused = await client.post("/api/predict", json={"data": [bad]})
            assert refused.status_code == 400 and why in refused.json()["error"]
        assert (await client.post("/api/flag", json={"id": shown["id"]})).json() == {"count": 1}
    assert load_flagged(tmp_path, iface.components)[0].values == (sent, shown["data"][0])


# -- through Redis -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_through_the_redis_transport(redis_url: str, tmp_path: Path) -> None:
    from asyncflag import RedisConsumer, RedisStream

    replica = Interface(
        reply,
        Chatbot(label="in", max_size=100),
        Chatbot(label="out"),
        flagging_dir=tmp_path / "unused",
        transport=RedisStream(redis_url, stream="chat"),
    )
    consumer = RedisConsumer(redis_url, stream="chat", flagging_dir=tmp_path)
    histories: list[Messages] = [[{"role": "user", "content": "é,=x"}], []]
    async with consumer, replica:
        for number, history in enumerate(histories, 1):
            assert await replica.flag(await replica.submit(history)) == number
    read = load_flagged(tmp_path, replica.components)
    assert [row.values for row in read] == [(h, reply(h)) for h in histories]


@pytest.mark.anyio
async def test_forged_stream_entries_are_dead_lettered(redis_url: str, tmp_path: Path) -> None:
    """The consumer checks each value again: a forged conversation is set aside."""
    import coredis

    from asyncflag import RedisConsumer
    from asyncflag.transport.redis import as_bytes
    from asyncflag.transport.wire import VERSION, WireBatch, WireRow, encode_batch

    schema = schema_of([Chatbot(label="chat", max_size=4)])
    forged: list[tuple[Any, str]] = [
        ([{"role": "system", "content": "x"}], "message 0 has the role 'system'"),
        ([{"role": "user", "content": [[["x"]]]}], "the content must be a string"),
        ([{"role": "user", "content": "12345"}], "5 bytes of message text is over the limit of 4"),
        ("text", "stores a list of messages"),
    ]
    async with coredis.Redis.from_url(redis_url, decode_responses=False) as client:
        for sequence, (value, _) in enumerate(forged, 1):
            batch = WireBatch(
                VERSION, "forger", sequence, schema, [WireRow(0, [value], None, None, None)]
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
    assert not list(tmp_path.glob("*.csv"))


# -- in the real browser -------------------------------------------------------------------

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:

    flagging_dir = tmp_path / "flags"
    iface = Interface(reply, "chatbot", Chatbot(label="answer"), flagging_dir=flagging_dir)
    with served_in_thread(iface.app()) as url:
        yield url, flagging_dir


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_bubbles_in_the_browser(served: tuple[str, Path]) -> None:
    url, flagging_dir = served
    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(900, 700) as p:
        p.goto(url + "/")
        p.fill("#in0", "user: hi there\nassistant: hello!\nuser: <b>two</b>\nlines")
        p.click("#submit")
        bubbles = p.locator(".output .chat-bubble")
        expect(bubbles).to_have_count(4)
        expect(bubbles).to_have_text(
            ["hi there", "hello!", "<b>two</b>\nlines", "<B>TWO</B>\nLINES"]
        )  # shown as text, never as HTML
        assert bubbles.evaluate_all("els => els.map(e => e.className)") == [
            "chat-bubble user", "chat-bubble assistant",
            "chat-bubble user", "chat-bubble assistant",
        ]  # fmt: skip
        left = bubbles.nth(0).bounding_box()
        right = bubbles.nth(1).bounding_box()
        assert left is not None and right is not None
        assert left["x"] > right["x"]  # the user's on the right, the assistant's on the left
        p.click("text=Flag")
        expect(p.locator("#flag-status")).to_contain_text("1 flagged")
        p.screenshot(path=str(ARTIFACTS / "gradio-chatbot.png"), full_page=True)
    (row,) = load_flagged(flagging_dir, [Chatbot(), Chatbot()])
    assert row.values[0] == [
        {"role": "user", "content": "hi there"},
        {"role": "assistant", "content": "hello!"},
        {"role": "user", "content": "<b>two</b>\nlines"},
    ]
