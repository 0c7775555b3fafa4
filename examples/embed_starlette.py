"""Embed asyncflag in a Starlette app: mount its page and API, run it from the host's lifespan.

Run: uvicorn examples.embed_starlette:app --port 8000, then open http://127.0.0.1:8000/flagging/
Starlette does not run a mounted app's lifespan, so the host passes ``iface.lifespan``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from asyncflag import Interface


async def classify(text: str) -> str:
    return "question" if text.rstrip().endswith("?") else "statement"


iface = Interface(
    classify, "text", "text", flagging_options=["wrong"], flagging_dir="flagged-embed-starlette"
)


async def classify_endpoint(request: Request) -> JSONResponse:
    """The host's own API also runs predictions through the interface (logged if flagged)."""
    prediction = await iface.submit((await request.json())["text"])
    return JSONResponse({"id": prediction.id, "label": prediction.outputs[0]})


app = Starlette(
    routes=[
        Route("/classify", classify_endpoint, methods=["POST"]),
        Mount("/flagging", iface.app()),
    ],
    lifespan=iface.lifespan,
)
