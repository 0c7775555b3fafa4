"""The per-call path made cheaper (issue 17) keeps every answer: row checks compiled
once per interface, timestamps formatted once per second, counts settled per batch,
and ``flag_many`` for a bulk import."""

from __future__ import annotations

import csv
import gc
import io
import threading
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asyncflag import (
    CSVLogger,
    FlaggingDisabledError,
    FlaggingError,
    FlagReceipt,
    FlagRow,
    FlagValueError,
    FlagWriteError,
    Interface,
    WrongThreadError,
    components,
    load_flagged,
)
from asyncflag.components import Component, compile_checks
from asyncflag.errors import as_write_error, without_frames
from asyncflag.pipeline import Counters
from asyncflag.pipeline.drain import settle
from asyncflag.sinks import RowResult
from asyncflag.sinks.csvfile import timestamp_cells
from asyncflag.sinks.records import csv_records

# -- compiled row checks -------------------------------------------------------------

COMPONENTS: list[Component] = [
    components.Textbox(label="free"),
    components.Textbox(label="short", max_length=5),
    components.Number(label="any"),
    components.Number(label="bounded", minimum=0, maximum=10),
    components.Number(label="rounded", precision=0),
    components.Checkbox(label="flag"),
    components.Dropdown(["a", "b"], label="pick"),
    components.Slider(0, 10, label="slide"),
]

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**2990, max_value=2**3010),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["a", "b", "ab", "\ud800", "é", "=1+1", "abcdef", "12345"]),
    st.builds(np.int64, st.integers(-(2**60), 2**60)),
    st.builds(np.float32, st.floats(-1e6, 1e6)),
    st.just(np.bool_(True)),
    st.builds(Decimal, st.integers()),
    st.lists(st.integers(), max_size=2),
)


def one_by_one(component: Component, value: Any) -> tuple[str, Any]:
    try:
        return "ok", component.check(value)
    except FlagValueError as exc:
        return "refused", str(exc)


@settings(max_examples=400, deadline=None)
@given(st.lists(VALUES, min_size=len(COMPONENTS), max_size=len(COMPONENTS)))
def test_a_compiled_row_check_answers_as_each_components_check(values: list[Any]) -> None:
    check_row = compile_checks(COMPONENTS)
    expected = [one_by_one(c, v) for c, v in zip(COMPONENTS, values, strict=True)]
    refused = next((answer for kind, answer in expected if kind == "refused"), None)
    if refused is not None:
        with pytest.raises(FlagValueError) as caught:
            check_row(values)
        assert str(caught.value) == refused  # the first refusal, as a loop would raise
        return
    checked = check_row(values)
    assert isinstance(checked, tuple)
    for (_, want), got in zip(expected, checked, strict=True):
        assert type(got) is type(want)
        assert got == want or (got != got and want != want)  # nan


def test_a_subclass_that_checks_more_is_not_bypassed_by_its_parents_shortcut() -> None:
    class Lowercase(components.Textbox):
        def check(self, value: Any) -> str:
            text = super().check(value)
            if text != text.lower():
                raise FlagValueError("lowercase only")
            return text

    check_row = compile_checks([Lowercase(label="x"), components.Textbox(label="y")])
    assert check_row(["abc", "ABC"]) == ("abc", "ABC")
    with pytest.raises(FlagValueError, match="lowercase only"):
        check_row(["ABC", "abc"])


def test_a_compiled_check_holds_no_label_or_value_in_its_source() -> None:
    hostile = components.Textbox(label='x"); import os; os._exit(1); ("')
    check_row = compile_checks([hostile, components.Number(label="\n)\n")])
    assert check_row(["a", 1.5]) == ("a", 1.5)
    assert compile_checks([])([]) == ()


# -- timestamps ----------------------------------------------------------------------

STAMPS = st.one_of(
    st.none(),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),  # naive
    st.datetimes(timezones=st.just(timezone(timedelta(hours=5, minutes=30)))),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(STAMPS, max_size=30), st.datetimes(timezones=st.just(UTC)))
def test_timestamp_cells_are_exactly_isoformat(
    stamps: list[datetime | None], start: datetime
) -> None:
    # and runs of one second, as a busy batch has, crossing whole seconds
    run = [start + timedelta(microseconds=37_003 * i) for i in range(60)]
    batch = [*stamps, *run, *stamps]
    assert timestamp_cells(batch) == [s.isoformat() if s is not None else "" for s in batch]


def test_timestamp_cells_of_a_datetime_subclass_go_through_its_own_isoformat() -> None:
    class Stamp(datetime):
        def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
            return "custom"

    now = datetime(2026, 11, 25, 19, 0, 0, 500, tzinfo=UTC)
    stamp = Stamp(2026, 11, 25, 19, 0, 0, 600, tzinfo=UTC)
    assert timestamp_cells([now, stamp, now]) == [now.isoformat(), "custom", now.isoformat()]


# -- settling a batch ----------------------------------------------------------------


def test_settle_counts_written_and_failed_rows_in_a_mixed_batch() -> None:
    counters = Counters()
    rows = [FlagRow(("x",)) for _ in range(5)]
    results: list[RowResult] = [1, OSError("disk"), 2, 3, OSError("again")]
    settle(rows, results, counters)
    assert (counters.written, counters.failed) == (3, 2)
    assert counters.failing  # the last row failed
    settle(rows[:1], [4], counters)
    assert (counters.written, counters.failing) == (4, False)


# -- flag_many -----------------------------------------------------------------------


def interface(tmp_path: Path, **kwargs: Any) -> Interface:
    async def echo(text: str) -> str:
        return text

    return Interface(
        echo,
        components.Textbox(label="question"),
        components.Textbox(label="answer"),
        flagging_dir=tmp_path,
        **kwargs,
    )


@pytest.mark.anyio
async def test_flag_many_writes_every_row_in_order_and_returns_each_count(tmp_path: Path) -> None:
    iface = interface(tmp_path, max_pending=8)  # far fewer than the rows: it waits for room
    rows = [[f"q{i}", f"a{i}"] for i in range(100)]
    async with iface:
        first = await iface.flag(["before", "x"])
        counts = await iface.flag_many(rows, option="bulk", username="importer")
        prediction = await iface.submit("p")
        more = await iface.flag_many([prediction, prediction.id, ("t", "u")])
    assert first == 1
    assert counts == list(range(2, 102))
    assert more == [102, 103, 104]
    flagged = load_flagged(tmp_path)
    assert [list(row.values) for row in flagged[1:101]] == rows
    assert {row.flag for row in flagged[1:101]} == {"bulk"}
    assert {row.username for row in flagged[1:101]} == {"importer"}
    assert len({row.timestamp for row in flagged[1:101]}) == 1  # one stamp for the call


@pytest.mark.anyio
async def test_flag_many_checks_every_row_before_queuing_any(tmp_path: Path) -> None:
    iface = interface(tmp_path)
    async with iface:
        with pytest.raises(FlagValueError, match=r"^row 3: ") as caught:
            await iface.flag_many([["a", "b"]] * 3 + [["only one"]] + [["c", "d"]])
        assert isinstance(caught.value.__cause__, FlagValueError)
        with pytest.raises(FlagValueError, match="row 1: no recent prediction"):
            await iface.flag_many([["a", "b"], "no-such-id"])
        with pytest.raises(FlagValueError, match="takes a list of rows"):
            await iface.flag_many("ab")
        assert iface.stats.published == 0
        assert await iface.flag_many([]) == []
    assert not (tmp_path / "dataset1.csv").exists()


class FailingEveryOther(CSVLogger):
    """Fails the rows whose first value says so."""

    async def flag_batch(self, rows: Sequence[FlagRow]) -> list[RowResult]:
        good = [row for row in rows if row.data[0] != "fail"]
        counts = iter(await super().flag_batch(good))
        return [
            OSError("refused on purpose") if r.data[0] == "fail" else next(counts) for r in rows
        ]


@pytest.mark.anyio
async def test_flag_many_raises_or_returns_the_errors_of_rows_not_written(tmp_path: Path) -> None:
    iface = Interface(
        lambda text: text,
        ["text"],
        ["text"],
        flagging_dir=tmp_path,
        flagging_mode="manual",
        flagging_options=["bulk"],
        flagging_callback=FailingEveryOther(),
    )
    rows = [["ok", "1"], ["fail", "2"], ["ok", "3"]]
    async with iface:
        with pytest.raises(FlagWriteError, match=r"^row 1 of 3: .*refused on purpose"):
            await iface.flag_many(rows, "bulk")
        results = await iface.flag_many(rows, "bulk", return_exceptions=True)
        with pytest.raises(FlagValueError, match="option 'nope' is not one"):
            await iface.flag_many(rows, option="nope")
    assert results[0] == 3 and results[2] == 4
    assert isinstance(results[1], FlagWriteError)
    assert "refused on purpose" in str(results[1])


@pytest.mark.anyio
async def test_flag_many_is_refused_where_flag_is(tmp_path: Path) -> None:
    never = interface(tmp_path / "never", flagging_mode="never")
    async with never:
        with pytest.raises(FlaggingDisabledError):
            await never.flag_many([["a", "b"]])
    iface = interface(tmp_path / "manual")
    async with iface:
        errors: list[BaseException] = []

        def from_a_thread() -> None:
            try:
                anyio.run(iface.flag_many, [["a", "b"]])
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=from_a_thread)
        thread.start()
        thread.join()
        assert len(errors) == 1 and isinstance(errors[0], WrongThreadError)
        assert "flag_many" in str(errors[0])
    with pytest.raises(FlaggingError, match="not running"):
        await iface.flag_many([["a", "b"]])


# -- CSV text a column at a time -------------------------------------------------------

CELLS = st.one_of(
    st.text(alphabet=st.sampled_from("ab ,\"\r\n\x00é='\t;"), max_size=6),
    st.text(max_size=5),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
)


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda width: st.lists(st.lists(CELLS, min_size=width, max_size=width), max_size=12)
    )
)
def test_csv_records_writes_exactly_what_csv_writer_writes(rows: list[list[Any]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    columns = [list(column) for column in zip(*rows, strict=True)]
    assert csv_records(columns) == buffer.getvalue()


def test_csv_records_of_no_rows_is_empty() -> None:
    assert csv_records([]) == ""
    assert csv_records([[], []]) == ""


# -- rows are not tracked by the cycle collector, and no failed row leaks ---------------


class Marker(str):
    """A text value a weak reference can follow (a plain str cannot have one)."""


class AlwaysFailing(CSVLogger):
    async def flag_batch(self, rows: Sequence[FlagRow]) -> list[RowResult]:
        kept = list(rows)  # a local holding the batch, in the frame the error passes
        raise OSError(f"the disk refused {len(kept)} rows")


class FailingPerRow(CSVLogger):
    async def flag_batch(self, rows: Sequence[FlagRow]) -> list[RowResult]:
        results: list[RowResult] = []
        for row in rows:
            try:
                raise OSError(f"refused {row.data[0]}")
            except OSError as exc:
                results.append(exc)
        return results


@pytest.mark.parametrize("callback", [AlwaysFailing, FailingPerRow])
@pytest.mark.anyio
async def test_rows_that_failed_are_freed_with_their_errors(
    tmp_path: Path, callback: type[CSVLogger]
) -> None:
    # Rows (FlagRow, FlagEvent, Prediction) are not tracked by the cycle collector, so a
    # cycle through one is never freed: the error a receipt keeps must not hold the
    # frames that held the batch.
    assert not gc.is_tracked(FlagRow(([],)))
    iface = interface(tmp_path, flagging_callback=callback())
    markers: list[weakref.ref[Marker]] = []
    async with iface:
        for i in range(20):
            marker = Marker(f"q{i}")
            markers.append(weakref.ref(marker))
            with pytest.raises(FlagWriteError):
                await iface.flag([marker, "a"])
            receipt = iface.flag_nowait([Marker(f"n{i}"), "a"])
            with pytest.raises(FlagWriteError) as caught:
                await receipt.wait()
            assert "refused" in str(caught.value)
            del marker, receipt, caught
        counts = await iface.flag_many([[Marker("m"), "a"]] * 5, return_exceptions=True)
        assert all(isinstance(c, FlagWriteError) for c in counts)
        del counts
    gc.collect()
    alive = [ref() for ref in markers if ref() is not None]
    assert alive == []


def test_a_write_error_keeps_its_traceback_as_text() -> None:
    def fail() -> None:
        raise OSError("no space left")

    try:
        fail()
    except OSError as exc:
        error = without_frames(as_write_error(exc))
    cause = error.__cause__
    assert isinstance(cause, OSError) and cause.__traceback__ is None
    assert any("in fail" in note for note in getattr(cause, "__notes__", []))


@pytest.mark.anyio
async def test_receipts_are_left_out_of_collections_until_they_hold_an_object() -> None:
    # Callers keep receipts by the thousand: one that holds only its count, thread and
    # time is not tracked by the cycle collector; the event a waiter sleeps on, or the
    # error that failed it, makes it tracked (so a cycle through it is still freed).
    pending, written, failed, awaited = FlagReceipt(), FlagReceipt(), FlagReceipt(), FlagReceipt()
    written.set_result(7, 1.5)
    assert not gc.is_tracked(pending) and not gc.is_tracked(written)
    assert written.result() == 7 and written.written_at == 1.5
    failed.set_error(FlagWriteError("disk full"))
    assert gc.is_tracked(failed)
    async with anyio.create_task_group() as tg:
        tg.start_soon(awaited.wait)
        await anyio.wait_all_tasks_blocked()
        assert gc.is_tracked(awaited)
        awaited.set_result(1)
    # identity, not state: two receipts in the same state are two promises
    other = FlagReceipt()
    other.set_result(7, 1.5)
    assert other != written and len({other, written}) == 2


def test_a_failed_receipt_raised_where_it_is_held_is_freed() -> None:
    # Raising the receipt's error hangs the raising frame (which holds the receipt) on
    # the error: receipt -> error -> traceback -> frame -> receipt, a cycle that only
    # the collector frees, so it must be able to see through the receipt.
    def fail_and_drop() -> weakref.ref[FlagReceipt]:
        receipt = FlagReceipt()
        receipt.set_error(FlagWriteError("disk full"))
        try:
            receipt.result()
        except FlagWriteError:
            pass
        return weakref.ref(receipt)

    refs = [fail_and_drop() for _ in range(10)]
    gc.collect()
    assert [ref() for ref in refs] == [None] * 10


def test_timestamp_cells_reuse_the_last_second_only_for_stamps_in_it() -> None:
    # The second the last call formatted is kept for the next call (a single flag's batch
    # usually falls in it); a stamp outside it, or exactly on its end, gets its own text.
    start = datetime(2026, 12, 8, 0, 0, 5, tzinfo=UTC)
    calls = [
        [start + timedelta(microseconds=250)],
        [start + timedelta(microseconds=999_999)],
        [start + timedelta(seconds=1, microseconds=1)],
        [start + timedelta(microseconds=7), start + timedelta(seconds=-1, microseconds=3)],
        [start.replace(tzinfo=timezone(timedelta(hours=2)), microsecond=9)],
        [start + timedelta(days=400, microseconds=11)],
    ]
    for stamps in calls:
        assert timestamp_cells(stamps) == [stamp.isoformat() for stamp in stamps]
