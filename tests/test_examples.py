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
    monkeypatch.chdir(tmp_path)  # each example flags into its own ./flagged-<name>
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
    folder = tmp_path / f"flagged-{name.replace('_', '-')}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]
    with (folder / "dataset1.csv").open(newline="") as file:
        assert list(csv.reader(file))[1][:2] == ["is it?", "question"]


def test_auto_stream_example(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "auto_stream.py"), "--rows", "500",
         "--dir", str(tmp_path / "out")],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert "500 predictions auto-flagged" in result.stdout
    assert str(tmp_path / "out" / "dataset1.csv") in result.stdout


def _auto_stream(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "auto_stream.py"), "--rows", "300", *args],
        capture_output=True, text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_auto_stream_writes_its_own_folder_and_reads_it_back(tmp_path: Path) -> None:
    """Beside the demo's ./flagged (the calculator's columns), the example neither writes
    into it nor fails reading it: it uses ./flagged-auto-stream, twice over."""
    demo = tmp_path / "flagged"
    demo.mkdir()
    calculator_rows = "num1,operation,num2,result,flag,username,timestamp\n"
    calculator_rows += "10,subtract,-3,13,wrong,,2026-11-25T15:00:00+00:00\n"
    (demo / "dataset1.csv").write_text(calculator_rows)
    for run in (1, 2):
        result = _auto_stream(cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "300 predictions auto-flagged" in result.stdout
        assert "rows went to: flagged-auto-stream/dataset1.csv" in result.stdout
        assert f"{300 * run} rows in flagged-auto-stream" in result.stdout
        last = "text='Sentence number 299 SAYS HELLO', threshold=0.3, label='positive'"
        assert last in result.stdout
    assert sorted(p.name for p in demo.iterdir()) == ["dataset1.csv"]
    assert (demo / "dataset1.csv").read_text() == calculator_rows


def test_auto_stream_into_a_shared_folder_says_so(tmp_path: Path) -> None:
    """Pointed at a folder holding another interface's rows: one clear line, no traceback."""
    (tmp_path / "dataset1.csv").write_text(
        "num1,operation,num2,result,flag,username,timestamp\n"
        "10,subtract,-3,13,wrong,,2026-11-25T15:00:00+00:00\n"
    )
    result = _auto_stream("--dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "also holds rows of another interface" in result.stderr
    assert "give this example a folder of its own with --dir" in result.stderr
