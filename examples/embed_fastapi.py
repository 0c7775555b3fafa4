"""Embed asyncflag in a FastAPI app (``pip install fastapi``): same pattern as with Starlette.

Run: uvicorn examples.embed_fastapi:app --port 8000, then open http://127.0.0.1:8000/flagging/
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

from asyncflag import Interface


async def classify(text: str) -> str:
    return "question" if text.rstrip().endswith("?") else "statement"


iface = Interface(
    classify, "text", "text", flagging_mode="auto", flagging_dir="flagged-embed-fastapi"
)
app = FastAPI(lifespan=iface.lifespan)  # FastAPI does not run mounted apps' lifespans either
app.mount("/flagging", iface.app())


class Query(BaseModel):
    text: str


@app.post("/classify")
async def classify_endpoint(query: Query) -> dict[str, str]:
    prediction = await iface.submit(query.text)  # auto mode: every call is logged
    return {"id": prediction.id, "label": prediction.outputs[0]}
