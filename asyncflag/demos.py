"""The built-in demos served by ``asyncflag demo``: the guide's calculator, an image demo,
and (``asyncflag demo --chat``) a small rule-based chat bot that streams its replies."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from .components import Dropdown, Image, Number
from .errors import Error, FlagValueError
from .interface import Interface
from .modes import FlaggingMode

if TYPE_CHECKING:
    from .chat_interface import ChatInterface

__all__ = [
    "MAX_DEMO_PIXELS",
    "calculator",
    "chat_demo",
    "chat_demo_app",
    "demo_app",
    "demo_links",
    "image_demo",
    "rule_bot",
]


def calculator(mode: FlaggingMode | None = None, flagging_dir: str | Path = "flagged") -> Interface:
    """The flagging guide's calculator, with its flagging options."""

    def calculate(num1: float | None, operation: str, num2: float | None) -> float:
        # an empty box is None (as in Gradio): asyncflag.Error shows the message as it is
        if num1 is None or num2 is None:
            raise Error(f"enter a number in {'num1' if num1 is None else 'num2'}")
        if operation == "add":
            return num1 + num2
        if operation == "subtract":
            return num1 - num2
        if operation == "multiply":
            return num1 * num2
        if num2 == 0:
            raise Error("cannot divide by zero")
        return num1 / num2

    return Interface(
        calculate,
        [
            Number(label="num1"),
            Dropdown(["add", "subtract", "multiply", "divide"], label="operation"),
            Number(label="num2"),
        ],
        Number(label="result"),
        flagging_mode=mode,
        flagging_options=["wrong", "off by one", "other"],
        flagging_dir=flagging_dir,
        title="Calculator",
        description="Compute, then flag a result that looks wrong.",
    )


#: the most pixels the image demo decodes (4096 x 4096, 48 MiB as RGB): a PNG of a few
#: kilobytes can declare 8000 x 8000 pixels, under Pillow's own limit of 89 M.
MAX_DEMO_PIXELS = 4096 * 4096


def image_demo(mode: FlaggingMode | None = None, flagging_dir: str | Path = "flagged") -> Interface:
    """Gradio's quickstart sepia filter on an uploaded image (needs Pillow and numpy): the
    input hands ``fn`` an RGB numpy array, as Gradio's ``Image()`` does, and refuses an
    image over :data:`MAX_DEMO_PIXELS`, from the header, before anything is decoded."""
    import numpy as np
    import PIL.Image  # noqa: F401  (the Image input decodes uploads with Pillow)

    sepia_filter = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])

    def sepia(input_img: Any) -> Any:
        # FlagValueError: the web API answers it with a 400 and this message.
        if input_img is None:
            raise FlagValueError("upload an image")
        sepia_img = input_img.dot(sepia_filter.T)
        return sepia_img / max(float(sepia_img.max()), 1e-9)  # floats in 0..1

    return Interface(
        sepia,
        Image(label="image", max_pixels=MAX_DEMO_PIXELS),
        Image(label="sepia"),
        flagging_mode=mode,
        flagging_options=["ugly", "wrong colours"],
        flagging_dir=Path(flagging_dir) / "image-demo",
        title="Sepia",
        description="Upload an image; flag a result you do not like.",
    )


def demo_app(mode: FlaggingMode | None = None, flagging_dir: str | Path = "flagged") -> Any:
    """The calculator at ``/``, the image demo at ``/image/`` (when Pillow and numpy are
    installed) and the chat demo at ``/chat/``; each page links to the others, and the
    calculator and the image demo have their review pages (``/flagged``, ``/image/flagged``).

    The image demo's flags go to ``<flagging_dir>/image-demo``, the chat's to
    ``<flagging_dir>/chat-demo``.
    """
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from .web import create_app

    links = demo_links()
    calc = calculator(mode, flagging_dir)
    chat = chat_demo(mode, Path(flagging_dir) / "chat-demo")
    running: list[Any] = [calc, chat]
    routes = [Mount("/chat", app=chat.app())]
    try:
        image = image_demo(mode, flagging_dir)
    except ImportError:
        links = [link for link in links if link[1] != "/image/"]
    else:
        running.append(image)
        routes.append(Mount("/image", app=create_app(image, links=links, review=True)))
    routes.append(Mount("/", app=create_app(calc, links=links, review=True)))

    @asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        # Mounted apps' lifespans are not run by Starlette: the host runs every interface.
        async with AsyncExitStack() as stack:
            for iface in running:
                await stack.enter_async_context(iface)
            yield

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.links = links
    return app


def demo_links() -> list[tuple[str, str]]:
    """The demos ``asyncflag demo`` serves: ``(name, path)`` pairs."""
    return [("Calculator", "/"), ("Sepia image", "/image/"), ("Chat", "/chat/")]


#: seconds between the words of the chat demo's replies, so that the stream shows
DEMO_WORD_DELAY = 0.06


def rule_bot_reply(message: str, history: list[dict[str, str]]) -> str:
    """The chat demo's whole reply to ``message``: a few rules, else an echo."""
    text = message.strip()
    lowered = text.lower()
    turns = sum(1 for m in history if m["role"] == "user") + 1
    sum_match = re.fullmatch(r"(?:what is\s+)?(-?\d{1,12})\s*([+*-])\s*(-?\d{1,12})\s*\??", lowered)
    if sum_match:
        a, op, b = int(sum_match[1]), sum_match[2], int(sum_match[3])
        result = a + b if op == "+" else a - b if op == "-" else a * b
        return f"{a} {op} {b} = {result}."
    if re.match(r"(hi|hello|hey)\b", lowered):
        return (
            "Hello! I am a tiny rule-based bot. Ask me a sum (2 + 3), to reverse some "
            "text, or say anything and I will echo it."
        )
    if lowered.startswith("reverse "):
        return f"Reversed: {text[8:][::-1]}"
    if lowered in ("help", "?"):
        return (
            "I know sums (12 * 7), 'reverse <text>', greetings, and 'count': everything "
            "else I echo."
        )
    if lowered == "count":
        return f"This is message {turns} of yours in this conversation."
    return f"You said: {text}" if text else "You said nothing at all."


async def rule_bot(message: str, history: list[dict[str, str]]) -> AsyncIterator[str]:
    """The chat demo's function: streams :func:`rule_bot_reply` a word at a time, each
    step the whole reply so far (Gradio's convention)."""
    reply = ""
    for word in re.findall(r"\S+\s*", rule_bot_reply(message, history)):
        await anyio.sleep(DEMO_WORD_DELAY)
        reply += word
        yield reply


def chat_demo(
    mode: FlaggingMode | None = "manual", flagging_dir: str | Path = "flagged"
) -> ChatInterface:
    """A :class:`~asyncflag.ChatInterface` around :func:`rule_bot` (no model to download),
    with thumbs up and down and one more option in the flag menu."""
    from .chat_interface import ChatInterface

    return ChatInterface(
        rule_bot,
        flagging_mode=mode or "manual",
        flagging_options=["Like", "Dislike", "Inaccurate"],
        flagging_dir=flagging_dir,
        title="Rule-based chat",
        description="A tiny bot that streams its replies: rate them with the thumbs, "
        "flag one as inaccurate, add a comment, or take your feedback back.",
    )


def chat_demo_app(
    mode: FlaggingMode | None = "manual", flagging_dir: str | Path = "flagged"
) -> Any:
    """The chat demo's app (its page at ``/``), as ``asyncflag demo --chat`` serves it."""
    return chat_demo(mode, flagging_dir).app()
