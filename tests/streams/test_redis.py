"""The Redis Streams transport against a real redis-server: rows, replies, limits, dead letters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import coredis
import msgspec
import pytest

from asyncflag import (
    CSVLogger,
    FlaggingError,
    FlagValueError,
    FlagWriteError,
    Interface,
    RedisConsumer,
    RedisStream,
    components,
    load_flagged,
)
from asyncflag.components import Component
from asyncflag.transport.redis import as_bytes
from asyncflag.transport.wire import VERSION, WireBatch, WireRow, encode_batch, schema_of

from .redis_server import RedisServer

pytestmark = pytest.mark.anyio


def replica(server: RedisServer, stream: str = "flags:test", **kwargs: Any) -> Interface:
    return Interface(
        lambda text, doc: text.upper(),
        [components.Textbox(label="text"), components.File(label="doc")],
        components.Textbox(label="upper"),
        transport=RedisStream(server.url, stream=stream),
        **kwargs,
    )


@asynccontextmanager
async def consumer(server: RedisServer, directory: Path, **kwargs: Any) -> AsyncIterator[Any]:
    async with RedisConsumer(
        server.url, stream=kwargs.pop("stream", "flags:test"), flagging_dir=directory, **kwargs
    ) as running:
        yield running


async def wait_for_rows(directory: Path, count: int, timeout: float = 30) -> list[Any]:
    with anyio.fail_after(timeout):
        while True:
            rows = load_flagged(directory) if (directory / "dataset1.csv").exists() else []
            if len(rows) >= count:
                return rows
            await anyio.sleep(0.05)


async def test_flag_returns_the_count_once_the_consumer_wrote_the_row(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    iface = replica(redis_server, flagging_options=["bad", "good"])
    async with consumer(redis_server, tmp_path), iface:
        prediction = await iface.submit("hello", b"\x89PNG\r\n\x1a\nnot really")
        assert prediction.outputs == ("HELLO",)
        assert await iface.flag(prediction, option="bad", username="ada") == 1
        assert await iface.flag(["=1+1", None, "-x"], option="good") == 2
        receipts = [iface.flag_nowait([f"row {i}", None, "x"], "good") for i in range(300)]
        assert [await r.wait() for r in receipts] == list(range(3, 303))
    rows = load_flagged(tmp_path, iface.components)
    assert len(rows) == 302
    first = rows[0]
    assert first.values[0] == "hello" and first.values[2] == "HELLO"
    assert first.flag == "bad" and first.username == "ada"
    assert Path(first.values[1]).read_bytes() == b"\x89PNG\r\n\x1a\nnot really"
    assert Path(first.values[1]).suffix == ".png"
    assert rows[1].values[0] == "=1+1" and rows[1].values[2] == "-x"  # escaped and back


async def test_a_consumer_runs_once_at_a_time_and_can_run_again(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    iface = replica(redis_server)
    running = RedisConsumer(redis_server.url, stream="flags:test", flagging_dir=tmp_path)
    async with iface:
        with anyio.fail_after(30):
            async with running:
                with pytest.raises(FlaggingError, match="this consumer is already running"):
                    await running.__aenter__()
                assert await iface.flag(["a", None, "A"]) == 1
            async with running:  # its task group was left whole: it enters again
                assert await iface.flag(["b", None, "B"]) == 2
    assert [row.values[0] for row in load_flagged(tmp_path)] == ["a", "b"]
    assert running.stats.written == 2


async def test_auto_mode_and_flag_nowait_never_wait_for_the_consumer(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    iface = replica(redis_server, flagging_mode="auto")
    async with iface:
        for i in range(100):
            await iface.submit(f"call {i}", None)  # no consumer runs: nothing waits for one
        receipt = iface.flag_nowait(["flagged", None, "x"])
        with anyio.fail_after(10):
            while iface.stats.written < 101:
                await anyio.sleep(0.01)
        assert not receipt.done()
        async with consumer(redis_server, tmp_path):
            assert await receipt.wait() == 101
    assert [row.values[0] for row in load_flagged(tmp_path)][:2] == ["call 0", "call 1"]
    assert iface.stats.connected is True


async def test_a_file_over_the_transport_cap_is_refused_at_the_call(
    redis_server: RedisServer,
) -> None:
    iface = Interface(
        lambda doc: "ok",
        components.File(label="doc"),
        "text",
        transport=RedisStream(redis_server.url, stream="s", max_file_size=10),
    )
    async with iface:
        with pytest.raises(FlagValueError, match="11 bytes is over the limit of 10 bytes"):
            await iface.flag([b"x" * 11, "ok"])
        with pytest.raises(FlagValueError, match="over the limit of 10 bytes"):
            await iface.submit(b"y" * 11)


def test_misconfigurations_are_clear_errors() -> None:
    class Custom(Component):
        pass

    with pytest.raises(FlagValueError, match="cannot travel through a stream"):
        Interface(
            lambda x: x, Custom(label="c"), "text", transport=RedisStream("redis://h", stream="s")
        )
    with pytest.raises(FlagValueError, match="not both"):
        Interface(
            lambda x: x,
            "text",
            "text",
            transport=RedisStream("redis://h", stream="s"),
            flagging_callback=CSVLogger(),
        )
    with pytest.raises(FlagValueError, match="redis://"):
        RedisStream("http://h", stream="s")
    with pytest.raises(FlagValueError, match="stream"):
        RedisStream("redis://h", stream="")


def test_the_password_is_not_shown() -> None:
    assert "secret" not in repr(RedisStream("redis://:secret@h:1/0", stream="s"))


async def test_a_batch_sent_twice_is_written_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    schema = schema_of([components.Textbox(label="text")])
    entry = encode_batch(
        WireBatch(
            VERSION, "p1", 1, schema, [WireRow(0, [f"r{i}"], None, None, None) for i in range(3)]
        )
    )
    later = encode_batch(
        WireBatch(VERSION, "p1", 2, schema, [WireRow(0, ["r3"], None, None, None)])
    )
    async with coredis.Redis.from_url(redis_server.url, decode_responses=False) as client:
        for data in (entry, entry, later, entry):
            await client.xadd("flags:test", {b"batch": data})
    async with consumer(redis_server, tmp_path) as running:
        rows = await wait_for_rows(tmp_path, 4)
        with anyio.fail_after(10):
            while running.stats.entries < 4:
                await anyio.sleep(0.02)
    assert [row.values[0] for row in rows] == ["r0", "r1", "r2", "r3"]
    assert running.stats.duplicates == 2


async def test_bad_entries_go_to_the_dead_letter_stream(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    text_schema = schema_of([components.Textbox(label="text")])
    file_schema = schema_of([components.File(label="doc")])

    def batch(schema: bytes, values: list[Any], sequence: int) -> bytes:
        return encode_batch(
            WireBatch(VERSION, "p", sequence, schema, [WireRow(0, values, None, None, None)])
        )

    bad: dict[str, dict[bytes, bytes]] = {
        "does not decode": {b"batch": b"\xc1 garbage"},
        "no 'batch' field": {b"other": b"x"},
        "stores a string": {b"batch": batch(text_schema, [12], 1)},
        "a path is refused": {b"batch": batch(file_schema, ["/etc/passwd"], 2)},
        "over the cap": {b"batch": batch(file_schema, [["a.bin", b"x" * 2000]], 3)},
        "Invalid value 'shell'": {
            b"batch": batch(msgspec.msgpack.encode([{"type": "shell", "label": "x"}]), [1], 4)
        },
        "values for 1 components": {b"batch": batch(text_schema, ["a", "b"], 5)},
        "unknown batch version": {b"batch": msgspec.msgpack.encode([99, "p", 6, text_schema, []])},
    }
    good = batch(text_schema, ["still written"], 7)
    async with coredis.Redis.from_url(redis_server.url, decode_responses=False) as client:
        for fields in bad.values():
            await client.xadd("flags:test", fields)
        await client.xadd("flags:test", {b"batch": good})
        flags = tmp_path / "flags"
        async with consumer(redis_server, flags, max_file_size=1000) as running:
            rows = await wait_for_rows(flags, 1)
            with anyio.fail_after(10):
                while running.stats.dead_letters < len(bad):
                    await anyio.sleep(0.02)
        dead = await client.xrange("flags:test:dead", "-", "+")
    assert [row.values[0] for row in rows] == ["still written"]
    reasons = [as_bytes(entry.field_values[b"reason"]).decode() for entry in dead]
    assert len(reasons) == len(bad)
    for expected, reason in zip(bad, reasons, strict=True):
        assert expected in reason, (expected, reason)
    assert {p.name for p in flags.iterdir()} == {"dataset1.csv", ".asyncflag"}


async def test_a_flag_whose_entry_is_dead_lettered_fails_with_the_reason(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    iface = replica(redis_server)
    async with iface, consumer(redis_server, tmp_path, max_file_size=4):
        with pytest.raises(FlagWriteError, match="over the cap of 4 bytes"):
            await iface.flag(["x", b"12345", "X"])
        assert await iface.flag(["y", b"1234", "Y"]) == 1


async def test_a_password_in_the_url(tmp_path: Path) -> None:
    from conftest import free_port

    server = RedisServer(tmp_path / "redis", free_port(), password="s3cret")
    server.start()
    try:
        iface = replica(server)
        async with consumer(server, tmp_path / "flags"), iface:
            assert await iface.flag(["a", None, "A"]) == 1
        wrong = RedisServer(server.directory, server.port, password="wrong")
        iface = replica(wrong)
        async with iface:
            await iface.submit("served", None)
            receipt = iface.flag_nowait(["b", None, "B"])
            with anyio.fail_after(10):
                while iface.stats.connected is not False:
                    await anyio.sleep(0.01)
            assert not receipt.done()
            iface.shutdown_timeout = 0.2
    finally:
        server.stop()


async def test_tls(tmp_path: Path) -> None:
    """A rediss:// URL: the certificate is checked against the CA the URL names."""
    from conftest import free_port

    server = RedisServer(tmp_path / "redis", free_port(), tls=True)
    server.start()
    try:
        assert server.url.startswith("rediss://")
        iface = replica(server)
        async with consumer(server, tmp_path / "flags"), iface:
            assert await iface.flag(["over TLS", None, "X"]) == 1
            assert iface.stats.connected is True
    finally:
        server.stop()
    assert [row.values[0] for row in load_flagged(tmp_path / "flags")] == ["over TLS"]


def test_the_consume_command(redis_server: RedisServer, tmp_path: Path) -> None:
    """`asyncflag consume` writes what a replica flags and exits cleanly on SIGINT."""
    import signal
    import subprocess
    import sys

    flags = tmp_path / "flags"
    command = subprocess.Popen(
        [sys.executable, "-m", "asyncflag", "consume", redis_server.url,
         "--stream", "flags:cli", "--dir", str(flags), "--backend", "trio"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert command.stdout is not None
        assert "flags:cli ->" in command.stdout.readline()

        async def flag() -> int:
            async with replica(redis_server, stream="flags:cli") as iface:
                return await iface.flag(["from a replica", None, "X"])

        assert anyio.run(flag) == 1
        command.send_signal(signal.SIGINT)
        assert command.wait(timeout=60) == 0
        assert "stopped" in command.stdout.read()
    finally:
        command.kill()
        command.wait()
        if command.stdout is not None:
            command.stdout.close()
    assert [row.values[0] for row in load_flagged(flags)] == ["from a replica"]


async def test_health_says_when_redis_cannot_be_reached(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """A replica whose Redis is away is unhealthy (``/api/health`` answers 503) until it
    is reached again; rows wait in the queue meanwhile."""
    iface = replica(redis_server, flagging_mode="auto")
    async with iface:
        async with consumer(redis_server, tmp_path / "flags"):
            assert (await iface.flag(["a", None, "A"]), iface.health()["healthy"]) == (1, True)
        redis_server.stop()
        await iface.submit("queued", None)
        with anyio.fail_after(10):
            while iface.stats.connected is not False:
                await anyio.sleep(0.01)
        health = iface.health()
        assert (health["healthy"], health["connected"]) == (False, False)
        assert "Redis cannot be reached" in health["reason"]
        iface.shutdown_timeout = 0.2
