"""A server for the web case: ``python -m benchmarks._webserver PORT DIR [--reuse-port]``.

One server hosts the same six-column interface once per flagging mode, each under its
own prefix (found with one dict lookup, :class:`ByPrefix`, so that no mode's routing costs
more than another's): ``/never``, ``/manual``, ``/auto``, and ``/never2`` (a second ``never``,
so the bench can show how far two measurements of the same thing differ). The bench
loads one prefix at a time, in turn, so that every mode is measured in the same
process as its baseline: separate processes differ by several percent on their own
(where their memory lands), more than the cost being measured. An interface whose
prefix is not loaded does nothing: ``auto``'s writer sleeps while ``never`` is measured.
Each interface flags into its own folder of ``DIR`` (``DIR/auto``...).

Several workers are several of these processes with ``--reuse-port``, each with its own
interfaces on the same folders (their rows meet in one dataset file, through its lock)
and its own listening socket on the same port (``SO_REUSEPORT``), so that the kernel
spreads the connections over them. (uvicorn's ``--workers`` share one socket: the first
worker to wake accepts every connection a load generator opens at once, and the others
stay idle while ``wrk``'s keep-alive connections last; and that socket, made with
protocol 0, leaves asyncio's ``TCP_NODELAY`` off, so every answer waits on Nagle.)

With ``--parts`` it also serves ``/auto-null``: ``auto`` with a callback that stores
nothing (:data:`PARTS`), for the ``webcost`` case.

Each process writes ``DIR/ready-<pid>.txt`` once it serves, counts the ``200`` answers
each prefix's ``/api/predict`` sent, and writes the counts (JSON, by mode) to
``DIR/served-<pid>.json`` when it stops, so the bench can check that each dataset holds
exactly one row per answered request in ``auto`` and none in the other modes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asyncflag import FlaggingCallback, FlagRow, RowResult
from asyncflag.components import Component

from ._common import six_column_interface

DIR_VARIABLE = "ASYNCFLAG_BENCH_DIR"

#: each prefix the server serves, and the flagging mode of its interface
PREFIXES = {"never": "never", "manual": "manual", "auto": "auto", "never2": "never"}

#: served too with ``--parts`` (the ``webcost`` case): ``auto`` with a callback that stores
#: nothing (:class:`StoresNothing`), to tell the pipeline's share of ``auto``'s cost from
#: the CSV logger's
PARTS = {"auto-null": "auto"}
PARTS_VARIABLE = "ASYNCFLAG_BENCH_PARTS"


class StoresNothing(FlaggingCallback):
    """A callback that counts the rows it is handed and stores none: ``auto`` through the
    whole pipeline (event, queue, writer, receipts), without a sink's own work."""

    def __init__(self) -> None:
        self.count = 0

    def setup(self, components: Sequence[Component], flagging_dir: str) -> None:
        return None

    def flag(
        self, flag_data: Sequence[Any], flag_option: str | None = None, username: str | None = None
    ) -> int:
        self.count += 1
        return self.count

    async def flag_batch(self, rows: Sequence[FlagRow]) -> list[RowResult]:
        first = self.count + 1
        self.count += len(rows)
        return list(range(first, self.count + 1))


class CountServed:
    """Counts the ``200`` answers to ``POST /<prefix>/api/predict``; writes the counts on
    shutdown."""

    def __init__(self, app: ASGIApp, directory: Path) -> None:
        self.app = app
        self.directory = directory
        self.served = dict.fromkeys([*PREFIXES, *PARTS], 0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":

            async def started(message: Message) -> None:
                await send(message)
                if message["type"] == "lifespan.startup.complete":
                    (self.directory / f"ready-{os.getpid()}.txt").write_text("")

            try:
                await self.app(scope, receive, started)
            finally:
                path = self.directory / f"served-{os.getpid()}.json"
                path.write_text(json.dumps(self.served))
            return
        prefix, _, rest = scope["path"].lstrip("/").partition("/")
        if scope["type"] != "http" or rest != "api/predict" or prefix not in self.served:
            await self.app(scope, receive, send)
            return

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                self.served[prefix] += 1
            await send(message)

        await self.app(scope, receive, counted)


def create_app() -> ASGIApp:
    """The app of one worker: the six-column interface once per prefix, all running for
    the app's lifespan."""
    directory = Path(os.environ[DIR_VARIABLE])
    interfaces = {
        prefix: six_column_interface(directory / prefix, mode=mode)
        for prefix, mode in PREFIXES.items()
    }
    if os.environ.get(PARTS_VARIABLE):
        for prefix, mode in PARTS.items():
            interfaces[prefix] = six_column_interface(
                directory / prefix, mode=mode, flagging_callback=StoresNothing()
            )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for iface in interfaces.values():
                await stack.enter_async_context(iface)
            yield

    apps = {prefix: iface.app() for prefix, iface in interfaces.items()}
    return CountServed(ByPrefix(apps, Starlette(lifespan=lifespan)), directory)


class ByPrefix:
    """Hands each request to the app of its path's first segment, as a Starlette ``Mount``
    would (the segment joins ``root_path``), in one dict lookup: a router's mounts are
    tried in turn, and a mode served by the fourth would pay three failed matches per
    request that the first does not (measured: ~8% of req/s between two ``never``)."""

    def __init__(self, apps: Mapping[str, ASGIApp], host: ASGIApp) -> None:
        self.apps = apps
        #: the app that runs the lifespan and answers paths of no prefix (404)
        self.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            root = scope.get("root_path", "")
            prefix = scope["path"][len(root) :].lstrip("/").partition("/")[0]
            app = self.apps.get(prefix)
            if app is not None:
                scope = dict(scope, root_path=f"{root}/{prefix}", app_root_path=root)
                await app(scope, receive, send)
                return
        await self.host(scope, receive, send)


def main(argv: list[str]) -> None:
    port, directory = int(argv[0]), argv[1]
    os.environ[DIR_VARIABLE] = directory
    if "--parts" in argv:
        os.environ[PARTS_VARIABLE] = "1"
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
