"""Hostile stream entries against a real redis-server: none stops, fools or grows the consumer.

Each attack crafts the raw ``XADD`` a hostile writer could send, checks that the consumer
dead-letters it with its reason (or, for entries anyone may add without a secret, writes
it without harm), and that a genuine entry after it is written.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import coredis
import msgspec
import pytest

from asyncflag import (
    FlagWriteError,
    Interface,
    RedisConsumer,
    RedisStream,
    components,
    load_flagged,
)
from asyncflag.components import MAX_JSON_DEPTH
from asyncflag.transport.consumer import MAX_PRODUCERS
from asyncflag.transport.redis import as_bytes
from asyncflag.transport.wire import (
    MAX_PRODUCER_LENGTH,
    MAX_SCHEMA_SIZE,
    VERSION,
    WireBatch,
    WireRow,
    decode_batch,
    encode_batch,
    schema_of,
    signature,
)

from .redis_server import RedisServer

pytestmark = pytest.mark.anyio

STREAM = "flags:test"
TEXT = schema_of([components.Textbox(label="text")])
REPLICA = schema_of([components.Textbox(label="text"), components.Textbox(label="upper")])
SECRET = b"a shared secret"


def entry(
    values: list[Any],
    *,
    schema: bytes = TEXT,
    producer: str = "p",
    sequence: int = 1,
    reply: int = 0,
) -> bytes:
    """A batch of one row, encoded as a replica would (``msgspec.Raw`` for raw msgpack)."""
    return encode_batch(
        WireBatch(VERSION, producer, sequence, schema, [WireRow(reply, values, None, None, None)])
    )


def signed(data: bytes, secret: bytes = SECRET) -> dict[bytes, bytes]:
    return {b"batch": data, b"sig": signature(secret, STREAM, data)}


def replica(server: RedisServer, **kwargs: Any) -> Interface:
    return Interface(
        lambda text: text.upper(),
        components.Textbox(label="text"),
        components.Textbox(label="upper"),
        transport=RedisStream(server.url, stream=STREAM, **kwargs),
        shutdown_timeout=5,
    )


@asynccontextmanager
async def redis(server: RedisServer) -> AsyncIterator[coredis.Redis[bytes]]:
    async with coredis.Redis.from_url(server.url, decode_responses=False) as client:
        yield client


async def wait_until(condition: Any, timeout: float = 30) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.02)


def texts(directory: Path) -> list[Any]:
    return [row.values[0] for row in load_flagged(directory)]


async def dead_letters(client: coredis.Redis[bytes]) -> list[str]:
    return [
        as_bytes(entry.field_values[b"reason"]).decode()
        for entry in await client.xrange(f"{STREAM}:dead", "-", "+")
    ]


async def consume(
    server: RedisServer, directory: Path, expected_dead: int, rows: int, **kwargs: Any
) -> RedisConsumer:
    """Run a consumer until it dead-lettered ``expected_dead`` entries and wrote ``rows``."""
    async with RedisConsumer(
        server.url, stream=STREAM, flagging_dir=directory, **kwargs
    ) as running:
        await wait_until(
            lambda: running.stats.dead_letters >= expected_dead and running.stats.written >= rows
        )
    return running


# -- one entry must never stop the consumer --------------------------------------------


async def test_entries_nested_too_deeply_are_dead_lettered(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    json_schema = schema_of([components.JSON(label="j")])

    def deep_value(depth: int) -> msgspec.Raw:
        return msgspec.Raw(b"\x91" * depth + b"\x01")  # [[[...[1]...]]] as msgpack

    def deep_object(depth: int) -> msgspec.Raw:
        return msgspec.Raw(b"\x81\xa1k" * depth + b"\x01")  # {"k": {"k": ... 1}}

    bad = {
        "nests deeper than Python's recursion limit": entry(
            [deep_value(100_000)], schema=json_schema, sequence=1
        ),
        "more than 64 deep": entry(
            [deep_value(MAX_JSON_DEPTH + 1)], schema=json_schema, sequence=2
        ),
        "MAX_JSON_DEPTH": entry([deep_object(MAX_JSON_DEPTH + 1)], schema=json_schema, sequence=3),
        "stores a string, got list": entry([deep_value(500)], sequence=4),
        "bad schema": entry(["x"], schema=b"\x91" * 100_000 + b"\xc0", sequence=5),
        "bad schema: Expected `str | null`, got `array`": entry(
            ["x"],
            schema=b"\x91\x82\xa4type\xa7textbox\xa5label" + b"\x91" * 100_000 + b"\xc0",
            sequence=6,
        ),
    }
    good = entry([deep_value(MAX_JSON_DEPTH)], schema=json_schema, sequence=7)
    async with redis(redis_server) as client:
        for data in bad.values():
            await client.xadd(STREAM, {b"batch": data})
        await client.xadd(STREAM, {b"batch": good})
        await consume(redis_server, tmp_path, len(bad), 1)
        reasons = await dead_letters(client)
    for expected, reason in zip(bad, reasons, strict=True):
        assert expected in reason, (expected, reason)
    value = json.loads(texts(tmp_path)[0])
    for _ in range(MAX_JSON_DEPTH):
        value = value[0]
    assert value == 1


@pytest.mark.parametrize(
    "choices",
    [[[]], [["only a label"]], [["a", "b", "c"]], 5, [["a", True]], [["a", [1]]], [[1, "b"]]],
)
async def test_a_dropdown_of_the_wrong_shape_is_dead_lettered(
    redis_server: RedisServer, tmp_path: Path, choices: Any
) -> None:
    schema = msgspec.msgpack.encode([{"type": "dropdown", "label": "d", "choices": choices}])
    async with redis(redis_server) as client:
        await client.xadd(STREAM, {b"batch": entry(["a"], schema=schema, sequence=1)})
        await client.xadd(STREAM, {b"batch": entry(["after"], sequence=2)})
        await consume(redis_server, tmp_path, 1, 1)
        (reason,) = await dead_letters(client)
    assert reason.startswith("bad schema: Expected"), reason
    assert texts(tmp_path) == ["after"]


async def test_any_exception_while_checking_an_entry_dead_letters_it(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a check raises (here a bug: ZeroDivisionError), only that entry suffers."""
    original = components.Textbox.check

    def check(self: components.Textbox, value: Any) -> Any:
        if value == "boom":
            return 1 / 0
        return original(self, value)

    monkeypatch.setattr(components.Textbox, "check", check)
    async with redis(redis_server) as client:
        await client.xadd(STREAM, {b"batch": entry(["boom"], sequence=1)})
        await client.xadd(STREAM, {b"batch": entry(["after"], sequence=2)})
        await consume(redis_server, tmp_path, 1, 1)
        assert await dead_letters(client) == ["ZeroDivisionError: division by zero"]
    assert texts(tmp_path) == ["after"]


# -- one entry must never fool it ------------------------------------------------------


async def producer_of(client: coredis.Redis[bytes]) -> str:
    """A replica's producer id, as anyone can read it from its reply stream's key."""
    keys = [key async for key in client.scan_iter(match=f"{STREAM}:reply:*")]
    assert len(keys) == 1
    return keys[0].decode().rpartition(":")[2]


async def test_a_forged_huge_batch_number_does_not_hide_later_batches(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Without a secret a forged entry is a row like any other; it never makes the
    replica's later batches look like duplicates."""
    iface = replica(redis_server)
    async with RedisConsumer(redis_server.url, stream=STREAM, flagging_dir=tmp_path), iface:
        assert await iface.flag(["genuine 1", "G"]) == 1
        async with redis(redis_server) as client:
            producer = await producer_of(client)
            forged = entry(["forged", "F"], schema=REPLICA, producer=producer, sequence=2**62)
            await client.xadd(STREAM, {b"batch": forged})
        await wait_until(lambda: len(texts(tmp_path)) == 2)
        with anyio.fail_after(30):  # before the fix: duplicates, never written, no reply
            counts = [await iface.flag([f"genuine {i}", "G"]) for i in range(2, 6)]
    assert counts == [3, 4, 5, 6]
    assert texts(tmp_path) == ["genuine 1", "forged", *[f"genuine {i}" for i in range(2, 6)]]


async def test_a_forged_next_batch_number_fails_that_flag_instead_of_hanging(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Without a secret, an entry forging the exact number of a replica's next batch is
    written in its place: that batch is skipped as a duplicate, and its flag() says so."""
    iface = replica(redis_server)
    async with RedisConsumer(redis_server.url, stream=STREAM, flagging_dir=tmp_path), iface:
        assert await iface.flag(["genuine 1", "G"]) == 1
        async with redis(redis_server) as client:
            producer = await producer_of(client)
            forged = entry(["forged", "F"], schema=REPLICA, producer=producer, sequence=3)
            await client.xadd(STREAM, {b"batch": forged})
        await wait_until(lambda: len(texts(tmp_path)) == 2)
        with anyio.fail_after(30):
            assert await iface.flag(["genuine 2", "G"]) == 3
            with pytest.raises(FlagWriteError, match="batch 3 of this producer was written"):
                await iface.flag(["genuine 3", "G"])
            assert await iface.flag(["genuine 4", "G"]) == 4
    assert texts(tmp_path) == ["genuine 1", "forged", "genuine 2", "genuine 4"]


async def test_an_entry_the_consumer_cannot_use_fails_its_flags_instead_of_hanging(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry over the consumer's size cap, or of another version, is dead-lettered, and
    the flag() calls waiting for its rows learn why (with and without a secret)."""
    import asyncflag.transport.redis

    for secret in (None, SECRET):
        directory = tmp_path / ("signed" if secret else "plain")
        async with (
            RedisConsumer(
                redis_server.url,
                stream=STREAM,
                flagging_dir=directory,
                max_entry_size=4096,
                secret=secret,
            ) as running,
            replica(redis_server, secret=secret) as iface,
        ):
            with anyio.fail_after(30):
                with pytest.raises(FlagWriteError, match="over the cap of 4096"):
                    await iface.flag(["x" * 10_000, "X"])
                with monkeypatch.context() as patch:  # a replica newer than its consumer
                    patch.setattr(asyncflag.transport.redis, "VERSION", VERSION + 1)
                    with pytest.raises(FlagWriteError, match="unknown batch version"):
                        await iface.flag(["newer", "NEWER"])
                assert await iface.flag(["small", "SMALL"]) == 1
            assert running.stats.dead_letters == 2
        assert texts(directory) == ["small"]


async def test_gaps_and_jumps_in_batch_numbers_lose_nothing(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Only a batch number recorded as written is skipped, whatever order they come in."""
    sequences = [1, 2, 9, 5, 3, 4, 2, 9, 10**18, 6, 5]
    async with redis(redis_server) as client:
        for sequence in sequences:
            await client.xadd(STREAM, {b"batch": entry([f"b{sequence}"], sequence=sequence)})
    running = await consume(redis_server, tmp_path, 0, 8)
    assert texts(tmp_path) == [f"b{s}" for s in (1, 2, 9, 5, 3, 4, 10**18, 6)]
    assert running.stats.duplicates == 3


async def test_with_a_secret_unsigned_and_wrongly_signed_entries_are_dead_lettered(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Forged entries with the replica's own producer id change nothing: its later
    batches are written and flag() returns their counts."""
    iface = replica(redis_server, secret=SECRET)
    async with (
        RedisConsumer(
            redis_server.url, stream=STREAM, flagging_dir=tmp_path, secret=SECRET
        ) as running,
        iface,
        redis(redis_server) as client,
    ):
        assert await iface.flag(["genuine 1", "G"]) == 1
        producer = await producer_of(client)
        huge = entry(["forged"], producer=producer, sequence=2**62, reply=2)
        await client.xadd(STREAM, {b"batch": huge})
        await client.xadd(STREAM, signed(huge, secret=b"another secret"))
        await client.xadd(STREAM, {**signed(entry(["replay"], producer=producer)), b"batch": huge})
        await wait_until(lambda: running.stats.dead_letters == 3)
        assert [await iface.flag([f"genuine {i}", "G"]) for i in (2, 3)] == [2, 3]
        reasons = await dead_letters(client)
    assert reasons[0].startswith("not signed: this consumer takes only entries signed")
    assert reasons[1].startswith("wrong signature")
    assert reasons[2].startswith("wrong signature")
    assert texts(tmp_path) == ["genuine 1", "genuine 2", "genuine 3"]


async def test_a_secret_the_consumer_does_not_share_fails_flags_instead_of_hanging(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with RedisConsumer(
        redis_server.url, stream=STREAM, flagging_dir=tmp_path, secret=SECRET
    ) as running:
        for other in ({"secret": b"another secret"}, {}):
            async with replica(redis_server, **other) as iface:
                with anyio.fail_after(30), pytest.raises(FlagWriteError, match="signed"):
                    await iface.flag(["x", "X"])
        async with replica(redis_server, secret=SECRET.decode()) as iface:
            assert await iface.flag(["y", "Y"]) == 1
    assert running.stats.dead_letters == 2
    assert texts(tmp_path) == ["y"]


async def test_with_a_secret_a_forged_reply_cannot_answer_flag(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Without a secret anyone may answer on a reply stream; with one, an unsigned reply
    fails the flag (whether the row was written is unknown) instead of giving a count."""
    iface = replica(redis_server, secret=SECRET)
    async with iface, redis(redis_server) as client:
        receipt = iface.flag_nowait(["x", "X"])
        await wait_until(lambda: iface.stats.written == 1)
        (sent,) = await client.xrange(STREAM, "-", "+")
        producer = decode_batch(as_bytes(sent.field_values[b"batch"])).producer
        forged = msgspec.msgpack.encode([(1, 999)])
        await client.xadd(f"{STREAM}:reply:{producer}", {b"replies": forged})
        with anyio.fail_after(30), pytest.raises(FlagWriteError, match="not signed"):
            await receipt.wait()
        iface.shutdown_timeout = 0.2


async def test_the_consume_command_reads_a_secret_file(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    import subprocess
    import sys

    def consume_command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "asyncflag", "consume", redis_server.url,
             "--stream", STREAM, "--dir", str(tmp_path / "flags"), *args],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    empty = tmp_path / "empty"
    empty.write_text("\n")
    for path, message in ((empty, "is empty"), (tmp_path / "missing", "cannot read")):
        done = consume_command("--secret-file", str(path))
        assert done.returncode == 2
        assert message in done.stderr and done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.stderr

    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET.decode() + "\n")
    command = subprocess.Popen(  # noqa: ASYNC220 - a child to talk to while it runs
        [sys.executable, "-m", "asyncflag", "consume", redis_server.url, "--stream", STREAM,
         "--dir", str(tmp_path / "flags"), "--secret-file", str(secret_file)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert command.stdout is not None
        assert "->" in command.stdout.readline()
        async with replica(redis_server, secret=SECRET) as iface:
            assert await iface.flag(["signed", "S"]) == 1
        async with replica(redis_server) as iface:
            with pytest.raises(FlagWriteError, match="not signed"):
                await iface.flag(["unsigned", "U"])
    finally:
        command.terminate()
        command.wait(timeout=60)
        if command.stdout is not None:
            command.stdout.close()
    assert texts(tmp_path / "flags") == ["signed"]


# -- one entry must never grow it ------------------------------------------------------


async def test_producer_ids_labels_and_schemas_are_bounded(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    long_label = msgspec.msgpack.encode([{"type": "textbox", "label": "x" * 1001}])
    choices = [[f"choice {i}", i] for i in range(30_000)]
    big_schema = msgspec.msgpack.encode([{"type": "dropdown", "label": "d", "choices": choices}])
    assert len(big_schema) > MAX_SCHEMA_SIZE
    bad = {
        "Expected `str` of length <= 64": entry(["x"], producer="p" * 2**20),
        "Expected `str` matching regex": entry(["x"], producer="../../etc"),
        "Expected `str` of length <= 1000": entry(["x"], schema=long_label, sequence=2),
        "does not decode": entry(["x"], schema=big_schema, sequence=3),
        "Expected `int` >= 1": entry(["x"], sequence=0),
    }
    async with redis(redis_server) as client:
        for data in bad.values():
            await client.xadd(STREAM, {b"batch": data})
        await client.xadd(STREAM, {b"batch": entry(["after"], producer="q" * MAX_PRODUCER_LENGTH)})
        await consume(redis_server, tmp_path, len(bad), 1)
        reasons = await dead_letters(client)
    for expected, reason in zip(bad, reasons, strict=True):
        assert expected in reason, (expected, reason)
    assert texts(tmp_path) == ["after"]
    (progress,) = (tmp_path / ".asyncflag").glob("*.progress")
    assert progress.stat().st_size < 1000


async def test_the_progress_file_keeps_a_bounded_number_of_producers(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    count = MAX_PRODUCERS + 100
    async with redis(redis_server) as client:
        async with client.pipeline(transaction=False) as pipe:
            for i in range(count):
                pipe.xadd(STREAM, {b"batch": entry([f"r{i}"], producer=f"p{i}", sequence=7)})
    await consume(redis_server, tmp_path, 0, count, batch_size=64)
    assert len(texts(tmp_path)) == count
    (progress,) = (tmp_path / ".asyncflag").glob("*.progress")
    producers = json.loads(progress.read_bytes())["producers"]
    assert len(producers) == MAX_PRODUCERS
    assert f"p{count - 1}" in producers and "p0" not in producers  # the least recent went


async def test_dataset_files_kept_open_are_bounded(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Each new schema opens a datasetN.csv; past max_open_files the least recent closes."""
    import psutil

    def open_datasets() -> int:
        return sum(
            1
            for f in psutil.Process().open_files()
            if Path(f.path).name.startswith("dataset") and Path(f.path).suffix == ".csv"
        )  # each also holds its row count record (.asyncflag/datasetN.rows.json) open

    async with redis(redis_server) as client:
        for i in range(12):
            schema = schema_of([components.Textbox(label=f"label {i}")])
            await client.xadd(STREAM, {b"batch": entry([f"r{i}"], schema=schema, sequence=i + 1)})
        async with RedisConsumer(
            redis_server.url, stream=STREAM, flagging_dir=tmp_path, max_open_files=3, batch_size=1
        ) as running:
            most = 0
            while running.stats.written < 12:
                most = max(most, open_datasets())
                await anyio.sleep(0.005)
            assert open_datasets() <= 3
            first = schema_of([components.Textbox(label="label 0")])  # closed: opened again
            await client.xadd(STREAM, {b"batch": entry(["again"], schema=first, sequence=13)})
            await wait_until(lambda: running.stats.written == 13)
    assert most <= 3
    assert len(list(tmp_path.glob("dataset*.csv"))) == 13
    assert sorted(map(str, texts(tmp_path))) == sorted([*(f"r{i}" for i in range(12)), "again"])
    (progress,) = (tmp_path / ".asyncflag").glob("*.progress")
    assert len(json.loads(progress.read_bytes())["files"]) <= 3


async def test_schemas_of_dead_lettered_entries_are_not_kept(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """100 distinct big schemas whose rows are refused: memory (RSS) stays flat."""
    import gc

    import psutil

    choices = [[f"choice number {i}", i] for i in range(4000)]

    def schema(n: int) -> bytes:
        spec = {"type": "dropdown", "label": f"d{n}", "choices": choices}
        return msgspec.msgpack.encode([spec])

    async with redis(redis_server) as client:
        async with client.pipeline(transaction=False) as pipe:
            for n in range(100):
                pipe.xadd(STREAM, {b"batch": entry(["not a choice"], schema=schema(n), sequence=1)})
        await client.xadd(STREAM, {b"batch": entry(["after"], sequence=2)})
        process = psutil.Process()
        gc.collect()
        before = process.memory_info().rss
        async with RedisConsumer(
            redis_server.url, stream=STREAM, flagging_dir=tmp_path, batch_size=8
        ) as running:
            await wait_until(lambda: running.stats.written == 1)
            gc.collect()
            grown = process.memory_info().rss - before
        assert running.stats.dead_letters == 100
        assert "is not one of the choices" in (await dead_letters(client))[0]
    # Kept, the 100 Dropdowns (4,000 choices each) would hold well over 100 MiB.
    assert grown < 40 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB"
    assert texts(tmp_path) == ["after"]


async def test_a_simple_log_keeps_its_schema_across_restarts(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """After a restart, a hostile schema arriving first cannot take log.csv over."""
    other = schema_of([components.Number(label="n")])
    async with redis(redis_server) as client:
        await client.xadd(STREAM, {b"batch": entry(["first"], sequence=1)})
        await consume(redis_server, tmp_path, 0, 1, simple=True)
        await client.xadd(STREAM, {b"batch": entry([1], schema=other, producer="x")})
        await client.xadd(STREAM, {b"batch": entry(["second"], sequence=2)})
        await consume(redis_server, tmp_path, 1, 1, simple=True)
        (reason,) = await dead_letters(client)
    assert "holds one schema" in reason
    assert (tmp_path / "log.csv").read_text().splitlines()[1].startswith("second,")


async def test_the_dead_letter_stream_is_capped(redis_server: RedisServer, tmp_path: Path) -> None:
    async with redis(redis_server) as client:
        for i in range(5):
            await client.xadd(STREAM, {b"batch": entry([i], sequence=i + 1)})
        await client.xadd(STREAM, {b"batch": entry(["after"], sequence=9)})
        await consume(redis_server, tmp_path, 5, 1, dead_letter_maxlen=3)
        assert await client.xlen(f"{STREAM}:dead") == 3
    assert texts(tmp_path) == ["after"]


async def test_a_progress_file_of_the_old_format_is_read(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Before ranges, a producer's progress was [last batch number, seen]."""
    async with redis(redis_server) as client:
        await client.xadd(STREAM, {b"batch": entry(["one"], sequence=1)})
        await consume(redis_server, tmp_path, 0, 1)
        (progress,) = (tmp_path / ".asyncflag").glob("*.progress")
        state = json.loads(progress.read_bytes())
        state["producers"] = {"p": [4, state["producers"]["p"]["seen"]]}
        progress.write_text(json.dumps(state))
        for sequence in (4, 5):  # 4 was written: a resend; 5 is new
            await client.xadd(STREAM, {b"batch": entry([f"b{sequence}"], sequence=sequence)})
        running = await consume(redis_server, tmp_path, 0, 1)
    assert running.stats.duplicates == 1
    assert texts(tmp_path) == ["one", "b5"]


def test_a_replica_refuses_what_a_consumer_would_refuse() -> None:
    from asyncflag import FlagValueError

    stream = RedisStream("redis://h", stream=STREAM)
    with pytest.raises(FlagValueError, match="MAX_LABEL_LENGTH"):
        Interface(lambda x: x, components.Textbox(label="x" * 1001), "text", transport=stream)
    many = [components.Dropdown([f"choice {i}" for i in range(20_000)], label="d")]
    with pytest.raises(FlagValueError, match="MAX_SCHEMA_SIZE"):
        Interface(lambda x: x, many, "text", transport=stream)
    for secret in ("", b"", 42):
        with pytest.raises(FlagValueError, match="a secret is non-empty bytes or str"):
            RedisStream("redis://h", stream=STREAM, secret=secret)  # type: ignore[arg-type]
        with pytest.raises(FlagValueError, match="a secret is non-empty bytes or str"):
            RedisConsumer("redis://h", stream=STREAM, flagging_dir=".", secret=secret)  # type: ignore[arg-type]
    assert "secret" not in repr(RedisStream("redis://h", stream=STREAM, secret="secret"))


async def test_a_replica_splits_big_batches_into_entries_of_at_most_max_entry_rows(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    from asyncflag.transport.wire import MAX_ENTRY_ROWS

    iface = Interface(
        lambda text: text,
        "text",
        "text",
        transport=RedisStream(redis_server.url, stream=STREAM),
        max_batch=3 * MAX_ENTRY_ROWS,
    )
    rows = MAX_ENTRY_ROWS + 100
    async with iface:
        receipts = [iface.flag_nowait([f"r{i}", "x"]) for i in range(rows)]
        await wait_until(lambda: iface.stats.written == rows)
        async with redis(redis_server) as client:
            assert await client.xlen(STREAM) >= 2
        async with RedisConsumer(redis_server.url, stream=STREAM, flagging_dir=tmp_path) as running:
            assert [await r.wait() for r in receipts] == list(range(1, rows + 1))
    assert running.stats.dead_letters == 0
