"""The examples run: the host apps serve their own route and the mounted flagging app."""

from __future__ import annotations

import csv
import importlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["embed_starlette", "embed_fastapi"])
async def test_embedding_examples(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the examples flag into ./flagged
    monkeypatch.syspath_prepend(str(ROOT))
    module = importlib.import_module(f"examples.{name}")
    app = module.app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = (await client.post("/classify", json={"text": "is it?"})).json()
            assert answer["label"] == "question"
            assert 'id="submit"' in (await client.get("/flagging/")).text
            if module.iface.flagging_mode == "manual":
                flagged = await client.post(
                    "/flagging/api/flag", json={"id": answer["id"], "option": "wrong"}
                )
                assert flagged.json() == {"count": 1}
    with (tmp_path / "flagged" / "dataset1.csv").open(newline="") as file:
        assert list(csv.reader(file))[1][:2] == ["is it?", "question"]


def test_auto_stream_example(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "auto_stream.py"), "--rows", "500",
         "--dir", str(tmp_path / "out")],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert "500 predictions auto-flagged" in result.stdout
    assert str(tmp_path / "out" / "dataset1.csv") in result.stdout
