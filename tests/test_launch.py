"""Serving for real: uvicorn in a child process, stopped with Ctrl-C, loses no accepted flag."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from conftest import DemoServer, free_port, wait_until_serving


def test_ctrl_c_drains_every_accepted_flag(demo_server: DemoServer) -> None:
    with demo_server("auto") as (url, flagging_dir):
        with httpx.Client(base_url=url, timeout=10) as client:
            answers = [
                client.post("/api/predict", json={"data": [i, "add", 1]}).json()["data"][0]
                for i in range(200)
            ]
    # the server has exited: every prediction it answered is in the dataset
    assert answers == [i + 1 for i in range(200)]
    with (flagging_dir / "dataset1.csv").open(newline="") as file:
        rows = list(csv.reader(file))[1:]
    assert [row[:4] for row in rows] == [[str(i), "add", "1", str(i + 1)] for i in range(200)]


def test_show_summarises_a_directory(demo_server: DemoServer) -> None:
    with demo_server("manual") as (url, flagging_dir):
        with httpx.Client(base_url=url, timeout=10) as client:
            for i, option in enumerate(["wrong", "wrong", "other"]):
                prediction = client.post("/api/predict", json={"data": [i, "add", 1]}).json()
                client.post("/api/flag", json={"id": prediction["id"], "option": option})
    shown = subprocess.run(
        [sys.executable, "-m", "asyncflag", "show", str(flagging_dir)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "3 rows in 1 dataset file(s)" in shown
    assert "dataset1.csv: 3 rows" in shown
    assert "wrong: 2" in shown and "other: 1" in shown
    assert "num1=2, operation='add', num2=1, result=3" in shown  # numbers as numbers


TERMINAL_TRICKS = "\x1b[2J\x1b]0;pwned\x07\x9b31m\x7f\u202e"


def test_show_escapes_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A flagged option, label, value or username cannot clear the terminal or retitle it."""
    from asyncflag import Interface, components
    from asyncflag.cli import main

    iface = Interface(
        lambda text: text,
        components.Textbox(label="label" + TERMINAL_TRICKS),
        "text",
        flagging_options=["option" + TERMINAL_TRICKS],
        flagging_dir=tmp_path,
    )

    async def flag() -> None:
        async with iface:
            await iface.flag(
                ["value" + TERMINAL_TRICKS, "out"],
                option="option" + TERMINAL_TRICKS,
                username="user" + TERMINAL_TRICKS,
            )

    anyio.run(flag)
    assert main(["show", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert not any(ch in shown for ch in "\x1b\x07\x9b\x7f\u202e")
    escaped = "\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\x7f\\u202e"
    assert f"  option{escaped}: 1" in shown
    assert f"label{escaped}=" in shown
    assert f"by user{escaped}" in shown
    assert "value" + escaped in shown


def test_serve_refuses_what_is_not_an_interface() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "asyncflag", "serve", "json:dumps"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "not an asyncflag Interface" in result.stderr


def test_serve_launches_a_users_interface(tmp_path: Path) -> None:
    (tmp_path / "my_service.py").write_text(
        "from asyncflag import Interface\n"
        "async def shout(text: str) -> str:\n"
        "    return text.upper()\n"
        "iface = Interface(shout, 'text', 'text', flagging_mode='auto',\n"
        f"                  flagging_dir={str(tmp_path / 'out')!r})\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "asyncflag", "serve", "my_service:iface", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url, process)
        with httpx.Client(base_url=url, timeout=10) as client:
            answers = [
                client.post("/api/predict", json={"data": [f"word {i}"]}).json()["data"]
                for i in range(50)
            ]
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C: launch() drains before exiting
        assert process.wait(timeout=60) == 0
    assert answers[-1] == ["WORD 49"]
    with (tmp_path / "out" / "dataset1.csv").open(newline="") as file:
        assert [row[1] for row in list(csv.reader(file))[1:]] == [f"WORD {i}" for i in range(50)]
