"""A server for the web case: ``python -m benchmarks._webserver MODE PORT DIR [WORKERS]``.

With several workers uvicorn starts one process per worker, each with its own interface
on the same flagging directory (their rows meet in one dataset file, through its lock).
Each process counts the ``200`` answers its ``/api/predict`` sent and writes the count to
``DIR/served-<pid>.txt`` when it stops, so the bench can check that the dataset holds
exactly one row per answered request.
"""

from __future__ import annotations

import os
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
            try:
                await self.app(scope, receive, send)
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


if __name__ == "__main__":
    mode, port, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    workers = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    os.environ[MODE_VARIABLE] = mode
    os.environ[DIR_VARIABLE] = directory
    uvicorn.run(
        "benchmarks._webserver:create_app",
        factory=True,
        workers=workers,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )
