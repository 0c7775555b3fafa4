"""Serving for real: uvicorn in a child process, stopped with Ctrl-C, loses no accepted flag."""

from __future__ import annotations

import csv
import subprocess
import sys

import httpx
from conftest import DemoServer


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
    assert "num1='2'" in shown


def test_serve_refuses_what_is_not_an_interface() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "asyncflag", "serve", "json:dumps"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "not an asyncflag Interface" in result.stderr
