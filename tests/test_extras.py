"""Early, one-line errors: a missing optional extra, a flagging folder that cannot be used."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port, wait_until_serving

from asyncflag import Interface, MissingExtraError
from asyncflag.cli import main


@pytest.mark.parametrize(
    ("argv", "module", "extra"),
    [
        (["bench", "--quick"], "rich", "bench"),
        (["consume", "redis://127.0.0.1:1", "--stream", "s"], "coredis", "redis"),
        (["demo"], "starlette", "web"),
        (["demo", "--chat"], "uvicorn", "web"),
    ],
)
def test_the_cli_names_a_missing_extra_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    module: str,
    extra: str,
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled module looks like
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"asyncflag {argv[0]}: asyncflag {argv[0]} needs the {extra!r} extra")
    assert f"({module} not installed): pip install 'asyncflag[{extra}]'" in err


def test_app_and_launch_name_the_web_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    iface = Interface(lambda text: text, "text", "text")
    monkeypatch.setitem(sys.modules, "starlette", None)
    with pytest.raises(MissingExtraError, match=r"iface.app\(\) needs the 'web' extra"):
        iface.app()
    with pytest.raises(MissingExtraError, match=r"pip install 'asyncflag\[web\]'"):
        iface.launch()
    assert isinstance(MissingExtraError("x"), ImportError)  # `except ImportError` still works


def test_demo_refuses_a_flagging_dir_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "flags"
    file.write_text("a file")
    assert main(["demo", "--dir", str(file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is a file, not a directory" in err and str(file) in err


def test_demo_startup_message_names_every_demo(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "asyncflag", "demo", "--port", str(port)]
    command += ["--dir", str(tmp_path / "flags")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", process)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    base = f"http://127.0.0.1:{port}"
    lines = output.decode().splitlines()
    assert f"  Calculator: {base}/" in lines
    assert f"  Sepia image: {base}/image/" in lines
    assert f"  Chat: {base}/chat/" in lines
