from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from benchmarks.postgres_server import PostgresServer

#: ``demo_server(mode)`` serves ``asyncflag demo`` on a free loopback port
DemoServer = Callable[[str], AbstractContextManager[tuple[str, Path]]]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs on both backends anyio supports."""
    return str(request.param)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Poll ``url`` until the server in ``process`` answers; fail with its output if it dies."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/api/config", timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError(f"the server did not start:\n{output}")
        time.sleep(0.1)


@pytest.fixture
def demo_server(tmp_path: Path) -> DemoServer:
    """Start ``asyncflag demo`` in a child process; stop it with SIGINT (Ctrl-C) after."""

    @contextmanager
    def serve(mode: str) -> Iterator[tuple[str, Path]]:
        port = free_port()
        flagging_dir = tmp_path / f"flags-{mode}"
        command = [sys.executable, "-m", "asyncflag", "demo", "--mode", mode]
        command += ["--port", str(port), "--dir", str(flagging_dir)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(url, process)
            yield url, flagging_dir
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
            if process.stdout:
                process.stdout.close()

    return serve


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real ``redis-server`` on a free loopback port for one test; its URL."""
    from streams.redis_server import REDIS_SERVER, RedisServer

    if not os.path.exists(REDIS_SERVER):
        pytest.skip("needs Debian's redis-server (.ci/run installs it)")
    server = RedisServer(tmp_path / "redis", free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


#: why the PostgreSQL tests are skipped on a machine without it
NO_POSTGRES = "needs PostgreSQL's initdb and pg_ctl (Debian's postgresql: .ci/run installs it)"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the session (as an unprivileged user, in a
    temporary folder, on a free port): see benchmarks/postgres_server.py."""
    from benchmarks.postgres_server import PostgresServer, postgres_bin_dir

    if postgres_bin_dir() is None:
        pytest.skip(NO_POSTGRES)
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """The DSN (with a password) of a new, empty database of the session's server."""
    return postgres_server.create_database()


@contextmanager
def served_in_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free loopback port; yield its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


#: Debian's chromium, which .ci/run installs (playwright's own browser download is not used)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@contextmanager
def chromium_page(width: int = 1000, height: int = 700) -> Iterator[Page]:
    """A page of headless Debian chromium driven by playwright, closed on leaving."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()
