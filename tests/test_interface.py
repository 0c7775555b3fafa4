"""The Interface: modes, options, labels, submit/flag, bad input, order, draining, stats."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from asyncflag import (
    CSVLogger,
    FlagDroppedError,
    FlaggingCallback,
    FlaggingDisabledError,
    FlaggingError,
    FlagRow,
    FlagStatistics,
    FlagValueError,
    FlagWriteError,
    Interface,
    NotRunningError,
    Prediction,
    QueueFullError,
    SimpleCSVLogger,
    UnknownPredictionError,
    components,
    load_flagged,
)

pytestmark = pytest.mark.anyio


def add(a: float, b: float) -> float:
    return a + b


def negate(a: float) -> float:
    return -a


async def shout(text: str) -> str:
    return text.upper()


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


# -- construction ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["manual", "auto", "never"])
def test_mode_argument(mode: str, tmp_path: Path) -> None:
    assert Interface(add, ["number", "number"], "number", flagging_mode=mode).flagging_mode == mode


def test_mode_defaults_to_manual(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASYNCFLAG_FLAGGING_MODE", raising=False)
    monkeypatch.delenv("GRADIO_FLAGGING_MODE", raising=False)
    assert Interface(add, ["number", "number"], "number").flagging_mode == "manual"


def test_mode_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASYNCFLAG_FLAGGING_MODE", raising=False)
    monkeypatch.setenv("GRADIO_FLAGGING_MODE", "never")
    assert Interface(add, ["number", "number"], "number").flagging_mode == "never"
    monkeypatch.setenv("ASYNCFLAG_FLAGGING_MODE", "auto")
    assert Interface(add, ["number", "number"], "number").flagging_mode == "auto"
    # the argument wins over the environment
    iface = Interface(add, ["number", "number"], "number", flagging_mode="manual")
    assert iface.flagging_mode == "manual"


def test_bad_mode_names_the_allowed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="'manual', 'auto' or 'never'") as info:
        Interface(add, ["number", "number"], "number", flagging_mode="sometimes")
    assert isinstance(info.value, FlaggingError)
    monkeypatch.setenv("GRADIO_FLAGGING_MODE", "always")
    with pytest.raises(ValueError, match=r"GRADIO_FLAGGING_MODE.*'always'"):
        Interface(add, ["number", "number"], "number")


def test_flagging_options_processing() -> None:
    assert Interface(negate, "number", "number").flagging_options == [("Flag", None)]
    iface = Interface(negate, "number", "number", flagging_options=["a", "b"])
    assert iface.flagging_options == [("Flag as a", "a"), ("Flag as b", "b")]
    pairs = [("Wrong!", "wrong"), ("Offensive", "offensive")]
    assert Interface(negate, "number", "number", flagging_options=pairs).flagging_options == pairs


@pytest.mark.parametrize("options", ["abc", [1, 2], [("a", "b", "c")], {"a": 1}, [("a", 2)]])
def test_bad_flagging_options(options: Any) -> None:
    with pytest.raises(ValueError, match="flagging_options"):
        Interface(negate, "number", "number", flagging_options=options)


def test_labels_follow_gradio() -> None:
    iface = Interface(add, ["number", components.Number(label="second")], "number")
    assert [c.label for c in iface.input_components] == ["a", "second"]
    assert [c.label for c in iface.output_components] == ["output"]
    iface = Interface(add, ["number", "number"], ["number", "text", "json"])
    assert [c.label for c in iface.output_components] == ["output 0", "output 1", "output 2"]


def test_components_given_are_not_mutated() -> None:
    shared = components.Textbox()
    Interface(shout, shared, shared)
    assert shared.label is None


def test_unknown_shortcut() -> None:
    with pytest.raises(ValueError, match="unknown component shortcut 'hologram'"):
        Interface(add, "hologram", "number")


def test_callback_without_flag_method() -> None:
    with pytest.raises(ValueError, match="setup\\(\\) method"):
        Interface(negate, "number", "number", flagging_callback=object())


# -- running -----------------------------------------------------------------------------


async def test_not_running_raises(tmp_path: Path) -> None:
    iface = Interface(add, ["number", "number"], "number", flagging_dir=tmp_path)
    with pytest.raises(NotRunningError, match="async with") as info:
        await iface.submit(1, 2)
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value, FlaggingError)
    with pytest.raises(NotRunningError):
        await iface.flag([1, 2, 3])
    with pytest.raises(NotRunningError):
        iface.flag_nowait([1, 2, 3])
    async with iface:
        await iface.submit(1, 2)
    with pytest.raises(NotRunningError):
        await iface.submit(1, 2)


async def test_cannot_enter_twice(tmp_path: Path) -> None:
    iface = Interface(add, ["number", "number"], "number", flagging_dir=tmp_path)
    async with iface:
        with pytest.raises(FlaggingError, match="already running"):
            await iface.__aenter__()
    # and it can run again afterwards, continuing the same dataset file
    async with iface:
        assert await iface.flag([1, 2, 3]) == 1


async def test_sync_fn_runs_in_a_worker_thread(tmp_path: Path) -> None:
    import threading

    main_thread = threading.get_ident()
    seen: list[int] = []

    def where(x: str) -> str:
        seen.append(threading.get_ident())
        return x

    async with Interface(where, "text", "text", flagging_dir=tmp_path) as iface:
        prediction = await iface.submit("hi")
    assert prediction.outputs == ("hi",)
    assert seen and seen[0] != main_thread


async def test_submit_returns_a_prediction(tmp_path: Path) -> None:
    async with Interface(shout, "text", "text", flagging_dir=tmp_path) as iface:
        prediction = await iface.submit("hi")
    assert isinstance(prediction, Prediction)
    assert prediction.inputs == ("hi",)
    assert prediction.outputs == ("HI",)
    assert prediction.id and prediction.created_at.tzinfo is not None
    with pytest.raises(AttributeError):
        prediction.id = "other"  # type: ignore[misc]


async def test_several_outputs(tmp_path: Path) -> None:
    def both(x: float) -> tuple[float, str]:
        return x * 2, str(x)

    async with Interface(both, "number", ["number", "text"], flagging_dir=tmp_path) as iface:
        prediction = await iface.submit(2)
        assert prediction.outputs == (4, "2")
        assert await iface.flag(prediction) == 1
    header = read_csv(tmp_path / "dataset1.csv")[0]
    assert header == ["x", "output 0", "output 1", "flag", "username", "timestamp"]


async def test_fn_returning_the_wrong_number_of_outputs(tmp_path: Path) -> None:
    async with Interface(lambda x: x, "number", ["number", "number"], flagging_dir=tmp_path) as i:
        with pytest.raises(FlagValueError, match="must return 2 values"):
            await i.submit(1)


# -- modes on disk -----------------------------------------------------------------------


async def test_auto_mode_logs_every_prediction(tmp_path: Path) -> None:
    iface = Interface(shout, "text", "text", flagging_mode="auto", flagging_dir=tmp_path)
    async with iface:
        for word in ["a", "b", "c"]:
            await iface.submit(word)
    rows = read_csv(tmp_path / "dataset1.csv")
    assert [row[:3] for row in rows[1:]] == [["a", "A", ""], ["b", "B", ""], ["c", "C", ""]]
    assert iface.stats.written == 3


async def test_manual_mode_logs_only_flags(tmp_path: Path) -> None:
    flagging_dir = tmp_path / "flags"
    iface = Interface(shout, "text", "text", flagging_mode="manual", flagging_dir=flagging_dir)
    async with iface:
        first = await iface.submit("a")
        await iface.submit("b")
        assert not flagging_dir.exists()  # nothing until the first flag
        assert await iface.flag(first) == 1
    rows = read_csv(flagging_dir / "dataset1.csv")
    assert [row[:2] for row in rows[1:]] == [["a", "A"]]


async def test_never_mode_touches_nothing(tmp_path: Path) -> None:
    flagging_dir = tmp_path / "flags"
    iface = Interface(shout, "text", "text", flagging_mode="never", flagging_dir=flagging_dir)
    async with iface:
        prediction = await iface.submit("a")
        with pytest.raises(FlaggingDisabledError, match="never"):
            await iface.flag(prediction)
        with pytest.raises(FlaggingDisabledError):
            iface.flag_nowait(["a", "A"])
    assert prediction.outputs == ("A",)
    assert not flagging_dir.exists()
    assert list(tmp_path.iterdir()) == []


async def test_never_mode_does_not_call_the_callback(tmp_path: Path) -> None:
    calls: list[str] = []

    class Recorder:
        def setup(self, components: Any, flagging_dir: str) -> None:
            calls.append("setup")

        def flag(self, flag_data: Any, flag_option: Any = None, username: Any = None) -> int:
            calls.append("flag")
            return 0

    iface = Interface(shout, "text", "text", flagging_mode="never", flagging_callback=Recorder())
    async with iface:
        await iface.submit("a")
    assert calls == []


# -- flag() ------------------------------------------------------------------------------


async def test_flag_targets_and_counts(tmp_path: Path) -> None:
    iface = Interface(add, ["number", "number"], "number", flagging_dir=tmp_path)
    async with iface:
        prediction = await iface.submit(1, 2)
        assert await iface.flag(prediction) == 1
        assert await iface.flag(prediction.id) == 2
        assert await iface.flag([5, 6, 11]) == 3
        receipt = iface.flag_nowait((7, 8, 15))
        assert await receipt.wait() == 4
        assert receipt.done() and receipt.result() == 4
    rows = load_flagged(tmp_path, iface.components)
    assert [row.values for row in rows] == [(1, 2, 3), (1, 2, 3), (5, 6, 11), (7, 8, 15)]


async def test_flag_option_and_username_are_stored(tmp_path: Path) -> None:
    iface = Interface(
        add,
        ["number", "number"],
        "number",
        flagging_dir=tmp_path,
        flagging_options=[("Wrong!", "wrong"), ("Rude", "rude")],
    )
    async with iface:
        prediction = await iface.submit(1, 2)
        await iface.flag(prediction, option="wrong", username="ada")
        await iface.flag(prediction, option="rude")
    rows = load_flagged(tmp_path, iface.components)
    assert [(row.flag, row.username) for row in rows] == [("wrong", "ada"), ("rude", None)]
    assert all(row.timestamp is not None and row.timestamp.tzinfo for row in rows)


async def test_option_free_text_without_options(tmp_path: Path) -> None:
    async with Interface(add, ["number", "number"], "number", flagging_dir=tmp_path) as iface:
        await iface.flag([1, 2, 3], option="looks odd")
    assert load_flagged(tmp_path)[0].flag == "looks odd"


async def test_bad_flag_calls_fail_at_the_call(tmp_path: Path) -> None:
    iface = Interface(
        add, ["number", "number"], "number", flagging_dir=tmp_path, flagging_options=["a", "b"]
    )
    async with iface:
        prediction = await iface.submit(1, 2)
        with pytest.raises(FlagValueError, match="'c' is not one of the flagging options") as e:
            await iface.flag(prediction, option="c")
        assert isinstance(e.value, ValueError)
        with pytest.raises(FlagValueError, match="not one of the flagging options"):
            await iface.flag(prediction)
        with pytest.raises(FlagValueError, match="expected 3 values"):
            await iface.flag([1, 2], option="a")
        with pytest.raises(FlagValueError, match="Number 'b' stores an int or a float"):
            await iface.flag([1, "two", 3], option="a")
        with pytest.raises(UnknownPredictionError, match="no recent prediction") as unknown:
            await iface.flag("no-such-id", option="a")
        assert isinstance(unknown.value, ValueError)
        with pytest.raises(FlagValueError, match="username"):
            await iface.flag(prediction, option="a", username=42)  # type: ignore[arg-type]
        with pytest.raises(FlagValueError, match="takes a Prediction"):
            await iface.flag(42, option="a")  # type: ignore[arg-type]
        with pytest.raises(FlagValueError, match="expected 2 input values"):
            await iface.submit(1)
        with pytest.raises(FlagValueError, match="Number 'a'"):
            await iface.submit("one", 2)
        # none of it reached the writer
        assert iface.stats.published == 0
    assert not (tmp_path / "dataset1.csv").exists()


async def test_prediction_cache_is_bounded(tmp_path: Path) -> None:
    iface = Interface(shout, "text", "text", flagging_dir=tmp_path, cache_size=2)
    async with iface:
        first = await iface.submit("a")
        await iface.submit("b")
        await iface.submit("c")
        with pytest.raises(UnknownPredictionError):
            await iface.flag(first.id)
        # the Prediction itself can still be flagged
        assert await iface.flag(first) == 1


async def test_prediction_cache_is_bounded_in_bytes(tmp_path: Path) -> None:
    iface = Interface(shout, "text", "text", flagging_dir=tmp_path, cache_bytes=3000)
    async with iface:
        first = await iface.submit("a" * 500)  # about 1000 bytes: input and output
        second = await iface.submit("b" * 500)
        third = await iface.submit("c" * 500)  # past 3000 bytes: the oldest goes
        with pytest.raises(UnknownPredictionError, match="no longer kept"):
            await iface.flag(first.id)
        assert await iface.flag(second.id) == 1
        assert await iface.flag(third.id) == 2
        # larger than the whole bound: returned, not kept, and it evicted nothing
        huge = await iface.submit("d" * 5000)
        assert huge.outputs == ("D" * 5000,)
        with pytest.raises(UnknownPredictionError, match="up to 3,000 bytes"):
            await iface.flag(huge.id)
        assert await iface.flag(third.id) == 3
        assert await iface.flag(huge) == 4  # the Prediction itself can still be flagged


@pytest.mark.parametrize("value", [0, -1, 1.5, None])
def test_cache_bytes_must_be_a_positive_int(tmp_path: Path, value: Any) -> None:
    with pytest.raises(FlagValueError, match="cache_bytes must be a positive int"):
        Interface(shout, "text", "text", flagging_dir=tmp_path, cache_bytes=value)


async def test_flagging_a_foreign_prediction_checks_its_values(tmp_path: Path) -> None:
    forged = Prediction("x", ("a",), (object(),), created_at=__import__("datetime").datetime.now())
    async with Interface(shout, "text", "text", flagging_dir=tmp_path) as iface:
        with pytest.raises(FlagValueError, match="Textbox 'output' stores a string"):
            await iface.flag(forged)


async def test_auto_mode_rejects_an_output_it_cannot_store(tmp_path: Path) -> None:
    async def bad(text: str) -> Any:
        return {"not": "text"}

    iface = Interface(bad, "text", "text", flagging_mode="auto", flagging_dir=tmp_path)
    async with iface:
        with pytest.raises(FlagValueError, match="Textbox 'output'"):
            await iface.submit("a")
    assert iface.stats.published == 0


# -- order, draining, stats --------------------------------------------------------------


async def test_rows_keep_the_order_events_were_accepted(tmp_path: Path) -> None:
    iface = Interface(shout, "text", "text", flagging_dir=tmp_path, max_batch=7)
    async with iface:
        receipts = [iface.flag_nowait([str(i), str(i)]) for i in range(500)]
    counts = [receipt.result() for receipt in receipts]
    assert counts == list(range(1, 501))
    rows = read_csv(tmp_path / "dataset1.csv")[1:]
    assert [row[0] for row in rows] == [str(i) for i in range(500)]


async def test_file_rows_keep_order_behind_a_large_file(tmp_path: Path) -> None:
    big = b"\x00" * (4 << 20)
    iface = Interface(lambda f: f, "file", "text", flagging_dir=tmp_path)
    async with iface:
        receipts = [iface.flag_nowait([big, "big"])]
        receipts += [iface.flag_nowait([None, f"small {i}"]) for i in range(20)]
    assert [r.result() for r in receipts] == list(range(1, 22))
    rows = load_flagged(tmp_path, iface.components)
    assert [row.values[1] for row in rows] == ["big"] + [f"small {i}" for i in range(20)]
    saved = rows[0].values[0]
    assert saved is not None and Path(saved).read_bytes() == big


async def test_leaving_the_block_drains_everything(tmp_path: Path) -> None:
    iface = Interface(shout, "text", "text", flagging_mode="auto", flagging_dir=tmp_path)
    async with iface:
        for i in range(2000):
            await iface.submit(str(i))
        # most of it is still queued: the caller never waited for the disk
    assert iface.stats.written == 2000
    assert iface.stats.pending == 0
    assert len(read_csv(tmp_path / "dataset1.csv")) == 2001


async def test_draining_survives_a_cancelled_host(tmp_path: Path) -> None:
    iface = Interface(shout, "text", "text", flagging_mode="manual", flagging_dir=tmp_path)
    receipts = []
    with anyio.CancelScope() as scope:
        async with iface:
            receipts = [iface.flag_nowait([str(i), str(i)]) for i in range(300)]
            scope.cancel()
            await anyio.sleep(5)
    assert scope.cancelled_caught
    assert [r.result() for r in receipts] == list(range(1, 301))


async def test_a_cancelled_flag_call_still_writes_its_row(tmp_path: Path) -> None:
    iface = Interface(shout, "text", "text", flagging_dir=tmp_path)
    async with iface:
        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(iface.flag, [str(i), str(i)])
            await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()
        accepted = iface.stats.published
    rows = read_csv(tmp_path / "dataset1.csv")[1:]
    assert len(rows) == accepted == iface.stats.written
    assert len({row[0] for row in rows}) == len(rows)  # none twice


async def test_stats_count_published_and_written(tmp_path: Path) -> None:
    iface = Interface(shout, "text", "text", flagging_mode="auto", flagging_dir=tmp_path)
    stats = iface.stats
    assert (stats.published, stats.written, stats.dropped, stats.failed, stats.pending) == (
        0,
        0,
        0,
        0,
        0,
    )
    async with iface:
        await iface.submit("a")
        await iface.flag(["b", "B"])
        stats = iface.stats
        assert stats.published == 2
        assert stats.written == 2
        assert stats.pending == 0
    counts = ("published", "written", "dropped", "failed", "pending")
    assert {key: iface.stats.as_dict()[key] for key in counts} == {
        "published": 2,
        "written": 2,
        "dropped": 0,
        "failed": 0,
        "pending": 0,
    }


def test_stats_are_a_plain_value_with_every_field() -> None:
    stats = FlagStatistics(1, 1, 0, 0, 0, connected=True, reconnects=2)
    assert stats != FlagStatistics(1, 1, 0, 0, 0, connected=False, reconnects=2)
    assert stats != FlagStatistics(1, 1, 0, 0, 0, connected=True, reconnects=3)
    assert stats == FlagStatistics(1, 1, 0, 0, 0, connected=True, reconnects=2)
    assert msgspec.structs.replace(stats, reconnects=3).reconnects == 3
    assert stats.as_dict() == {
        "published": 1,
        "written": 1,
        "dropped": 0,
        "failed": 0,
        "pending": 0,
        "connected": True,
        "reconnects": 2,
    }
    with pytest.raises(AttributeError):
        stats.published = 2  # type: ignore[misc]


# -- the bounded queue -------------------------------------------------------------------


class Gate(FlaggingCallback):
    """A callback whose writes wait for a gate, to fill the queue deterministically."""

    def __init__(self) -> None:
        self.gate = anyio.Event()
        self.entered = anyio.Event()
        self.rows: list[FlagRow] = []

    def setup(self, components: Any, flagging_dir: str) -> None:
        pass

    def flag(self, flag_data: Any, flag_option: Any = None, username: Any = None) -> int:
        raise AssertionError("the writer uses flag_batch")

    async def flag_batch(self, rows: Sequence[FlagRow]) -> list[int | Exception]:
        self.entered.set()
        await self.gate.wait()
        self.rows.extend(rows)
        return list(range(len(self.rows) - len(rows) + 1, len(self.rows) + 1))


async def test_overflow_drop_counts_every_drop(tmp_path: Path) -> None:
    gate = Gate()
    iface = Interface(
        shout, "text", "text", flagging_mode="auto", flagging_callback=gate,
        max_pending=10, overflow="drop",
    )  # fmt: skip
    async with iface:
        await iface.submit("first")  # taken by the writer, which then waits at the gate
        await gate.entered.wait()
        for i in range(25):
            await iface.submit(str(i))  # never blocks
        dropped_receipt = iface.flag_nowait(["x", "X"])
        assert dropped_receipt.done()
        with pytest.raises(FlagDroppedError):
            await dropped_receipt.wait()
        gate.gate.set()
    stats = iface.stats
    assert stats.dropped == 16
    assert stats.written == 11 == len(gate.rows)
    assert stats.published == stats.written


async def test_overflow_wait_blocks_until_there_is_room(tmp_path: Path) -> None:
    gate = Gate()
    iface = Interface(
        shout, "text", "text", flagging_mode="auto", flagging_callback=gate, max_pending=5
    )
    async with iface:
        await iface.submit("first")
        await gate.entered.wait()
        for i in range(5):
            await iface.submit(str(i))
        with pytest.raises(QueueFullError):
            iface.flag_nowait(["x", "X"])
        done = anyio.Event()

        async def one_more() -> None:
            await iface.submit("blocked")
            done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(one_more)
            await anyio.wait_all_tasks_blocked()
            assert not done.is_set()
            gate.gate.set()
    assert iface.stats.dropped == 0
    assert [row.data[0] for row in gate.rows] == ["first", "0", "1", "2", "3", "4", "blocked"]


def test_bad_queue_settings() -> None:
    with pytest.raises(ValueError, match="overflow"):
        Interface(shout, "text", "text", overflow="spill")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_pending"):
        Interface(shout, "text", "text", max_pending=0)


async def test_shutdown_timeout_reports_what_is_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gate = Gate()
    iface = Interface(shout, "text", "text", flagging_callback=gate, shutdown_timeout=0.05)
    async with iface:
        receipts = [iface.flag_nowait([str(i), str(i)]) for i in range(10)]
        await gate.entered.wait()
        queued = iface.flag_nowait(["late", "LATE"])
    assert all(r.done() for r in receipts)
    # the batch at the gate may still be written; the queued row never reached it
    with pytest.raises(FlagWriteError, match=r"shutdown_timeout.*may still be written"):
        receipts[-1].result()
    with pytest.raises(FlagWriteError, match=r"shutdown_timeout.*gave up before the row reached"):
        queued.result()
    assert iface.stats.failed == 11
    assert "not written within the shutdown timeout" in caplog.text


# -- callbacks ---------------------------------------------------------------------------


class GradioStyleLogger:
    """A Gradio-style synchronous callback that does not know about asyncflag."""

    def __init__(self) -> None:
        self.rows: list[tuple[list[Any], str | None, str | None]] = []
        self.setup_args: tuple[Any, ...] = ()

    def setup(self, components: list[Any], flagging_dir: str) -> None:
        self.setup_args = ([c.label for c in components], flagging_dir)

    def flag(
        self, flag_data: list[Any], flag_option: str | None = None, username: str | None = None
    ) -> int:
        self.rows.append((flag_data, flag_option, username))
        return len(self.rows)


async def test_gradio_style_sync_callback(tmp_path: Path) -> None:
    callback = GradioStyleLogger()
    iface = Interface(
        add, ["number", "number"], "number", flagging_dir=tmp_path, flagging_callback=callback
    )
    async with iface:
        prediction = await iface.submit(1, 2)
        assert await iface.flag(prediction, username="ada") == 1
        assert await iface.flag([3, 4, 7], option="x") == 2
    assert callback.setup_args == (["a", "b", "output"], str(tmp_path))
    assert callback.rows == [([1, 2, 3], None, "ada"), ([3, 4, 7], "x", None)]


async def test_async_callback(tmp_path: Path) -> None:
    class AsyncLogger(FlaggingCallback):
        def __init__(self) -> None:
            self.rows: list[list[Any]] = []

        async def setup(self, components: Any, flagging_dir: str) -> None:
            await anyio.lowlevel.checkpoint()

        async def flag(
            self, flag_data: Any, flag_option: str | None = None, username: str | None = None
        ) -> int:
            await anyio.lowlevel.checkpoint()
            self.rows.append(list(flag_data))
            return len(self.rows) * 10

    callback = AsyncLogger()
    iface = Interface(shout, "text", "text", flagging_mode="auto", flagging_callback=callback)
    async with iface:
        await iface.submit("a")
        assert await iface.flag(["b", "B"]) == 20
    assert callback.rows == [["a", "A"], ["b", "B"]]


async def test_a_failing_callback_fails_rows_not_the_writer(tmp_path: Path) -> None:
    class Flaky:
        def setup(self, components: Any, flagging_dir: str) -> None:
            pass

        def flag(self, flag_data: Any, flag_option: Any = None, username: Any = None) -> int:
            if flag_data[0] == "bad":
                raise OSError(28, "No space left on device")
            return 1

    iface = Interface(shout, "text", "text", flagging_callback=Flaky())
    async with iface:
        with pytest.raises(FlagWriteError) as info:
            await iface.flag(["bad", "BAD"])
        assert info.value.os_error is not None and info.value.os_error.errno == 28
        assert await iface.flag(["good", "GOOD"]) == 1
        prediction = await iface.submit("still serving")
    assert prediction.outputs == ("STILL SERVING",)
    assert iface.stats.failed == 1 and iface.stats.written == 1


async def test_a_crashing_batch_callback_fails_the_batch(tmp_path: Path) -> None:
    class Broken(Gate):
        async def flag_batch(self, rows: Sequence[FlagRow]) -> list[int | Exception]:
            raise RuntimeError("boom")

    iface = Interface(shout, "text", "text", flagging_callback=Broken())
    async with iface:
        with pytest.raises(FlagWriteError, match="boom"):
            await iface.flag(["a", "A"])
        with pytest.raises(FlagWriteError):
            await iface.flag(["b", "B"])
    assert iface.stats.failed == 2


async def test_simple_csv_logger(tmp_path: Path) -> None:
    iface = Interface(
        add, ["number", "number"], "number", flagging_dir=tmp_path,
        flagging_callback=SimpleCSVLogger(),
    )  # fmt: skip
    async with iface:
        assert await iface.flag([1, 2, 3]) == 1
        assert await iface.flag([-1, 2, 1], option="x") == 2
    rows = read_csv(tmp_path / "log.csv")
    assert [row[:4] for row in rows] == [["1", "2", "3", ""], ["-1", "2", "1", "x"]]
    assert [row.values for row in load_flagged(tmp_path, iface.components)] == [
        (1, 2, 3),
        (-1, 2, 1),
    ]


async def test_fsync_durability(tmp_path: Path) -> None:
    iface = Interface(
        shout, "text", "text", flagging_dir=tmp_path,
        flagging_callback=CSVLogger(durability="fsync"),
    )  # fmt: skip
    async with iface:
        assert await iface.flag(["a", "A"]) == 1
    assert len(read_csv(tmp_path / "dataset1.csv")) == 2
    with pytest.raises(ValueError, match="durability"):
        CSVLogger(durability="sometimes")  # type: ignore[arg-type]


# -- examples ----------------------------------------------------------------------------


async def test_examples_from_a_flagging_directory(tmp_path: Path) -> None:
    source = Interface(
        add, ["number", components.Checkbox(label="c")], "number", flagging_dir=tmp_path
    )
    async with source:
        await source.flag([1.5, True, 2.5])
        await source.flag([-2, False, -2])
    iface = Interface(add, ["number", components.Checkbox(label="c")], "number", examples=tmp_path)
    assert iface.examples == [[1.5, True], [-2, False]]
    assert Interface(negate, "number", "number", examples=[[1], [2]]).examples == [[1], [2]]
    with pytest.raises(ValueError, match="not a directory"):
        Interface(negate, "number", "number", examples=str(tmp_path / "missing"))


async def test_an_exception_in_the_block_comes_out_unchanged(tmp_path: Path) -> None:
    # Not wrapped in an ExceptionGroup by the writer's task group, and rows flagged
    # before it are still written.
    iface = Interface(lambda t: t, "text", "text", flagging_dir=tmp_path)
    with pytest.raises(KeyError, match="boom"):
        async with iface:
            receipt = iface.flag_nowait(["a", "b"])
            raise KeyError("boom")
    assert receipt.result() == 1
    assert [row.values for row in load_flagged(tmp_path)] == [("a", "b")]


async def test_empty_and_unwritable_usernames_and_options(tmp_path: Path) -> None:
    iface = Interface(lambda t: t, "text", "text", flagging_dir=tmp_path)
    async with iface:
        with pytest.raises(FlagValueError, match="lone surrogate"):
            await iface.flag(["a", "b"], username="\ud800")
        with pytest.raises(FlagValueError, match="lone surrogate"):
            await iface.flag(["a", "b"], option="\udfff")
        await iface.flag(["empty", "strings"], option="", username="")
        await iface.flag(["no", "metadata"])
    first, second = load_flagged(tmp_path)
    assert (first.flag, first.username) == ("", "")
    assert (second.flag, second.username) == (None, None)


async def test_a_cell_longer_than_the_csv_module_default_reads_back(tmp_path: Path) -> None:
    long = "=" + "a" * 200_000
    iface = Interface(lambda t: t, "text", "text", flagging_dir=tmp_path)
    async with iface:
        await iface.flag([long, "x"])
    assert load_flagged(tmp_path)[0].values[0] == long


def three(a: float, b: float, c: float) -> float:
    return a + b + c


def test_fn_arity_is_checked_against_the_inputs() -> None:
    """A 2-parameter fn with 3 inputs (or 1) is refused when the Interface is built,
    naming fn and both counts; *args and defaults are allowed for."""
    with pytest.raises(FlagValueError, match=r"fn add\(\) takes 2 .* has 3 inputs"):
        Interface(add, ["number", "number", "number"], "number")
    with pytest.raises(FlagValueError, match=r"fn three\(\) takes 3 .* has 1 input,"):
        Interface(three, "number", "number")

    def defaults(a: float, b: float = 1, c: float = 2) -> float:
        return a + b + c

    for count in (1, 2, 3):
        Interface(defaults, ["number"] * count, "number")
    with pytest.raises(FlagValueError, match=r"takes 1 to 3 .* has 4 inputs"):
        Interface(defaults, ["number"] * 4, "number")

    def star(a: float, *rest: float) -> float:
        return a + sum(rest)

    Interface(star, ["number"] * 5, "number")
    with pytest.raises(FlagValueError, match=r"takes 1 .* has 0 inputs"):
        Interface(star, [], "number")

    def keyword(a: float, *, scale: float) -> float:
        return a * scale

    with pytest.raises(FlagValueError, match=r"keyword-only parameters \(scale\)"):
        Interface(keyword, "number", "number")
    Interface(print, "text", None)  # a builtin: its signature may not be known, not refused


@pytest.mark.parametrize("mode", ["manual", "auto"])
async def test_a_flagging_dir_that_is_a_file_is_refused_at_start(tmp_path: Path, mode: str) -> None:
    file = tmp_path / "taken"
    file.write_text("not a folder")
    for flagging_dir, message in (
        (file, r"flagging_dir '.*taken' is a file, not a directory"),
        (file / "sub", r"flagging_dir '.*taken/sub' cannot be created: '.*taken' is a file"),
    ):
        iface = Interface(
            add, ["number", "number"], "number", flagging_dir=flagging_dir, flagging_mode=mode
        )
        with pytest.raises(FlagValueError, match=message):
            async with iface:
                pass  # pragma: no cover
        assert not iface.running
    # a folder that does not exist yet is fine, and is not created before the first row
    iface = Interface(add, ["number", "number"], "number", flagging_dir=tmp_path / "new" / "d")
    async with iface:
        pass
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
async def test_a_read_only_flagging_dir_is_refused_at_start(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        iface = Interface(add, ["number", "number"], "number", flagging_dir=folder)
        with pytest.raises(FlagValueError, match=r"flagging_dir '.*ro' is not writable"):
            async with iface:
                pass  # pragma: no cover
    finally:
        folder.chmod(0o700)


async def test_never_mode_checks_inputs(tmp_path: Path) -> None:
    """In never mode inputs are checked as in the others: "x" in a number is the
    caller's FlagValueError (a 400 on the web), and fn is not called."""
    called = []

    def record(a: float, b: bool) -> float:
        called.append((a, b))
        return a

    iface = Interface(
        record,
        ["number", components.Checkbox()],
        "number",
        flagging_mode="never",
        flagging_dir=tmp_path,
    )
    async with iface:
        with pytest.raises(FlagValueError, match="Number"):
            await iface.submit("x", True)
        with pytest.raises(FlagValueError, match="Checkbox"):
            await iface.submit(1, "yes")
        assert called == []
        assert (await iface.submit(2, False)).outputs == (2,)
