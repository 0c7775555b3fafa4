"""PostgresLogger against a real PostgreSQL server (tests/conftest.py starts one per session;
each test gets its own database), on asyncio and trio: every component type round trip,
exact counts with four writer processes, redelivered batches written once, the server
restarted mid-run, a schema change, credentials never shown, and
``asyncflag consume --to postgresql://`` end to end with a redis-server.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import coredis
import msgspec
import psycopg
import pytest
from conftest import NO_POSTGRES

from asyncflag import (
    FlagRow,
    FlagValueError,
    FlagWriteError,
    Interface,
    MissingExtraError,
    PostgresLogger,
    RedisConsumer,
    RedisStream,
    components,
    load_flagged,
)
from asyncflag.transport.wire import VERSION, WireBatch, WireRow, encode_batch, schema_of
from benchmarks.postgres_server import PostgresServer, postgres_bin_dir

CHILD = Path(__file__).with_name("postgres_child.py")
CHILD_ROWS = 25_000
CHILD_PROCESSES = 4


def rows_of(dsn: str, table: str) -> list[tuple[Any, ...]]:
    """Every row of a table, by row number (straight from the server)."""
    with psycopg.connect(dsn) as conn:
        quoted = '"' + table.replace('"', '""') + '"'
        return conn.execute(f'SELECT * FROM {quoted} ORDER BY "row_number"').fetchall()


def numbers_of(dsn: str, table: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        quoted = '"' + table.replace('"', '""') + '"'
        found = conn.execute(f'SELECT "row_number" FROM {quoted} ORDER BY 1').fetchall()
    return [int(number) for (number,) in found]


def column_types(dsn: str, table: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
            (table,),
        ).fetchall()
    return {str(name): str(kind) for name, kind in found}


def text_interface(directory: Path, logger: PostgresLogger, **kwargs: Any) -> Interface:
    return Interface(
        lambda who, seq: seq,
        [components.Textbox(label="who"), components.Number(label="seq", precision=0)],
        components.Number(label="echo", precision=0),
        flagging_dir=directory,
        flagging_callback=logger,
        **kwargs,
    )


# -- every component type --------------------------------------------------------------


@pytest.mark.anyio
async def test_every_component_type_round_trips(postgres_dsn: str, tmp_path: Path) -> None:
    """The rows of test_export (every kind of column, files, a comment) flagged into
    PostgreSQL read back as the CSV logger's rows of the same values read back (by the
    same components; without them, typed by the components the registry recorded)."""
    from test_export import ROWS, calculator_components

    flags = tmp_path / "flags"

    async def flag_into(callback: Any) -> None:
        comps = calculator_components()
        iface = Interface(
            lambda *values: values[-1],
            comps[:-1],
            comps[-1],
            flagging_dir=flags,
            flagging_options=["wrong", "offensive"],
            flagging_comment=True,
            **({"flagging_callback": callback} if callback is not None else {}),
        )
        async with iface:
            for row in ROWS:
                await iface.flag(
                    row["values"],
                    option=row["option"],
                    username=row["username"],
                    comment=row["comment"],
                )

    await flag_into(None)  # the CSV logger: the reference
    logger = PostgresLogger(postgres_dsn, table="calc")
    await flag_into(logger)
    comps = calculator_components()
    from_csv = load_flagged(flags, comps)
    from_table = load_flagged(postgres_dsn, comps)
    recorded = load_flagged(postgres_dsn)  # typed by the components in the registry
    assert [row.values[:8] for row in recorded] == [row.values[:8] for row in from_csv]
    assert len(from_table) == len(from_csv) == len(ROWS)
    for csv_row, table_row in zip(from_csv, from_table, strict=True):
        assert table_row.timestamp is not None and table_row.timestamp.utcoffset() is not None
        for mine, reference in zip(table_row.values, csv_row.values, strict=True):
            if hasattr(reference, "equals"):  # a Dataframe's pandas value
                assert reference.equals(mine)
            else:
                assert mine == reference
        assert msgspec.structs.replace(table_row, values=(), file="", timestamp=None) == (
            msgspec.structs.replace(csv_row, values=(), file="", timestamp=None)
        )
    assert Path(from_table[0].values[8]).is_file()  # the picture, saved in the folder
    types = column_types(postgres_dsn, "calc")
    assert {k: types[k] for k in ("text", "count", "score", "ok", "tags", "chat", "timestamp")} == {
        "text": "text",
        "count": "bigint",
        "score": "double precision",
        "ok": "boolean",
        "tags": "jsonb",
        "chat": "jsonb",
        "timestamp": "timestamp with time zone",
    }
    assert numbers_of(postgres_dsn, "calc") == [1, 2]


@pytest.mark.anyio
async def test_values_postgres_cannot_hold_fail_alone(postgres_dsn: str, tmp_path: Path) -> None:
    """A NUL character (which PostgreSQL text refuses) fails its own row with a clear
    error; the rest of the batch is written, and numbered without a gap."""
    logger = PostgresLogger(postgres_dsn, table="nul")
    logger.setup([components.Textbox(label="text")], tmp_path)
    stamp = datetime.now(UTC)
    try:
        results = await logger.flag_batch(
            [FlagRow(("a",), timestamp=stamp), FlagRow(("b\x00",)), FlagRow(("c",))]
        )
    finally:
        logger.close()
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], FlagValueError) and "NUL" in str(results[1])


# -- many writers ----------------------------------------------------------------------


def test_four_processes_exact_counts(postgres_dsn: str, tmp_path: Path) -> None:
    """4 processes x 25k rows into one table: every row once, every row number from 1 to
    100000 exactly once, and each flag() returned its row's number."""
    children = [
        subprocess.Popen(
            [
                sys.executable,
                str(CHILD),
                postgres_dsn,
                str(tmp_path / "flags"),
                f"p{k}",
                str(CHILD_ROWS),
                str(tmp_path / f"counts{k}.json"),
                ("asyncio", "trio")[k % 2],
            ],
        )
        for k in range(CHILD_PROCESSES)
    ]
    try:
        for process in children:
            assert process.wait(timeout=600) == 0
    finally:
        for process in children:
            process.kill()
            process.wait()
    total = CHILD_ROWS * CHILD_PROCESSES
    counts = [
        count
        for k in range(CHILD_PROCESSES)
        for count in json.loads((tmp_path / f"counts{k}.json").read_text())
    ]
    assert sorted(counts) == list(range(1, total + 1))
    stored = rows_of(postgres_dsn, "many")
    assert [row[-1] for row in stored] == list(range(1, total + 1))
    who_seq = Counter((row[0], row[1]) for row in stored)
    assert len(who_seq) == total and set(who_seq.values()) == {1}
    returned = {  # the count flag() returned for each row is that row's number
        (f"p{k}", seq): count
        for k in range(CHILD_PROCESSES)
        for seq, count in enumerate(json.loads((tmp_path / f"counts{k}.json").read_text()))
    }
    assert all(returned[row[0], row[1]] == row[-1] for row in stored)


# -- written once ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_redelivered_batch_is_written_once(postgres_dsn: str, tmp_path: Path) -> None:
    """The same event ids handed over again (a transport redelivering a batch, a retry
    after the commit's reply was lost) give the stored counts and add no row; an id
    twice in one batch is one row."""
    stamp = datetime.now(UTC)
    rows = [FlagRow((f"r{i}",), timestamp=stamp, event_id=f"entry-{i}") for i in range(5)]
    for insert in ("copy", "executemany"):
        logger = PostgresLogger(postgres_dsn, table=f"again_{insert}", insert=insert)
        logger.setup([components.Textbox(label="text")], tmp_path)
        try:
            assert await logger.flag_batch(rows) == [1, 2, 3, 4, 5]
            later = FlagRow(("r5",), timestamp=stamp, event_id="entry-5")
            assert await logger.flag_batch([*rows[3:], later, later]) == [4, 5, 6, 6]
            assert await logger.flag_batch(rows) == [1, 2, 3, 4, 5]
        finally:
            logger.close()
        stored = rows_of(postgres_dsn, f"again_{insert}")
        assert [(row[0], row[-2], row[-1]) for row in stored] == [
            (f"r{i}", f"entry-{i}", i + 1) for i in range(6)
        ]


# -- the server away -------------------------------------------------------------------


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A server of its own for a test that stops and starts it (fsync on)."""
    if postgres_bin_dir() is None:
        pytest.skip(NO_POSTGRES)
    with PostgresServer(fsync=True) as server:
        yield server


@pytest.mark.anyio
async def test_the_server_restarted_mid_run(
    own_postgres: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Rows flagged while the server is stopped wait, are retried once it is back, and
    land: every row once, row numbers 1..N, each flag() its row's number."""
    caplog.set_level(logging.WARNING)
    logger = PostgresLogger(own_postgres.dsn, table="restart", durability="fsync", retry_for=120)
    iface = text_interface(tmp_path / "flags", logger, max_pending=10_000)
    total = 600
    receipts = []
    async with iface:
        for seq in range(total):
            receipts.append(iface.flag_nowait(["r", seq, seq]))
            if seq == 200:
                await receipts[-1].wait()  # some rows are in
                await anyio.to_thread.run_sync(own_postgres.stop)
            if seq == 400:
                await anyio.sleep(1)  # the writer meets the stopped server meanwhile
                await anyio.to_thread.run_sync(own_postgres.start)
            if seq % 20 == 0:
                await anyio.sleep(0.01)
        counts = [await receipt.wait() for receipt in receipts]
    assert logger.retries > 0  # the outage was met
    assert sorted(counts) == list(range(1, total + 1))
    stored = rows_of(own_postgres.dsn, "restart")
    assert [row[-1] for row in stored] == list(range(1, total + 1))
    assert sorted(row[1] for row in stored) == list(range(total))
    assert all(counts[row[1]] == row[-1] for row in stored)
    assert "tried again" in caplog.text
    assert own_postgres.password not in caplog.text


@pytest.mark.anyio
async def test_unreachable_rows_fail_after_the_bound(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listening: the batch is retried for retry_for seconds, then its rows fail
    with FlagWriteError naming the masked DSN; the password is nowhere."""
    from conftest import free_port

    caplog.set_level(logging.DEBUG)
    dsn = f"postgresql://app:hunter2hunter2@127.0.0.1:{free_port()}/flags"
    logger = PostgresLogger(dsn, table="away", retry_for=0.5, connect_timeout=0.2)
    iface = text_interface(tmp_path / "flags", logger)
    async with iface:
        with pytest.raises(FlagWriteError) as failure:
            await iface.flag(["a", 1, 1])
    text = str(failure.value)
    assert "app:***@127.0.0.1" in text and "still failing" in text
    assert logger.retries > 0
    output = capsys.readouterr()
    for shown in (text, repr(failure.value.__cause__), caplog.text, output.out, output.err):
        assert "hunter2" not in shown


@pytest.mark.anyio
async def test_a_wrong_password_fails_at_once(
    postgres_server: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Waiting does not cure a wrong password: no retries, a clear error, nothing shown."""
    dsn = postgres_server.dsn.replace(postgres_server.password, "wrongwrongwrong")
    logger = PostgresLogger(dsn, table="denied", retry_for=60)
    iface = text_interface(tmp_path / "flags", logger)
    async with iface:
        with pytest.raises(FlagWriteError, match="password authentication failed") as failure:
            await iface.flag(["a", 1, 1])
    assert logger.retries == 0
    assert "wrongwrong" not in str(failure.value) + caplog.text


# -- schema versions -------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_schema_change_starts_the_next_version(postgres_dsn: str, tmp_path: Path) -> None:
    """The same label with another type goes to <name>_v2; the first table keeps its
    rows and columns; the same schema again continues its table."""
    stamp = datetime.now(UTC)

    async def write(component: components.Component, values: list[Any]) -> list[Any]:
        logger = PostgresLogger(postgres_dsn, table="versions")
        logger.setup([component], tmp_path)
        try:
            return await logger.flag_batch([FlagRow((v,), timestamp=stamp) for v in values])
        finally:
            logger.close()

    assert await write(components.Textbox(label="x"), ["a", "b"]) == [1, 2]
    assert await write(components.Number(label="x"), [1.5]) == [1]
    assert await write(components.Number(label="x"), [2.5]) == [2]
    assert [row[0] for row in rows_of(postgres_dsn, "versions")] == ["a", "b"]
    assert column_types(postgres_dsn, "versions")["x"] == "text"
    assert [row[0] for row in rows_of(postgres_dsn, "versions_v2")] == [1.5, 2.5]
    assert column_types(postgres_dsn, "versions_v2")["x"] == "double precision"
    with psycopg.connect(postgres_dsn) as conn:
        registry = conn.execute(
            'SELECT "table", "version" FROM asyncflag_tables ORDER BY "version"'
        ).fetchall()
    assert registry == [("versions", 1), ("versions_v2", 2)]


# -- credentials -----------------------------------------------------------------------


def test_the_password_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    logger = PostgresLogger("postgresql://app:s3cr3tpass@db.example:5432/flags")
    assert "s3cr3tpass" not in repr(logger) + logger.dsn + logger.describe()
    assert "app:***@db.example:5432" in repr(logger)
    keywords = PostgresLogger("host=db user=app password=s3cr3tpass dbname=flags")
    assert "s3cr3tpass" not in repr(keywords) and "password=***" in keywords.dsn
    with pytest.raises(FlagValueError) as unreadable:
        PostgresLogger("host=db password=s3cr3tpass oops")
    assert "s3cr3tpass" not in str(unreadable.value) and "cannot read the DSN" in str(
        unreadable.value
    )


def test_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name.startswith("psycopg") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(MissingExtraError, match=r"asyncflag\[postgres\]"):
        PostgresLogger("postgresql://app:pw@db/flags")


# -- the consumer ----------------------------------------------------------------------


def test_consume_to_postgresql(redis_url: str, postgres_dsn: str, tmp_path: Path) -> None:
    """`asyncflag consume --to postgresql://...`: what replicas flag lands in the table,
    flag() returns its row number, and the password is never printed."""
    password = postgres_dsn.split(":")[2].split("@")[0]
    command = subprocess.Popen(
        [sys.executable, "-m", "asyncflag", "consume", redis_url, "--stream", "flags:pg",
         "--dir", str(tmp_path / "flags"), "--to", postgres_dsn, "--table", "replicas",
         "--backend", "trio"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert command.stdout is not None and command.stderr is not None
        first = command.stdout.readline()
        assert "flags:pg ->" in first and "***" in first

        async def flag() -> list[int]:
            iface = Interface(
                lambda text: text.upper(),
                components.Textbox(label="text"),
                components.Textbox(label="upper"),
                transport=RedisStream(redis_url, stream="flags:pg"),
            )
            async with iface:
                return [await iface.flag([text, text.upper()]) for text in ("a", "b", "c")]

        assert anyio.run(flag) == [1, 2, 3]
        command.send_signal(signal.SIGINT)
        assert command.wait(timeout=60) == 0
        output = first + command.stdout.read() + command.stderr.read()
    finally:
        command.kill()
        command.wait()
        for stream in (command.stdout, command.stderr):
            if stream is not None:
                stream.close()
    assert password not in output
    rows = load_flagged(postgres_dsn)
    assert [row.values for row in rows] == [("a", "A"), ("b", "B"), ("c", "C")]
    assert all(row.file.endswith("#replicas") and password not in row.file for row in rows)


@pytest.mark.anyio
async def test_a_redelivered_entry_is_written_once(
    redis_url: str, postgres_dsn: str, tmp_path: Path
) -> None:
    """A consumer that wrote an entry and lost what it knew (killed between the commit
    and XACK: no progress file, the entry pending again) writes it again: the table
    finds its rows by their event ids and adds none."""
    schema = schema_of([components.Textbox(label="text")])
    entry = encode_batch(
        WireBatch(
            VERSION, "p1", 1, schema, [WireRow(0, [f"r{i}"], None, None, None) for i in range(3)]
        )
    )
    async with coredis.Redis.from_url(redis_url, decode_responses=False) as client:
        await client.xadd("flags:again", {b"batch": entry})

    async def consume_until_done() -> Any:
        async with RedisConsumer(
            redis_url,
            stream="flags:again",
            flagging_dir=tmp_path / "flags",
            trim=False,
            to=postgres_dsn,
            table="again",
        ) as running:
            with anyio.fail_after(30):
                while running.stats.entries < 1:
                    await anyio.sleep(0.02)
        return running.stats

    first = await consume_until_done()
    assert numbers_of(postgres_dsn, "again") == [1, 2, 3]
    for progress in (tmp_path / "flags" / ".asyncflag").glob("*.progress"):
        progress.unlink()  # all it knew
    async with coredis.Redis.from_url(redis_url, decode_responses=False) as client:
        await client.xgroup_setid("flags:again", "asyncflag", "0")  # delivered again
    second = await consume_until_done()
    assert (first.written, second.written, second.duplicates) == (3, 3, 0)
    stored = rows_of(postgres_dsn, "again")
    assert [(row[0], row[-1]) for row in stored] == [("r0", 1), ("r1", 2), ("r2", 3)]
    assert all(row[-2].startswith("flags:again/") for row in stored)


def test_show_prints_the_tables_without_the_password(
    postgres_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`asyncflag show postgresql://...`: each table, its rows and last rows, typed; the
    DSN shown masked."""
    from asyncflag.cli import main

    async def flag() -> None:
        logger = PostgresLogger(postgres_dsn, table="shown")
        async with text_interface(tmp_path / "flags", logger) as iface:
            await iface.flag(["ada", 7, 7], option="wrong")

    anyio.run(flag)
    password = postgres_dsn.split(":")[2].split("@")[0]
    assert main(["show", postgres_dsn]) == 0
    out = capsys.readouterr().out
    assert password not in out and "asyncflag:***@" in out
    assert "shown: 1 row" in out and "who='ada', seq=7, echo=7 flag='wrong'" in out
    assert main(["show", postgres_dsn.replace(password, "nope")]) == 1
    err = capsys.readouterr().err
    assert "password authentication failed" in err and "nope" not in err


@pytest.mark.anyio
async def test_consume_to_sqlite(redis_url: str, tmp_path: Path) -> None:
    """`--to sqlite:///path` goes through the same table path: rows in the SQLite file,
    named by their entries."""
    schema = schema_of([components.Textbox(label="text")])
    entry = encode_batch(WireBatch(VERSION, "p1", 1, schema, [WireRow(0, ["x"], None, None, None)]))
    async with coredis.Redis.from_url(redis_url, decode_responses=False) as client:
        await client.xadd("flags:lite", {b"batch": entry})
    database = tmp_path / "flags.db"
    async with RedisConsumer(
        redis_url, stream="flags:lite", flagging_dir=tmp_path / "flags", to=f"sqlite:///{database}"
    ) as running:
        with anyio.fail_after(30):
            while running.stats.entries < 1:
                await anyio.sleep(0.02)
    assert [row.values for row in load_flagged(database)] == [("x",)]


def test_consume_refuses_what_it_cannot_write_to(redis_url: str, tmp_path: Path) -> None:
    with pytest.raises(FlagValueError, match=r"postgresql://user:password@") as refused:
        RedisConsumer(redis_url, stream="s", flagging_dir=tmp_path, to="mysql://u:pw1234@h/db")
    assert "pw1234" not in str(refused.value)
    with pytest.raises(FlagValueError, match="simple"):
        RedisConsumer(
            redis_url, stream="s", flagging_dir=tmp_path, to="sqlite:///x.db", simple=True
        )


def test_export_reads_the_tables(
    postgres_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`asyncflag export postgresql://... --to jsonl`: typed rows, no password printed."""
    from asyncflag.cli import main

    async def flag() -> None:
        logger = PostgresLogger(postgres_dsn, table="exported")
        async with text_interface(tmp_path / "flags", logger) as iface:
            for seq in range(3):
                await iface.flag(["ada", seq, seq])

    anyio.run(flag)
    out = tmp_path / "rows.jsonl"
    assert main(["export", postgres_dsn, str(out), "--to", "jsonl"]) == 0
    printed = capsys.readouterr()
    assert "3 rows" in printed.out
    password = postgres_dsn.split(":")[2].split("@")[0]
    assert password not in printed.out + printed.err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["who"], r["seq"], r["echo"]) for r in records] == [("ada", i, i) for i in range(3)]


class CommitsThenLosesTheReply(PostgresLogger):
    """The first attempt commits, then fails as a connection lost before the reply."""

    failed = False

    def _write(self, conn: psycopg.Connection[Any], rows: Any) -> list[int]:
        numbers = super()._write(conn, rows)
        if not self.failed:
            self.failed = True
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return numbers


@pytest.mark.anyio
async def test_a_batch_committed_whose_reply_was_lost_is_not_doubled(
    postgres_dsn: str, tmp_path: Path
) -> None:
    """The retry of a batch that did commit finds its rows by their event ids (the
    sink made them, once, before the first attempt) and gives their numbers."""
    logger = CommitsThenLosesTheReply(postgres_dsn, table="lost_reply")
    logger.setup([components.Textbox(label="text")], tmp_path)
    stamp = datetime.now(UTC)
    try:
        results = await logger.flag_batch([FlagRow((f"r{i}",), timestamp=stamp) for i in range(4)])
    finally:
        logger.close()
    assert (logger.failed, logger.retries, results) == (True, 1, [1, 2, 3, 4])
    assert [row[0] for row in rows_of(postgres_dsn, "lost_reply")] == ["r0", "r1", "r2", "r3"]


@pytest.mark.anyio
async def test_a_batch_cancelled_while_retried_leaves_no_row(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    """Cancelled while it is retried (the server away; a shutdown giving up), a batch
    leaves nothing behind, and the logger goes on numbering from the rows there are."""
    logger = PostgresLogger(own_postgres.dsn, table="cancelled", connect_timeout=1)
    logger.setup([components.Textbox(label="text")], tmp_path)
    stamp = datetime.now(UTC)
    assert await logger.flag_batch([FlagRow(("first",), timestamp=stamp)]) == [1]
    await anyio.to_thread.run_sync(own_postgres.stop)
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            rows = [FlagRow((text,), timestamp=stamp) for text in ("never", "written")]
            tg.start_soon(logger.flag_batch, rows)
            while logger.retries < 1:
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    # close() ends an attempt a worker thread may still be making (waiting for a
    # connection), before the server is back
    await anyio.to_thread.run_sync(logger.close)
    await anyio.to_thread.run_sync(own_postgres.start)
    try:
        assert await logger.flag_batch([FlagRow(("second",), timestamp=stamp)]) == [2]
    finally:
        logger.close()
    assert [row[0] for row in rows_of(own_postgres.dsn, "cancelled")] == ["first", "second"]
