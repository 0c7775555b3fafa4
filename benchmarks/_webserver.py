"""A server for the web case: ``python -m benchmarks._webserver MODE PORT DIR [--reuse-port]``.

Several workers are several of these processes with ``--reuse-port``, each with its own
interface on the same flagging directory (their rows meet in one dataset file, through
its lock) and its own listening socket on the same port (``SO_REUSEPORT``), so that the
kernel spreads the connections over them. (uvicorn's ``--workers`` share one socket: the
first worker to wake accepts every connection a load generator opens at once, and the
others stay idle while ``wrk``'s keep-alive connections last; and that socket, made with
protocol 0, leaves asyncio's ``TCP_NODELAY`` off, so every answer waits on Nagle.)

Each process writes ``DIR/ready-<pid>.txt`` once it serves, counts the ``200`` answers its
``/api/predict`` sent and writes the count to ``DIR/served-<pid>.txt`` when it stops, so
the bench can check that the dataset holds exactly one row per answered request.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._common import six_column_interface

MODE_VARIABLE = "ASYNCFLAG_BENCH_MODE"
DIR_VARIABLE = "ASYNCFLAG_BENCH_DIR"


class CountServed:
    """Counts the ``200`` answers to ``POST /api/predict``; writes the count on shutdown."""

    def __init__(self, app: ASGIApp, directory: Path) -> None:
        self.app = app
        self.directory = directory
        self.served = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":

            async def started(message: Message) -> None:
                await send(message)
                if message["type"] == "lifespan.startup.complete":
                    (self.directory / f"ready-{os.getpid()}.txt").write_text("")

            try:
                await self.app(scope, receive, started)
            finally:
                path = self.directory / f"served-{os.getpid()}.txt"
                path.write_text(str(self.served))
            return
        if scope["type"] != "http" or scope["path"] != "/api/predict":
            await self.app(scope, receive, send)
            return

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                self.served += 1
            await send(message)

        await self.app(scope, receive, counted)


def create_app() -> ASGIApp:
    """The app of one worker: the six-column interface in the mode the bench chose."""
    mode, directory = os.environ[MODE_VARIABLE], Path(os.environ[DIR_VARIABLE])
    iface = six_column_interface(directory, mode=mode)
    return CountServed(iface.app(), directory)


def main(argv: list[str]) -> None:
    mode, port, directory = argv[0], int(argv[1]), argv[2]
    os.environ[MODE_VARIABLE] = mode
    os.environ[DIR_VARIABLE] = directory
    config = uvicorn.Config(
        "benchmarks._webserver:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )
    if "--reuse-port" not in argv:
        uvicorn.Server(config).run()
        return
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it each answer (headers, then body) waits ~40 ms on Nagle and delayed ACKs
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(config.backlog)
    sock.set_inheritable(True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1:])
