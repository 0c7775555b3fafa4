"""SQLiteLogger and the SQL model it shares (issue 18): typed tables, exact counts,
redelivery, versions, busy databases, hostile names, reading back.

Every test writes real SQLite files through a real ``Interface`` (or the logger's own
``flag_batch``), then reads them back with ``sqlite3`` itself and with
``load_flagged``.
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import asyncflag
from asyncflag import (
    FlaggedRow,
    FlagReadError,
    FlagRow,
    FlagValueError,
    FlagWriteError,
    Interface,
    SQLiteLogger,
    components,
    iter_flagged,
    load_flagged,
)
from asyncflag.cli import main
from asyncflag.export import export
from asyncflag.sinks.sql import (
    REGISTRY_TABLE,
    EncodedRows,
    derived_table_name,
    mask_dsn,
    quote_identifier,
)
from asyncflag.sinks.sqlite import iter_sqlite, sqlite_tables

HANG = 60


def every_component() -> list[components.Component]:
    """One component of each type whose values an export types (tests/test_export.py's
    list), and a Dropdown mixing numbers and text (whose cells tell ``3`` from ``"3"``)."""
    return [
        components.Textbox(label="text"),
        components.Number(label="count", precision=0),
        components.Number(label="score"),
        components.Slider(0, 10, label="level"),
        components.Checkbox(label="ok"),
        components.Dropdown(["add", "subtract"], label="operation"),
        components.Dropdown([1, "two"], label="mixed", allow_custom_value=True),
        components.CheckboxGroup(["a", "b", "c"], label="tags"),
        components.JSON(label="data"),
        components.Image(label="picture"),
        components.Label(label="label"),
        components.Chatbot(label="chat"),
        components.HighlightedText(label="entities"),
        components.Dataframe(label="table", type="array"),
        components.Gallery(label="gallery"),
    ]


def pixels(shade: int) -> np.ndarray[Any, Any]:
    return np.full((3, 2, 3), shade, dtype=np.uint8)


ROWS: list[dict[str, Any]] = [
    {
        "values": [
            "=SUM(A1) 'quoted'",
            3,
            -1.5,
            2.5,
            True,
            "add",
            "3",
            ["a", "c"],
            {"k": [1, 2], "s": "x"},
            pixels(10),
            {"cat": 0.75, "dog": 0.25},
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
            [("Ada", "PER"), (" lives", None)],
            [[1, 2], [3, 4]],
            [(pixels(20), "first")],
        ],
        "option": "wrong",
        "username": "ada",
        "comment": "=cmd|' /C calc'!A0",
    },
    {
        "values": [
            "",
            None,
            None,
            0,
            False,
            "subtract",
            1,
            [],
            None,
            None,
            "bird",
            [],
            [],
            None,
            None,
        ],
        "option": "offensive",
        "username": None,
        "comment": None,
    },
    {
        "values": [
            "'",
            7,
            0.1,
            10,
            None,
            None,
            "two",
            ["b"],
            [1, "x"],
            pixels(10),
            None,
            [],
            [],
            [["a"]],
            [],
        ],
        "option": "offensive",
        "username": "böb",
        "comment": "",
    },
]


async def flag_every_row(flagging_dir: Path, callback: Any) -> Interface:
    comps = every_component()
    iface = Interface(
        lambda *values: values[-1],
        comps[:-1],
        comps[-1],
        flagging_dir=flagging_dir,
        flagging_callback=callback,
        flagging_options=["wrong", "offensive"],
        flagging_comment=True,
        flagging_correction=True,
    )
    async with iface:
        for row in ROWS:
            await iface.flag(
                row["values"],
                option=row["option"],
                username=row["username"],
                comment=row["comment"],
                correction=[[(pixels(30), "fixed")]] if row["option"] == "wrong" else None,
            )
    return iface


def plain(value: Any) -> Any:
    """A value comparable with ``==``: a DataFrame as its rows of cells (a recorded
    ``Dataframe`` spec does not carry ``type="array"``, which only says how Python
    receives the table: it is read back as pandas)."""
    if isinstance(value, pd.DataFrame):
        return value.values.tolist()
    return value


def same_rows(sql: list[FlaggedRow], csv: list[FlaggedRow]) -> None:
    """Rows read from the database hold what the same rows read from CSV hold."""
    assert len(sql) == len(csv)
    for got, wanted in zip(sql, csv, strict=True):
        assert got.labels == wanted.labels
        assert list(map(plain, got.values)) == list(map(plain, wanted.values))
        for value, other in zip(map(plain, got.values), wanted.values, strict=True):
            assert type(value) is type(other) or {type(value), type(other)} <= {int, float}
        assert (got.flag, got.username, got.comment) == (
            wanted.flag,
            wanted.username,
            wanted.comment,
        )
        assert got.correction == wanted.correction
        assert isinstance(got.timestamp, datetime) and got.timestamp.tzinfo is not None


@pytest.mark.anyio
async def test_every_component_round_trips_as_the_csv_logger_stores_it(tmp_path: Path) -> None:
    """The same rows flagged into CSV and into SQLite (one folder: the files are saved
    once, content-addressed) read back identically; the table's columns are typed."""
    flags = tmp_path / "flags"
    iface = await flag_every_row(flags, None)  # the CSV logger
    await flag_every_row(flags, SQLiteLogger())
    csv_rows = load_flagged(flags, iface.components)
    sql_rows = load_flagged(flags / "flagged.db", iface.components)
    same_rows(sql_rows, csv_rows)
    assert sql_rows[0].values[13] == [[1, 2], [3, 4]]  # type="array", as given
    # without components: decoded by the ones recorded with the table
    same_rows(load_flagged(flags / "flagged.db"), csv_rows)
    assert sql_rows[2].values[6] == "two" and sql_rows[0].values[6] == "3"
    assert sql_rows[1].values[6] == 1  # the number 1, the text "3": kept apart

    with sqlite3.connect(flags / "flagged.db") as db:
        (create,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'flags'").fetchone()
        row = db.execute(
            'SELECT "text", "count", "score", "ok", "tags", "chat", "picture", "gallery", '
            '"comment", "flag", "username", "timestamp", "row_number" FROM "flags" '
            'ORDER BY "row_number"'
        ).fetchone()
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    for column, kind in [
        ("count", "INTEGER"),
        ("score", "REAL"),
        ("level", "REAL"),
        ("ok", "INTEGER"),
        ("tags", "TEXT"),
        ("timestamp", "TEXT"),
        ("event_id", "TEXT NOT NULL UNIQUE"),
        ("row_number", "INTEGER NOT NULL UNIQUE"),
    ]:
        assert f'"{column}" {kind}' in create
    text, count, score, ok, tags, chat, picture, gallery, comment, flag, user, stamp, n = row
    assert (text, count, score, ok) == ("=SUM(A1) 'quoted'", 3, -1.5, 1)  # not escaped
    assert json.loads(tags) == ["a", "c"]
    assert json.loads(chat)[1] == {"role": "assistant", "content": "hello"}
    assert picture.startswith("picture/") and picture.endswith(".png")  # relative
    assert json.loads(gallery)[0]["caption"] == "first"
    assert (comment, flag, user, n) == ("=cmd|' /C calc'!A0", "wrong", "ada", 1)
    assert datetime.fromisoformat(stamp).utcoffset() is not None
    assert mode == "wal"


def test_each_component_type_is_a_typed_column(tmp_path: Path) -> None:
    logger = SQLiteLogger(tmp_path / "typed.db", table="typed")
    logger.setup(every_component(), tmp_path)
    kinds = {column.name: column.kind for column in logger.columns}
    assert kinds == {
        "text": "text",
        "count": "integer",
        "score": "real",
        "level": "real",
        "ok": "boolean",
        "operation": "text",
        "mixed": "cell",
        "tags": "json",
        "data": "text",
        "picture": "text",
        "label": "text",
        "chat": "json",
        "entities": "text",
        "table": "text",
        "gallery": "json",
    }


HOSTILE = [
    'a"; DROP TABLE asyncflag_tables; --',
    "b'); DELETE FROM x; --",
    "名前 ü",
    "semi;colon",
]


@pytest.mark.anyio
async def test_hostile_labels_table_names_and_values_are_stored_never_run(tmp_path: Path) -> None:
    table = 'flags"; DROP TABLE "asyncflag_tables"; --'
    db = tmp_path / "hostile.db"
    iface = Interface(
        lambda *values: values[-1],
        [components.Textbox(label=label) for label in HOSTILE[:-1]],
        components.Textbox(label=HOSTILE[-1]),
        flagging_dir=tmp_path / "flags",
        flagging_callback=SQLiteLogger(db, table=table),
        flagging_options=["x'); DROP TABLE t; --"],
    )
    async with iface:
        assert await iface.flag(HOSTILE, option="x'); DROP TABLE t; --", username="'; --") == 1
    with sqlite3.connect(db) as connection:
        names = {
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        columns = [
            r[1] for r in connection.execute(f"PRAGMA table_info({quote_identifier(table)})")
        ]
    assert names == {REGISTRY_TABLE, table}
    assert columns[:4] == HOSTILE
    (row,) = load_flagged(db)
    assert row.values == tuple(HOSTILE) and row.labels == tuple(HOSTILE)
    assert (row.flag, row.username) == ("x'); DROP TABLE t; --", "'; --")
    assert [r.table for r in sqlite_tables(db)] == [table]


def test_names_no_table_can_have_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FlagValueError, match="NUL character"):
        SQLiteLogger(tmp_path / "x.db", table="a\x00b")
    with pytest.raises(FlagValueError, match="keeps for its own tables"):
        SQLiteLogger(tmp_path / "x.db", table="asyncflag_tables")
    logger = SQLiteLogger(tmp_path / "x.db")
    with pytest.raises(FlagValueError, match="'row_number', the name of a column every SQL"):
        logger.setup([components.Textbox(label="row_number")], tmp_path)
    assert derived_table_name(tmp_path / "My Flags! 2026") == "my_flags_2026"
    assert derived_table_name(tmp_path / "2026") == "t_2026"
    assert derived_table_name(tmp_path / "???") == "flagged"
    assert derived_table_name(tmp_path / "sqlite_demo") == "t_sqlite_demo"
    with pytest.raises(FlagValueError, match="'sqlite_', which SQLite keeps for its own"):
        SQLiteLogger(tmp_path / "x.db", table="SQLITE_x")
    assert quote_identifier('a"b') == '"a""b"'


def count_rows(db: Path, table: str) -> list[int]:
    with sqlite3.connect(db) as connection:
        return [
            r[0]
            for r in connection.execute(
                f'SELECT "row_number" FROM {quote_identifier(table)} ORDER BY "row_number"'
            )
        ]


def writer_process(db: str, flagging_dir: str, worker: int, rows: int) -> None:
    """One of several processes: an Interface flagging ``rows`` rows into ``db``; writes
    the counts flag() returned to ``<db>.<worker>.json``."""

    async def run() -> list[int]:
        iface = Interface(
            lambda text: text,
            "text",
            "text",
            flagging_dir=flagging_dir,
            flagging_callback=SQLiteLogger(db, table="shared"),
        )
        counts: list[int] = []
        async with iface:
            for start in range(0, rows, 1000):
                batch = [[f"w{worker}-{i}", "out"] for i in range(start, min(rows, start + 1000))]
                counts += await iface.flag_many(batch)
        return counts

    counts = anyio.run(run)
    Path(f"{db}.{worker}.json").write_text(json.dumps(counts))


def test_four_processes_get_exact_counts(tmp_path: Path) -> None:
    """4 processes x 25,000 rows into one file: every row number from 1 to 100,000 exactly
    once, in the table and in what flag() returned."""
    db = tmp_path / "many.db"
    workers, rows = 4, 25_000
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=writer_process, args=(str(db), str(tmp_path), w, rows))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(600)
        assert process.exitcode == 0
    returned = sorted(
        n for w in range(workers) for n in json.loads(Path(f"{db}.{w}.json").read_text())
    )
    everything = list(range(1, workers * rows + 1))
    assert returned == everything
    assert count_rows(db, "shared") == everything
    read = load_flagged(db)
    assert len({row.values[0] for row in read}) == workers * rows  # whole, distinct rows
    for worker in range(workers):  # each process's rows in its own order
        mine = [
            int(r.values[0].split("-")[1]) for r in read if r.values[0].startswith(f"w{worker}-")
        ]
        assert mine == list(range(rows))


def rows_with_ids(texts: Sequence[str], ids: Sequence[str | None]) -> list[FlagRow]:
    stamp = datetime.now(UTC)
    return [
        FlagRow((text,), None, None, stamp, event_id=event_id)
        for text, event_id in zip(texts, ids, strict=True)
    ]


@pytest.mark.anyio
async def test_a_redelivered_batch_is_written_once(tmp_path: Path) -> None:
    db = tmp_path / "redelivered.db"
    logger = SQLiteLogger(db, table="t")
    logger.setup([components.Textbox(label="text")], tmp_path)
    batch = rows_with_ids(["a", "b", "c"], ["e1", "e2", "e3"])
    assert await logger.flag_batch(batch) == [1, 2, 3]
    assert await logger.flag_batch(batch) == [1, 2, 3]  # the same counts, nothing added
    # a batch mixing redelivered rows and new ones (one id twice): only new rows added
    again = rows_with_ids(["b", "d", "e", "d"], ["e2", "e4", None, "e4"])
    assert await logger.flag_batch(again) == [2, 4, 5, 4]
    logger.close()
    assert count_rows(db, "t") == [1, 2, 3, 4, 5]
    assert [r.values[0] for r in load_flagged(db)] == ["a", "b", "c", "d", "e"]
    # another logger (a restarted process) sees the stored ids too
    other = SQLiteLogger(db, table="t")
    other.setup([components.Textbox(label="text")], tmp_path)
    assert await other.flag_batch(rows_with_ids(["c", "f"], ["e3", "e6"])) == [3, 6]
    other.close()


class CommitThenFail(SQLiteLogger):
    """Its first attempt commits, then fails as busy: a commit whose answer was lost."""

    failed = False

    def _attempt_now(self, rows: EncodedRows) -> list[int]:
        numbers = super()._attempt_now(rows)
        if not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("database is locked")
        return numbers


@pytest.mark.anyio
async def test_a_retry_after_a_commit_it_did_not_hear_of_writes_nothing_twice(
    tmp_path: Path,
) -> None:
    """Event ids the sink made itself are looked up again once an attempt failed: its
    rows may be in the table already."""
    db = tmp_path / "lost.db"
    logger = CommitThenFail(db, table="t")
    logger.setup([components.Textbox(label="text")], tmp_path)
    assert await logger.flag_batch(rows_with_ids(["a", "b"], [None, None])) == [1, 2]
    assert logger.retries == 1
    assert logger.flag(["c"]) == 3
    logger.close()
    assert count_rows(db, "t") == [1, 2, 3]


@pytest.mark.anyio
async def test_a_schema_change_starts_the_next_version(tmp_path: Path) -> None:
    db = tmp_path / "versions.db"

    async def flag(inputs: Any, value: Any) -> int:
        iface = Interface(
            lambda x: x,
            inputs,
            "text",
            flagging_dir=tmp_path,
            flagging_callback=SQLiteLogger(db, table="t"),
        )
        async with iface:
            return await iface.flag([value, "out"])

    assert await flag(components.Textbox(label="x"), "a") == 1
    assert await flag(components.Textbox(label="x"), "b") == 2  # same labels, types
    assert await flag(components.Number(label="x"), 3) == 1  # same label, another type
    assert await flag(components.Textbox(label="y"), "c") == 1  # another label
    assert await flag(components.Textbox(label="y"), "d") == 2
    records = sqlite_tables(db)
    assert [(r.table, r.version) for r in records] == [("t", 1), ("t_v2", 2), ("t_v3", 3)]
    assert count_rows(db, "t") == [1, 2]  # untouched
    rows = load_flagged(db)
    assert [(Path(r.file).name, r.values[0]) for r in rows] == [
        ("versions.db#t", "a"),
        ("versions.db#t", "b"),
        ("versions.db#t_v2", 3),
        ("versions.db#t_v3", "c"),
        ("versions.db#t_v3", "d"),
    ]
    assert [r.values[0] for r in iter_sqlite(db, table="t_v2")] == [3]
    assert [r.values[0] for r in iter_sqlite(db, table="t_v1")] == ["a", "b"]
    assert len(list(iter_sqlite(db, table="t"))) == 5  # a base name: every version
    with pytest.raises(FlagValueError, match="no flagging table 'nope'"):
        iter_sqlite(db, table="nope")


@pytest.mark.anyio
async def test_a_busy_database_is_retried_then_written(tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    logger = SQLiteLogger(db, table="t", busy_timeout=0.01)
    logger.setup([components.Textbox(label="text")], tmp_path)
    assert await logger.flag_batch(rows_with_ids(["first"], [None])) == [1]
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # holds the one write lock
    try:
        results: list[Any] = []

        async def write() -> None:
            results.extend(await logger.flag_batch(rows_with_ids(["second"], [None])))

        with anyio.fail_after(HANG):
            async with anyio.create_task_group() as tg:
                tg.start_soon(write)
                while logger.retries < 2:  # the batch failed busy, and is being retried
                    await anyio.sleep(0.01)
                assert results == []
                blocker.execute("ROLLBACK")
    finally:
        blocker.close()
    assert results == [2]
    logger.close()
    assert [r.values[0] for r in load_flagged(db)] == ["first", "second"]


@pytest.mark.anyio
async def test_a_batch_cancelled_while_retried_leaves_no_row(tmp_path: Path) -> None:
    """Cancelled while it waits to retry (a shutdown giving up), a batch leaves nothing
    behind, and the logger goes on numbering from the rows that are there."""
    db = tmp_path / "cancelled.db"
    logger = SQLiteLogger(db, table="t", busy_timeout=0.01)
    logger.setup([components.Textbox(label="text")], tmp_path)
    assert await logger.flag_batch(rows_with_ids(["first"], [None])) == [1]
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with anyio.fail_after(HANG):
            async with anyio.create_task_group() as tg:
                tg.start_soon(logger.flag_batch, rows_with_ids(["never", "written"], [None, None]))
                while logger.retries < 1:
                    await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
        # close() waits for an attempt a worker thread may still be making (the cancel
        # abandons the thread, which fails busy under the blocker's lock): only then is
        # the lock let go
        logger.close()
        blocker.execute("ROLLBACK")
    finally:
        blocker.close()
    assert await logger.flag_batch(rows_with_ids(["second"], [None])) == [2]
    logger.close()
    assert [r.values[0] for r in load_flagged(db)] == ["first", "second"]


@pytest.mark.anyio
async def test_a_database_busy_for_too_long_fails_the_rows_clearly(tmp_path: Path) -> None:
    db = tmp_path / "stuck.db"
    logger = SQLiteLogger(db, table="t", busy_timeout=0.01, retry_for=0.2)
    logger.setup([components.Textbox(label="text")], tmp_path)
    assert await logger.flag_batch(rows_with_ids(["first"], [None])) == [1]
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(FlagWriteError, match=r"busy.db|stuck.db") as caught:
            await logger.flag_batch(rows_with_ids(["second"], [None]))
    finally:
        blocker.close()
    message = str(caught.value)
    assert "still failing after" in message and "database is locked" in message
    assert "were not written" in message
    logger.close()
    assert count_rows(db, "t") == [1]


@pytest.mark.anyio
async def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"id,name\n1,not a database at all\n" * 10)
    logger = SQLiteLogger(garbage)
    with pytest.raises(FlagValueError, match="is not a SQLite database"):
        logger.setup([components.Textbox(label="text")], tmp_path)
    with pytest.raises(FlagReadError, match="is not a SQLite database"):
        load_flagged(garbage)
    # a real SQLite file SQLiteLogger never wrote
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    connection.close()
    with pytest.raises(FlagReadError, match="without the asyncflag_tables table"):
        load_flagged(other)
    # a SQLite header over a damaged body: the rows fail, saying so
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    broken = SQLiteLogger(damaged, retry_for=0)
    broken.setup([components.Textbox(label="text")], tmp_path)
    with pytest.raises(FlagWriteError, match="is not a SQLite database"):
        await broken.flag_batch(rows_with_ids(["x"], [None]))
    broken.close()


def test_flag_without_an_interface_and_the_default_path(tmp_path: Path) -> None:
    """Gradio's way: setup() then flag() (blocking); the database defaults to
    ``<flagging_dir>/flagged.db`` and the table to the folder's name."""
    logger = SQLiteLogger()
    logger.setup(["text", components.Number(label="n")], tmp_path / "My Flags")
    assert logger.flag(["a", 1]) == 1
    assert logger.flag(["b", 2.5], "wrong", "ada") == 2
    assert logger.table == "my_flags"
    logger.close()
    rows = load_flagged(tmp_path / "My Flags" / "flagged.db")
    assert [(r.values, r.flag, r.username) for r in rows] == [
        (("a", 1), None, None),
        (("b", 2.5), "wrong", "ada"),
    ]
    assert [r.values for r in iter_flagged(f"sqlite:///{tmp_path}/My Flags/flagged.db")] == [
        ("a", 1),
        ("b", 2.5),
    ]


@pytest.mark.anyio
async def test_show_and_export_read_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = tmp_path / "flags"
    iface = Interface(
        lambda n: n * 2,
        components.Number(label="n", precision=0),
        components.Number(label="double", precision=0),
        flagging_dir=flags,
        flagging_callback=SQLiteLogger(),
        flagging_options=["odd", "even"],
    )
    async with iface:
        await iface.flag([2, 4], option="odd", username="\x1b[2Jada")
        await iface.flag([3, 6], option="even")
    db = flags / "flagged.db"
    assert main(["show", str(db), "--last", "1"]) == 0
    shown = capsys.readouterr().out
    assert "flags: 2 rows" in shown and "n=3, double=6" in shown
    assert "odd: 1" in shown
    assert main(["export", str(db), str(tmp_path / "out.parquet"), "--to", "parquet"]) == 0
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("double").to_pylist() == [4, 6]
    assert str(table.schema.field("n").type) == "int64"  # typed by the recorded components
    result = export(f"sqlite:///{db}", "jsonl", tmp_path / "out.jsonl")
    assert result.rows == 2
    assert main(["show", str(tmp_path / "missing.db")]) == 1


def test_a_dsn_never_shows_its_password() -> None:
    assert (
        mask_dsn("postgresql://ada:s3cr%40t@db:5432/flags") == "postgresql://ada:***@db:5432/flags"
    )
    assert mask_dsn("host=db user=ada password=secret dbname=f") == (
        "host=db user=ada password=*** dbname=f"
    )
    assert mask_dsn("postgresql://db/f?password=secret&x=1") == "postgresql://db/f?password=***&x=1"
    assert mask_dsn("postgresql://db/f") == "postgresql://db/f"


def test_the_logger_is_exported() -> None:
    assert "SQLiteLogger" in asyncflag.__all__
    assert "SQLiteLogger" in asyncflag.sinks.__all__
