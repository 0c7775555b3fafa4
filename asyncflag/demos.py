"""The built-in demos served by ``asyncflag demo``: the guide's calculator, and an image demo."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from .components import Dropdown, FileData, Image, Number
from .interface import Interface
from .modes import FlaggingMode

__all__ = ["calculator", "demo_app", "image_demo"]


def calculator(mode: FlaggingMode | None = None, flagging_dir: str | Path = "flagged") -> Interface:
    """The flagging guide's calculator, with its flagging options."""

    def calculate(num1: float, operation: str, num2: float) -> float:
        if operation == "add":
            return num1 + num2
        if operation == "subtract":
            return num1 - num2
        if operation == "multiply":
            return num1 * num2
        if num2 == 0:
            raise ZeroDivisionError("cannot divide by zero")
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


def image_demo(mode: FlaggingMode | None = None, flagging_dir: str | Path = "flagged") -> Interface:
    """Sepia-tones an uploaded image (needs Pillow)."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    def sepia(image: FileData | None) -> Any:
        if image is None:
            raise ValueError("upload an image")
        picture = PILImage.open(io.BytesIO(image.data)).convert("L")
        return ImageOps.colorize(picture, "#2b1d0e", "#f4e3c1")

    return Interface(
        sepia,
        Image(label="image"),
        Image(label="sepia"),
        flagging_mode=mode,
        flagging_options=["ugly", "wrong colours"],
        flagging_dir=Path(flagging_dir) / "image-demo",
        title="Sepia",
        description="Upload an image; flag a result you do not like.",
    )


def demo_app(mode: FlaggingMode | None = None, flagging_dir: str | Path = "flagged") -> Any:
    """The calculator at ``/`` and, when Pillow is installed, the image demo at ``/image``."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    interfaces = [calculator(mode, flagging_dir)]
    try:
        interfaces.insert(0, image_demo(mode, flagging_dir))
        routes = [Mount("/image", app=interfaces[0].app()), Mount("/", app=interfaces[1].app())]
    except ImportError:
        routes = [Mount("/", app=interfaces[0].app())]

    @asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        # Mounted apps' lifespans are not run by Starlette: the host runs every interface.
        async with AsyncExitStack() as stack:
            for iface in interfaces:
                await stack.enter_async_context(iface)
            yield

    return Starlette(routes=routes, lifespan=lifespan)
