"""The built-in demos served by ``asyncflag demo``: the guide's calculator, and an image demo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from .components import Dropdown, Image, Number
from .errors import FlagValueError
from .interface import Interface
from .modes import FlaggingMode

__all__ = ["MAX_DEMO_PIXELS", "calculator", "demo_app", "image_demo"]


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
