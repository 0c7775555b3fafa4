"""Chat: streamed tokens per second with ``auto`` logging against ``never``, and feedback
events per second against plain ``Interface.flag()`` rows of the same width.

The bot streams ``TOKENS`` words per reply (each update the whole text so far, as Gradio's
generators yield it). Rounds alternate between the two modes to spread machine noise;
each round sends ``messages`` messages in each of ``CONVERSATIONS`` concurrent
conversations, and is timed until its exchange rows are on disk. Feedback is given by
``WORKERS`` concurrent callers, each awaiting its row.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import anyio
from anyio.lowlevel import checkpoint

from asyncflag import ChatInterface, Interface, components

from ._common import Result, Settings, progress, scratch_dir

TOKENS = 64
CONVERSATIONS = 8
WORKERS = 16


async def bot(message: str, history: list[dict[str, str]]) -> AsyncIterator[str]:
    """A model that costs nothing: yields to the event loop per token, as one awaiting
    a model server would (so the writer runs between tokens, as it would in a server)."""
    text = ""
    for number in range(TOKENS):
        await checkpoint()
        text += f" w{number}"
        yield text


async def stream_round(chat: ChatInterface, messages: int) -> int:
    """Send ``messages`` messages in each of the concurrent conversations; return tokens."""
    tokens = 0

    async def converse() -> None:
        nonlocal tokens
        conversation = chat.start()
        for number in range(messages):
            async with aclosing(chat.stream(conversation, f"message {number}")) as updates:
                async for update in updates:
                    tokens += not update.done
            if number % 16 == 15:
                conversation = chat.start()

    async with anyio.create_task_group() as group:
        for _ in range(CONVERSATIONS):
            group.start_soon(converse)
    return tokens


async def streamed_tokens(settings: Settings) -> list[Result]:
    rounds = settings.rows(10, 2)
    messages = settings.rows(50, 4)
    seconds = {"never": 0.0, "auto": 0.0}
    tokens = {"never": 0, "auto": 0}
    with scratch_dir() as tmp:
        chats = {mode: ChatInterface(bot, flagging_mode=mode, flagging_dir=tmp / mode)
                 for mode in seconds}  # fmt: skip
        async with chats["never"], chats["auto"]:
            with progress() as bar:
                task = bar.add_task("chat streams", total=rounds * 2)
                for _ in range(rounds):
                    for mode, chat in chats.items():
                        started = time.perf_counter()
                        tokens[mode] += await stream_round(chat, messages)
                        while chat.stats.pending:  # the rows on disk, inside the time  # noqa: ASYNC110
                            await anyio.sleep(0.0005)
                        seconds[mode] += time.perf_counter() - started
                        bar.advance(task)
            written = chats["auto"].stats.written
    never = tokens["never"] / seconds["never"]
    auto = tokens["auto"] / seconds["auto"]
    return [
        Result(
            "chat",
            f"streamed tokens/s, auto logging ({CONVERSATIONS} conversations, "
            f"{TOKENS}-token replies)",
            auto,
            "tokens/s",
            "same bot, never",
            never,
            auto / never,
            f"{written:,} exchange rows logged",
        )
    ]


async def feedback_events(settings: Settings) -> list[Result]:
    count = settings.rows(20_000, 400)
    with scratch_dir() as tmp:
        chat = ChatInterface(bot, flagging_mode="manual", flagging_dir=tmp / "chat")
        async with chat:
            conversation = chat.start(username="bench")
            reply = await chat.send(conversation, "hi", username="bench")
            conversation_value = chat.history(conversation, username="bench")
            values = (conversation_value, reply.index, "", "x" * 32)

            async def give(worker: int) -> None:
                for number in range(worker, count, WORKERS):
                    value = "Like" if number % 2 else "Dislike"
                    await chat.feedback(reply.message_id, value, username="bench")

            chat_rate = await _rate(give, count)
        plain: Interface = Interface(
            lambda *args: None,
            [components.Chatbot("conversation"), components.Number("index", precision=0),
             components.Textbox("comment"), components.Textbox("feedback_id")],
            None,
            flagging_mode="manual",
            flagging_dir=tmp / "plain",
        )  # fmt: skip
        async with plain:

            async def flag(worker: int) -> None:
                for number in range(worker, count, WORKERS):
                    value = "Like" if number % 2 else "Dislike"
                    await plain.flag(list(values), value, "bench")

            plain_rate = await _rate(flag, count)
    return [
        Result(
            "chat",
            f"feedback() events/s, {WORKERS} callers awaiting their rows",
            chat_rate,
            "events/s",
            "Interface.flag() of the same rows",
            plain_rate,
            chat_rate / plain_rate,
            f"{count:,} events each",
        )
    ]


async def _rate(work: Any, count: int) -> float:
    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for worker in range(WORKERS):
            group.start_soon(work, worker)
    return count / (time.perf_counter() - started)


async def run(settings: Settings) -> list[Result]:
    return [*await streamed_tokens(settings), *await feedback_events(settings)]
