"""Embed a chat in a Starlette app: mount its page and API, and use its Python API too.

Run: uvicorn examples.embed_chat:app --port 8000, then open http://127.0.0.1:8000/chat/
Starlette does not run a mounted app's lifespan, so the host passes ``chat.lifespan``.
The host's own route ``POST /ask`` talks to the same chat without the page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from asyncflag import ChatInterface


async def shout(message: str, history: list[dict[str, str]]) -> AsyncIterator[str]:
    """Streams the message back in capitals, a word at a time (each yield: the reply so far)."""
    reply = ""
    for word in message.upper().split():
        await anyio.sleep(0.05)
        reply = f"{reply} {word}".strip()
        yield reply


chat = ChatInterface(
    shout,
    flagging_mode="manual",
    flagging_options=["Like", "Dislike", "Off topic"],
    flagging_dir="flagged-embed-chat",
    title="Shouting bot",
)


async def ask(request: Request) -> JSONResponse:
    """The host's own API: a one-shot question, answered with the message id to rate it by."""
    conversation_id = chat.start()
    reply = await chat.send(conversation_id, (await request.json())["message"])
    return JSONResponse({"message_id": reply.message_id, "reply": reply.content})


app = Starlette(
    routes=[Route("/ask", ask, methods=["POST"]), Mount("/chat", chat.app())],
    lifespan=chat.lifespan,
)
