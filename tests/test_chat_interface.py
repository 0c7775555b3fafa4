"""ChatInterface: replies (whole or streamed), conversations kept per user, feedback rows
(change of mind, undo, idempotency keys), the chat dataset read back (current state and
history), restart, auto mode, ChatCSVLogger (and Gradio's own log.csv), Redis, hypothesis.

Every async test runs on asyncio and trio.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.lowlevel import checkpoint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncflag import (
    ChatCSVLogger,
    ChatInterface,
    ChatReply,
    ChatReplyError,
    ConversationAccessError,
    ConversationBusyError,
    Feedback,
    FlaggingCallback,
    FlaggingDisabledError,
    FlagValueError,
    FlagWriteError,
    Image,
    Slider,
    Textbox,
    UnknownConversationError,
    load_flagged,
)
from asyncflag.chat_interface import feedback_id, message_id

Messages = list[dict[str, str]]


def echo(message: str, history: Messages, *extras: Any) -> str:
    return f"{len(history)}: {message}"


async def async_echo(message: str, history: Messages, *extras: Any) -> str:
    await checkpoint()
    return f"{len(history)}: {message}"


def words(message: str, history: Messages, *extras: Any) -> Iterator[str]:
    text = ""
    for word in f"{len(history)}: {message}".split(" "):
        text = f"{text} {word}" if text else word
        yield text


async def async_words(message: str, history: Messages, *extras: Any) -> AsyncIterator[str]:
    for text in words(message, history):
        await checkpoint()
        yield text


def chat_in(tmp_path: Path, fn: Any = echo, **options: Any) -> ChatInterface:
    options.setdefault("flagging_mode", "manual")
    return ChatInterface(fn, flagging_dir=tmp_path, **options)


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


# -- replies ------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("fn", [echo, async_echo, words, async_words])
async def test_send_gives_the_reply_and_keeps_the_conversation(tmp_path: Path, fn: Any) -> None:
    async with chat_in(tmp_path, fn) as chat:
        conversation = chat.start()
        first = await chat.send(conversation, "hello there")
        second = await chat.send(conversation, "again")
        assert first == ChatReply(message_id(conversation, 1), 1, "0: hello there")
        assert second == ChatReply(message_id(conversation, 3), 3, "2: again")
        assert first.message_id == f"{conversation}:1"  # the form chat_web relies on
        assert chat.history(conversation) == [
            {"role": "user", "content": "hello there"},
            {"role": "assistant", "content": "0: hello there"},
            {"role": "user", "content": "again"},
            {"role": "assistant", "content": "2: again"},
        ]


@pytest.mark.anyio
async def test_fn_gets_the_history_before_the_message_and_the_additional_values(
    tmp_path: Path,
) -> None:
    calls: list[tuple[Any, ...]] = []

    def record(message: str, history: Messages, system: str, temperature: float) -> str:
        calls.append((message, [dict(m) for m in history], system, temperature))
        history.append({"role": "user", "content": "fn changed its copy"})
        return "ok"

    extras = [Textbox("system"), Slider(0, 2, label="temperature")]
    async with chat_in(tmp_path, record, additional_inputs=extras) as chat:
        conversation = chat.start()
        await chat.send(conversation, "a", "be brief", 0.5)
        await chat.send(conversation, "b", "be long", 1.5)
        with pytest.raises(FlagValueError, match="expected 2 additional values"):
            chat.stream(conversation, "c", "x")
        with pytest.raises(FlagValueError, match="temperature"):
            chat.stream(conversation, "c", "x", 7)
    assert calls == [
        ("a", [], "be brief", 0.5),
        ("b", [{"role": "user", "content": "a"}, {"role": "assistant", "content": "ok"}],
         "be long", 1.5),
    ]  # fmt: skip
    assert len(chat.history(conversation)) == 4


@pytest.mark.anyio
async def test_a_streamed_reply_is_seen_before_it_ends(tmp_path: Path) -> None:
    """The generator waits until the test has seen its first update: a stream that
    buffered the reply would hang here (bounded by fail_after)."""
    seen_first = anyio.Event()

    async def slow(message: str, history: Messages) -> AsyncIterator[str]:
        yield "thinking"
        await seen_first.wait()
        yield "thinking done"

    async with chat_in(tmp_path, slow) as chat:
        conversation = chat.start()
        updates = []
        with anyio.fail_after(10):
            async with aclosing(chat.stream(conversation, "q")) as stream:
                async for update in stream:
                    updates.append(update)
                    seen_first.set()
    assert [(u.content, u.done) for u in updates] == [
        ("thinking", False),
        ("thinking done", False),
        ("thinking done", True),
    ]
    assert {u.message_id for u in updates} == {f"{conversation}:1"}


@pytest.mark.anyio
async def test_a_stream_stopped_early_keeps_the_reply_so_far(tmp_path: Path) -> None:
    async with chat_in(tmp_path, words) as chat:
        conversation = chat.start()
        async with aclosing(chat.stream(conversation, "one two three")) as stream:
            async for update in stream:
                if update.content == "0: one":
                    break
        assert chat.history(conversation)[-1] == {"role": "assistant", "content": "0: one"}
        assert (await chat.send(conversation, "next")).index == 3  # not busy any more


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda message, history: 1 / 0, "the chat function failed: ZeroDivisionError"),
        (lambda message, history: 42, "must return .* as text, got int"),
        (lambda message, history: "x" * 101, "101 characters, over the limit of 100"),
    ],
)
async def test_a_failing_fn_fails_the_reply_and_keeps_the_users_message(
    tmp_path: Path, fn: Any, message: str
) -> None:
    async with chat_in(tmp_path, fn, max_reply_length=100) as chat:
        conversation = chat.start()
        with pytest.raises(ChatReplyError, match=message):
            await chat.send(conversation, "hi")
        assert chat.history(conversation) == [{"role": "user", "content": "hi"}]


@pytest.mark.anyio
async def test_a_failing_generator_keeps_what_it_had_yielded(tmp_path: Path) -> None:
    async def breaks(message: str, history: Messages) -> AsyncIterator[str]:
        yield "half"
        raise RuntimeError("model crashed")

    async with chat_in(tmp_path, breaks) as chat:
        conversation = chat.start()
        with pytest.raises(ChatReplyError, match="model crashed") as info:
            await chat.send(conversation, "hi")
        assert isinstance(info.value.__cause__, RuntimeError)
        assert chat.history(conversation)[-1] == {"role": "assistant", "content": "half"}


@pytest.mark.anyio
async def test_a_second_message_while_a_reply_streams_is_refused(tmp_path: Path) -> None:
    release = anyio.Event()

    async def waits(message: str, history: Messages) -> AsyncIterator[str]:
        yield "..."
        await release.wait()
        yield "done"

    async with chat_in(tmp_path, waits) as chat:
        conversation = chat.start()
        async with aclosing(chat.stream(conversation, "first")) as stream:
            assert (await stream.__anext__()).content == "..."
            with pytest.raises(ConversationBusyError, match="still coming"):
                await chat.send(conversation, "second")
            release.set()
            assert [u.content async for u in stream] == ["done", "done"]
        assert [m["content"] for m in chat.history(conversation)] == ["first", "done"]


@pytest.mark.anyio
async def test_message_limits(tmp_path: Path) -> None:
    async with chat_in(tmp_path, max_message_length=5) as chat:
        conversation = chat.start()
        with pytest.raises(FlagValueError, match="6 characters, over the limit of 5"):
            chat.stream(conversation, "123456")
        with pytest.raises(FlagValueError, match="must be text"):
            chat.stream(conversation, b"bytes")  # type: ignore[arg-type]
        with pytest.raises(FlagValueError, match="surrogate"):
            chat.stream(conversation, "\ud800")
        assert (await chat.send(conversation, "12345")).content == "0: 12345"


# -- whose conversation --------------------------------------------------------------------


@pytest.mark.anyio
async def test_another_user_can_neither_read_nor_send_nor_give_feedback(tmp_path: Path) -> None:
    async with chat_in(tmp_path) as chat:
        conversation = chat.start(username="ada")
        reply = await chat.send(conversation, "secret", username="ada")
        await chat.feedback(reply.message_id, "Like", username="ada")
        for username in ("bob", None):
            with pytest.raises(ConversationAccessError, match="belongs to another user"):
                chat.history(conversation, username=username)
            with pytest.raises(ConversationAccessError):
                chat.stream(conversation, "hi", username=username)
            with pytest.raises(ConversationAccessError):
                chat.feedback_state(conversation, username=username)
            with pytest.raises(ConversationAccessError):
                await chat.feedback(reply.message_id, "Dislike", username=username)
            with pytest.raises(ConversationAccessError):
                await chat.undo(reply.message_id, username=username)
        assert chat.feedback_state(conversation, username="ada")[1].value == "Like"
    assert len(load_flagged(tmp_path)) == 1


@pytest.mark.anyio
async def test_unknown_conversations_and_messages(tmp_path: Path) -> None:
    async with chat_in(tmp_path) as chat:
        conversation = chat.start()
        reply = await chat.send(conversation, "hi")
        with pytest.raises(UnknownConversationError, match="no conversation has the id"):
            chat.history("0" * 32)
        with pytest.raises(UnknownConversationError, match="not a conversation id"):
            chat.history("0" * 10_000_000)
        for message_id in ("nonsense", f"{conversation}:x", f"{conversation}:9", "x" * 500):
            with pytest.raises(UnknownConversationError):
                await chat.feedback(message_id, "Like")
        with pytest.raises(UnknownConversationError, match="not an assistant reply"):
            await chat.feedback(f"{conversation}:0", "Like")
        with pytest.raises(FlagValueError, match="not one of 'Dislike', 'Like'"):
            await chat.feedback(reply.message_id, "Love")
        with pytest.raises(FlagValueError, match="no feedback on message 1 to undo"):
            await chat.undo(reply.message_id)
    assert not list(tmp_path.glob("*.csv"))


@pytest.mark.anyio
async def test_conversations_are_bounded_by_count_and_bytes(tmp_path: Path) -> None:
    async with chat_in(tmp_path, max_conversations=3, max_bytes=2000) as chat:
        first, second, third, fourth = chat.start(), chat.start(), chat.start(), chat.start()
        with pytest.raises(UnknownConversationError, match="forgotten"):
            chat.history(first)  # past max_conversations
        await chat.send(second, "a" * 400)  # 931 bytes counted (64 per message)
        await chat.send(third, "b" * 400)  # 1,862
        await chat.send(fourth, "c" * 100)  # 2,193: the least recently used goes
        with pytest.raises(UnknownConversationError):
            chat.history(second)
        assert len(chat.history(third)) == len(chat.history(fourth)) == 2
        with pytest.raises(FlagValueError, match="more than 2,000 bytes"):
            await chat.send(fourth, "d" * 1700)
        assert len(chat.history(fourth)) == 2


# -- feedback ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_feedback_change_of_mind_and_undo_are_rows_read_back_as_current_state(
    tmp_path: Path,
) -> None:
    extras = [Textbox("system")]
    async with chat_in(tmp_path, additional_inputs=extras) as chat:
        conversation = chat.start(username="ada")
        first = await chat.send(conversation, "=1+1", "terse", username="ada")
        second = await chat.send(conversation, "two", "verbose", username="ada")
        assert await chat.feedback(first.message_id, "Like", comment="good", username="ada") == 1
        assert await chat.feedback(first.message_id, "Dislike", username="ada") == 2
        assert await chat.feedback(second.message_id, "Like", comment="", username="ada") == 3
        state = chat.feedback_state(conversation, username="ada")
        assert {i: (f.value, f.comment, f.username) for i, f in state.items()} == {
            1: ("Dislike", None, "ada"),
            3: ("Like", None, "ada"),
        }
        assert await chat.undo(second.message_id, username="ada") == 4
        assert set(chat.feedback_state(conversation, username="ada")) == {1}

    header, *rows = csv_rows(tmp_path / "dataset1.csv")
    assert header == [
        "conversation", "index", "system", "comment", "feedback_id", "flag", "username",
        "timestamp",
    ]  # fmt: skip
    ids = [feedback_id(conversation, 1, "ada"), feedback_id(conversation, 3, "ada")]
    assert [row[1:6] for row in rows] == [
        ["1", "terse", "good", ids[0], "Like"],
        ["1", "terse", "", ids[0], "Dislike"],
        ["3", "verbose", "", ids[1], "Like"],
        ["3", "verbose", "", ids[1], ""],
    ]
    assert conversation not in (tmp_path / "dataset1.csv").read_text()

    everything = load_flagged(tmp_path, chat.components, history=True)
    assert [row.flag for row in everything] == ["Like", "Dislike", "Like", None]
    current = load_flagged(tmp_path, chat.components)
    assert len(current) == 1
    (row,) = current
    assert row.values == (
        [{"role": "user", "content": "=1+1"}, {"role": "assistant", "content": "0: =1+1"}],
        1,
        "terse",
        "",
        ids[0],
    )
    assert (row.flag, row.username) == ("Dislike", "ada")


@pytest.mark.anyio
async def test_comments_are_checked(tmp_path: Path) -> None:
    async with chat_in(tmp_path) as chat:
        reply = await chat.send(chat.start(), "hi")
        with pytest.raises(FlagValueError, match="10,001 characters, over the limit of 10,000"):
            await chat.feedback(reply.message_id, "Like", comment="x" * 10_001)
        with pytest.raises(FlagValueError, match="comment must be text"):
            await chat.feedback(reply.message_id, "Like", comment=3)  # type: ignore[arg-type]
        with pytest.raises(FlagValueError, match="surrogate"):
            await chat.feedback(reply.message_id, "Like", comment="\udcff")
        with pytest.raises(FlagValueError, match="key must be"):
            await chat.feedback(reply.message_id, "Like", key="k" * 201)
        assert await chat.feedback(reply.message_id, "Like", comment="x" * 10_000) == 1


@pytest.mark.anyio
async def test_flag_menu_options_and_never_mode(tmp_path: Path) -> None:
    options = ["Like", "Dislike", "Inaccurate", ("Off topic", "off-topic")]
    async with chat_in(tmp_path, flagging_options=options) as chat:
        reply = await chat.send(chat.start(), "hi")
        assert await chat.feedback(reply.message_id, "off-topic") == 1
        with pytest.raises(FlagValueError, match="not one of"):
            await chat.feedback(reply.message_id, "Off topic")
    never = ChatInterface(echo, flagging_mode="never", flagging_dir=tmp_path / "never")
    async with never:
        reply = await never.send(never.start(), "hi")
        with pytest.raises(FlaggingDisabledError, match="flagging_mode is 'never'"):
            await never.feedback(reply.message_id, "Like")
        with pytest.raises(FlaggingDisabledError):
            await never.undo(reply.message_id)
    assert not (tmp_path / "never").exists()


def test_mode_comes_from_the_argument_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASYNCFLAG_CHAT_FLAGGING_MODE", raising=False)
    monkeypatch.delenv("GRADIO_CHAT_FLAGGING_MODE", raising=False)
    assert ChatInterface(echo).flagging_mode == "never"  # Gradio's default
    monkeypatch.setenv("GRADIO_CHAT_FLAGGING_MODE", "manual")
    assert ChatInterface(echo).flagging_mode == "manual"
    monkeypatch.setenv("ASYNCFLAG_CHAT_FLAGGING_MODE", "auto")
    assert ChatInterface(echo).flagging_mode == "auto"
    assert ChatInterface(echo, flagging_mode="never").flagging_mode == "never"
    monkeypatch.setenv("ASYNCFLAG_CHAT_FLAGGING_MODE", "sometimes")
    with pytest.raises(FlagValueError, match="ASYNCFLAG_CHAT_FLAGGING_MODE must be one of"):
        ChatInterface(echo)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(FlagValueError, match="fn must be callable"):
        ChatInterface("echo")  # type: ignore[arg-type]
    with pytest.raises(FlagValueError, match="label 'comment' is taken"):
        ChatInterface(echo, additional_inputs=[Textbox("comment")])
    with pytest.raises(FlagValueError, match="file component"):
        ChatInterface(echo, additional_inputs=[Image()])
    with pytest.raises(FlagValueError, match="non-empty"):
        ChatInterface(echo, flagging_options=[])
    with pytest.raises(FlagValueError, match="max_conversations"):
        ChatInterface(echo, max_conversations=0)
    assert ChatInterface(echo, additional_inputs="text").additional_inputs[0].label == (
        "additional input 0"
    )


# -- idempotency ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_hundred_concurrent_duplicates_of_one_key_write_one_row(tmp_path: Path) -> None:
    async with chat_in(tmp_path) as chat:
        conversation = chat.start(username="ada")
        reply = await chat.send(conversation, "hi", username="ada")
        assert await chat.feedback(reply.message_id, "Dislike", username="ada") == 1
        counts: list[int] = []

        async def click() -> None:
            counts.append(
                await chat.feedback(reply.message_id, "Like", username="ada", key="like-1")
            )

        async with anyio.create_task_group() as group:
            for _ in range(100):
                group.start_soon(click)
        assert counts == [2] * 100
        # the same key from another user is another key
        other = chat.start(username="bob")
        reply_b = await chat.send(other, "hi", username="bob")
        assert await chat.feedback(reply_b.message_id, "Like", username="bob", key="like-1") == 3
        assert await chat.undo(reply.message_id, username="ada", key="undo-1") == 4
        assert await chat.undo(reply.message_id, username="ada", key="undo-1") == 4
    assert len(csv_rows(tmp_path / "dataset1.csv")) == 1 + 4


class FailsOnce(FlaggingCallback):
    """Keeps rows in memory; the first row fails."""

    def __init__(self) -> None:
        self.rows: list[tuple[Sequence[Any], str | None]] = []
        self.failed = False

    def setup(self, components: Sequence[Any], flagging_dir: str) -> None:
        pass

    def flag(
        self, flag_data: Sequence[Any], flag_option: str | None = None, username: str | None = None
    ) -> int:
        if not self.failed:
            self.failed = True
            raise OSError("disk full")
        self.rows.append((flag_data, flag_option))
        return len(self.rows)


@pytest.mark.anyio
async def test_a_key_whose_first_call_failed_may_be_retried(tmp_path: Path) -> None:
    callback = FailsOnce()
    async with chat_in(tmp_path, flagging_callback=callback) as chat:
        conversation = chat.start()
        reply = await chat.send(conversation, "hi")
        with pytest.raises(FlagWriteError, match="disk full"):
            await chat.feedback(reply.message_id, "Like", key="k")
        assert chat.feedback_state(conversation) == {}  # the failed feedback is not current
        assert await chat.feedback(reply.message_id, "Like", key="k") == 1
        assert await chat.feedback(reply.message_id, "Like", key="k") == 1
        assert chat.feedback_state(conversation)[1].value == "Like"
    assert [option for _, option in callback.rows] == ["Like"]


# -- restart and auto mode -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_feedback_given_before_a_restart_is_shown_after_it(tmp_path: Path) -> None:
    async with chat_in(tmp_path, words, additional_inputs=["text"]) as chat:
        conversation = chat.start(username="ada")
        first = await chat.send(conversation, "one", "a", username="ada")
        second = await chat.send(conversation, "two", "b", username="ada")
        third = await chat.send(conversation, "three", "c", username="ada")
        await chat.feedback(first.message_id, "Like", comment="yes", username="ada")
        await chat.feedback(third.message_id, "Dislike", username="ada")
        await chat.feedback(second.message_id, "Like", username="ada")
        await chat.undo(second.message_id, username="ada")
        before = chat.feedback_state(conversation, username="ada")
        messages = chat.history(conversation, username="ada")

    restarted = chat_in(tmp_path, words, additional_inputs=["text"])
    async with restarted:
        with pytest.raises(UnknownConversationError):
            restarted.feedback_state(conversation, username="bob")
        after = restarted.feedback_state(conversation, username="ada")
        assert {i: (f.value, f.comment, f.username) for i, f in after.items()} == {
            i: (f.value, f.comment, f.username) for i, f in before.items()
        }
        assert {i: f.value for i, f in after.items()} == {1: "Like", 5: "Dislike"}
        assert after[1].comment == "yes"
        assert restarted.history(conversation, username="ada") == messages
        # the conversation goes on, and feedback on an old message supersedes the old row
        assert (await restarted.send(conversation, "four", "d", username="ada")).index == 7
        await restarted.feedback(first.message_id, "Dislike", username="ada")
    current = load_flagged(tmp_path, restarted.components)
    assert [(row.values[1], row.values[2], row.flag) for row in current] == [
        (5, "c", "Dislike"),
        (1, "a", "Dislike"),
    ]


@pytest.mark.anyio
async def test_auto_mode_logs_every_exchange_apart_from_feedback(tmp_path: Path) -> None:
    async with chat_in(tmp_path, async_words, flagging_mode="auto") as chat:
        conversation = chat.start(username="ada")
        replies = [await chat.send(conversation, f"m{i}", username="ada") for i in range(3)]
        await chat.feedback(replies[0].message_id, "Like", username="ada")
        await chat.undo(replies[0].message_id, username="ada")
        await chat.feedback(replies[1].message_id, "Dislike", username="ada")
        assert chat.stats.written == 6
    everything = load_flagged(tmp_path, chat.components, history=True)
    assert [(row.values[1], row.values[3], row.flag) for row in everything] == [
        (1, "", None),
        (3, "", None),
        (5, "", None),
        (1, feedback_id(conversation, 1, "ada"), "Like"),
        (1, feedback_id(conversation, 1, "ada"), None),
        (3, feedback_id(conversation, 3, "ada"), "Dislike"),
    ]
    assert everything[2].values[0] == chat.history(conversation, username="ada")
    current = load_flagged(tmp_path, chat.components)
    assert [(row.values[1], row.flag) for row in current] == [
        (1, None),
        (3, None),
        (5, None),
        (3, "Dislike"),
    ]


# -- ChatCSVLogger ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_chat_csv_logger_writes_gradios_five_columns(tmp_path: Path) -> None:
    async with chat_in(tmp_path, flagging_callback=ChatCSVLogger()) as chat:
        conversation = chat.start()
        reply = await chat.send(conversation, "-1")
        assert await chat.feedback(reply.message_id, "Like", comment="lost in Gradio's form") == 1
        assert await chat.undo(reply.message_id) == 2
    header, *rows = csv_rows(tmp_path / "log.csv")
    assert header == ["conversation", "index", "value", "flag", "timestamp"]
    assert all(len(row) == 5 for row in rows)
    assert json.loads(rows[0][0]) == [
        {"role": "user", "metadata": None, "content": [{"text": "-1", "type": "text"}],
         "options": None},
        {"role": "assistant", "metadata": None, "content": [{"text": "0: -1", "type": "text"}],
         "options": None},
    ]  # fmt: skip
    assert [row[1:4] for row in rows] == [["1", "0: -1", "Like"], ["1", "0: -1", ""]]
    read = load_flagged(tmp_path, history=True)
    assert [(row.values[1:], row.flag) for row in read] == [
        ((1, "0: -1"), "Like"),
        ((1, "0: -1"), None),
    ]
    assert read[0].values[0] == chat.history(conversation)
    assert read[0].timestamp is not None and read[0].timestamp.tzinfo is not None


def test_gradios_own_chat_log_reads_back(tmp_path: Path) -> None:
    """Gradio's ChatCSVLogger.flag, as in gradio/flagging.py: a five-column header over
    four-field rows (conversation, index, feedback, str(datetime.now()))."""
    messages = [
        {"role": "user", "metadata": None, "content": "hi", "options": None},
        {"role": "assistant", "metadata": None, "content": "hello", "options": None},
    ]
    with (tmp_path / "log.csv").open("a", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["conversation", "index", "value", "flag", "timestamp"])
        writer.writerow([json.dumps(messages), 1, "Like", str(datetime(2025, 1, 2, 3, 4, 5))])
        writer.writerow([json.dumps(messages), 1, "Dislike", str(datetime(2025, 1, 2, 3, 4, 6))])
    rows = load_flagged(tmp_path)
    assert [(row.values, row.flag, row.timestamp) for row in rows] == [
        (([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], 1,
          "hello"), "Like", datetime(2025, 1, 2, 3, 4, 5)),
        (([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], 1,
          "hello"), "Dislike", datetime(2025, 1, 2, 3, 4, 6)),
    ]  # fmt: skip


def test_chat_csv_logger_needs_a_chats_columns(tmp_path: Path) -> None:
    with pytest.raises(FlagValueError, match="'conversation' Chatbot"):
        ChatCSVLogger().setup([Textbox("x")], str(tmp_path))


# -- Redis ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_feedback_through_the_redis_transport(redis_url: str, tmp_path: Path) -> None:
    from asyncflag import RedisConsumer, RedisStream

    replica = ChatInterface(
        words,
        flagging_mode="auto",
        additional_inputs=[Textbox("system")],
        transport=RedisStream(redis_url, stream="chat"),
    )
    consumer = RedisConsumer(redis_url, stream="chat", flagging_dir=tmp_path)
    async with consumer, replica:
        conversation = replica.start(username="ada")
        reply = await replica.send(conversation, "é, =x", "sys", username="ada")
        assert await replica.feedback(reply.message_id, "Like", comment="+1", username="ada") == 2
        assert await replica.feedback(reply.message_id, "Like", username="ada", key="k") == 3
        assert await replica.feedback(reply.message_id, "Like", username="ada", key="k") == 3
        with anyio.fail_after(30):
            while replica.stats.pending:
                await anyio.sleep(0.02)
    everything = load_flagged(tmp_path, replica.components, history=True)
    assert [(row.values[2:4], row.flag) for row in everything] == [
        (("sys", ""), None),
        (("sys", "+1"), "Like"),
        (("sys", ""), "Like"),
    ]
    assert everything[1].values[0] == [
        {"role": "user", "content": "é, =x"},
        {"role": "assistant", "content": "0: é, =x"},
    ]
    assert len(load_flagged(tmp_path, replica.components)) == 2  # exchange + current feedback


# -- hypothesis --------------------------------------------------------------------------------

LIMIT = 2_000
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
    st.sampled_from(["=1+1", "+cmd", "-3", "@SUM(A1)", "'quoted", '"', "\x00=x", "\t\r\n", ""]),
    st.builds(lambda c, n: (c * n)[:LIMIT], st.characters(exclude_categories=["Cs"]),
              st.integers(LIMIT - 3, LIMIT)),
)  # fmt: skip


def repeat(message: str, history: Messages) -> str:
    return message


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    messages=st.lists(TEXT, min_size=1, max_size=5),
    comment=TEXT,
    logger=st.sampled_from(["csv", "chat"]),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_conversations_read_back_as_sent(
    messages: list[str], comment: str, logger: str, backend: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        callback = ChatCSVLogger() if logger == "chat" else None
        chat = ChatInterface(
            repeat,
            flagging_mode="manual",
            flagging_dir=tmp,
            flagging_callback=callback,
            max_message_length=LIMIT,
        )
        expected: list[Any] = []

        async def talk() -> None:
            async with chat:
                conversation = chat.start(username="ü=")
                for message in messages:
                    reply = await chat.send(conversation, message, username="ü=")
                    await chat.feedback(reply.message_id, "Like", comment=comment, username="ü=")
                    expected.append(chat.history(conversation, username="ü="))

        anyio.run(talk, backend=backend)
        read = load_flagged(tmp, chat.components)
        assert [row.values[0] for row in read] == expected
        if logger == "csv":
            assert [row.values[2] for row in read] == [comment] * len(messages)
            assert [row.username for row in read] == ["ü="] * len(messages)
        else:
            assert [row.values[2] for row in read] == [m[-1]["content"] for m in expected]


@pytest.mark.anyio
async def test_feedback_objects(tmp_path: Path) -> None:
    async with chat_in(tmp_path) as chat:
        conversation = chat.start()
        reply = await chat.send(conversation, "hi")
        await chat.feedback(reply.message_id, "Like", comment="c")
        feedback = chat.feedback_state(conversation)[1]
    assert isinstance(feedback, Feedback)
    (row,) = load_flagged(tmp_path)
    assert feedback.timestamp.tzinfo is not None
    assert (row.flag, row.values[2]) == (feedback.value, feedback.comment)


@pytest.mark.anyio
async def test_additional_values_reach_fn_as_their_components_hand_them_over(
    tmp_path: Path,
) -> None:
    import pandas as pd

    from asyncflag import Dataframe

    got: list[Any] = []

    def look(message: str, history: Messages, table: Any) -> str:
        got.append(table)
        return str(len(table))

    async with chat_in(tmp_path, look, additional_inputs=[Dataframe(headers=["a"])]) as chat:
        conversation = chat.start()
        reply = await chat.send(conversation, "rows?", [[1], [2]])
        await chat.feedback(reply.message_id, "Like")
    assert isinstance(got[0], pd.DataFrame) and got[0]["a"].tolist() == [1, 2]
    (row,) = load_flagged(tmp_path, chat.components)
    assert row.values[2]["a"].tolist() == [1, 2]
    async with chat_in(tmp_path, look, additional_inputs=[Dataframe(headers=["a"])]) as again:
        assert (await again.feedback(reply.message_id, "Dislike")) == 2  # values restored
    last = load_flagged(tmp_path, chat.components)[-1]
    assert (last.flag, last.values[2]["a"].tolist()) == ("Dislike", [1, 2])


@pytest.mark.anyio
async def test_a_cancelled_reply_keeps_what_came_and_frees_the_conversation(
    tmp_path: Path,
) -> None:
    started = anyio.Event()

    async def hangs(message: str, history: Messages) -> AsyncIterator[str]:
        yield "partial"
        started.set()
        await anyio.sleep_forever()
        yield "never"

    async with chat_in(tmp_path, hangs, flagging_mode="auto") as chat:
        conversation = chat.start()

        async def ask() -> None:
            await chat.send(conversation, "q")

        async with anyio.create_task_group() as group:
            group.start_soon(ask)
            await started.wait()
            group.cancel_scope.cancel()
        assert chat.history(conversation)[-1] == {"role": "assistant", "content": "partial"}
        async with aclosing(chat.stream(conversation, "again")) as stream:  # not busy
            assert (await stream.__anext__()).index == 3
        assert chat.stats.written == 0  # no exchange row for a reply that did not end


@pytest.mark.anyio
async def test_calls_from_another_thread_or_outside_async_with_are_refused(
    tmp_path: Path,
) -> None:
    from asyncflag import NotRunningError, WrongThreadError

    chat = chat_in(tmp_path)
    with pytest.raises(NotRunningError, match="async with chat"):
        chat.stream(chat.start(), "hi")
    async with chat:
        conversation = chat.start()
        reply = await chat.send(conversation, "hi")
        with pytest.raises(WrongThreadError):
            await anyio.to_thread.run_sync(
                lambda: anyio.run(chat.feedback, reply.message_id, "Like")
            )
        assert chat.feedback_state(conversation) == {}


@pytest.mark.anyio
async def test_memory_stays_bounded_by_max_bytes(tmp_path: Path) -> None:
    """4,000 exchanges of 10,000-character messages (~80 MB of text) kept within 4 MiB
    (measured: RSS grows by 2 MiB; by 42 MiB with max_bytes=1 GB instead)."""
    import gc

    import psutil

    process = psutil.Process()
    async with chat_in(tmp_path, echo, max_conversations=10_000, max_bytes=4 * 2**20) as chat:
        gc.collect()
        before = process.memory_info().rss
        for number in range(4_000):
            conversation = chat.start()
            await chat.send(conversation, chr(0x41 + number % 26) * 10_000)
        gc.collect()
        grown = (process.memory_info().rss - before) / 2**20
        assert len(chat.history(conversation)) == 2
    assert grown < 16, f"RSS grew by {grown:.1f} MiB"


@pytest.mark.anyio
async def test_show_counts_every_row_of_a_chat_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from asyncflag.cli import main

    async with chat_in(tmp_path) as chat:
        reply = await chat.send(chat.start(), "hi")
        await chat.feedback(reply.message_id, "Like")
        await chat.undo(reply.message_id)
        await chat.feedback(reply.message_id, "Dislike")
    assert main(["show", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "3 rows in 1 dataset file(s)" in shown
    assert "Like: 1" in shown and "Dislike: 1" in shown and "(no option): 1" in shown


@pytest.mark.anyio
async def test_the_chat_dataset_reads_in_pandas(tmp_path: Path) -> None:
    import pandas as pd

    async with chat_in(tmp_path, flagging_mode="auto") as chat:
        conversation = chat.start(username="ada")
        reply = await chat.send(conversation, '=HYPERLINK("x"), "quoted"\nline', username="ada")
        await chat.feedback(reply.message_id, "Like", comment="é ✓", username="ada")
    frame = pd.read_csv(tmp_path / "dataset1.csv", keep_default_na=False)
    assert list(frame.columns) == [
        "conversation", "index", "comment", "feedback_id", "flag", "username", "timestamp"
    ]  # fmt: skip
    assert frame["flag"].tolist() == ["", "Like"]
    assert frame["comment"].tolist() == ["", "é ✓"]
    messages = json.loads(frame["conversation"][1])
    assert messages[0]["content"] == [
        {"text": '=HYPERLINK("x"), "quoted"\nline', "type": "text"}
    ]  # Gradio's messages JSON; the cell starts with "[", never a formula
