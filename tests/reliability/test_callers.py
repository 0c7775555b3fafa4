"""Misused callers: other threads and loops, lock order, callbacks that block or flag.

Each test runs under a generous ``anyio.fail_after(HANG)``: a hang detector, not a
timed assertion. A call from the wrong thread must fail at once and leave the
pipeline working; the CSV loggers' locks are taken in one order; leaving
``async with`` is bounded by ``shutdown_timeout`` even when a sync callback blocks;
a callback that waits for its own writer fails instead of wedging it.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import pytest
import trio

from asyncflag import (
    CSVLogger,
    Disk,
    FlaggingError,
    FlagReceipt,
    FlagWriteError,
    Interface,
    WrongThreadError,
)

pytestmark = pytest.mark.anyio

#: seconds before a test is declared hung (a hang detector, never reached when it passes)
HANG = 60


def shout(text: str) -> str:
    return text.upper()


def data_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))[1:]


async def in_plain_thread(function: Callable[[], Any]) -> Any:
    """Run ``function`` in a plain daemon thread; return what it returned or raised."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(function())
        except BaseException as exc:  # handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    # Polled, not joined from a worker thread: a hung call must not keep one busy.
    while thread.is_alive():
        await anyio.sleep(0.005)
    return outcome[0]


async def wait_for(event: threading.Event) -> None:
    """Wait for a thread's event, polled: a wait that hangs must not keep a worker busy."""
    while not event.is_set():
        await anyio.sleep(0.005)


def on_another_loop(loop: str, call: Callable[[], Awaitable[Any]]) -> Callable[[], Any]:
    """A function that runs ``await call()`` on a new event loop of its own."""

    async def main() -> Any:
        return await call()

    if loop == "asyncio":
        return lambda: asyncio.run(main())
    return lambda: trio.run(main)


async def still_works(iface: Interface, flagging_dir: Path, rows_before: int = 0) -> None:
    """Later flags are written and leaving the block drains: the pipeline is not stuck."""
    async with iface:
        with anyio.fail_after(HANG):
            assert await iface.flag(["later", "LATER"]) == rows_before + 1
            receipts = [iface.flag_nowait([str(i), str(i)]) for i in range(3)]
    assert [r.result() for r in receipts] == [rows_before + 2, rows_before + 3, rows_before + 4]
    assert len(data_rows(flagging_dir / "dataset1.csv")) == rows_before + 4
    assert iface.stats.failed == 0 and iface.stats.pending == 0


# -- calls from another thread or loop ---------------------------------------------------


async def test_flag_nowait_from_a_worker_thread_is_refused_and_nothing_sticks(
    tmp_path: Path,
) -> None:
    iface = Interface(shout, "text", "text", flagging_dir=tmp_path)
    async with iface:
        with anyio.fail_after(HANG):
            call = functools.partial(iface.flag_nowait, ["a", "A"])
            with pytest.raises(WrongThreadError, match=r"anyio\.from_thread\.run_sync"):
                await anyio.to_thread.run_sync(call)
            assert iface.stats.published == 0  # refused before anything was queued
            assert await iface.flag(["b", "B"]) == 1
    assert [row[0] for row in data_rows(tmp_path / "dataset1.csv")] == ["b"]
    await still_works(iface, tmp_path, rows_before=1)


async def test_flag_nowait_from_a_plain_thread_is_refused_and_nothing_sticks(
    tmp_path: Path,
) -> None:
    iface = Interface(shout, "text", "text", flagging_dir=tmp_path)
    async with iface:
        with anyio.fail_after(HANG):
            outcome = await in_plain_thread(functools.partial(iface.flag_nowait, ["a", "A"]))
        assert isinstance(outcome, WrongThreadError)
        assert "token=token" in str(outcome)
        assert iface.stats.published == 0
    await still_works(iface, tmp_path)


@pytest.mark.parametrize("loop", ["asyncio", "trio"])
@pytest.mark.parametrize("call", ["flag", "submit"])
async def test_a_call_from_another_event_loop_is_refused_and_nothing_sticks(
    tmp_path: Path, loop: str, call: str
) -> None:
    iface = Interface(shout, "text", "text", flagging_dir=tmp_path, flagging_mode="auto")

    def make_call() -> Awaitable[Any]:
        return iface.flag(["a", "A"]) if call == "flag" else iface.submit("a")

    async with iface:
        with anyio.fail_after(HANG):
            outcome = await in_plain_thread(on_another_loop(loop, make_call))
        assert isinstance(outcome, WrongThreadError), outcome
        assert f"{call}() was called outside the event loop thread" in str(outcome)
        assert iface.stats.published == 0
    await still_works(iface, tmp_path)


async def test_a_receipt_awaited_on_another_loop_is_refused(tmp_path: Path) -> None:
    iface = Interface(shout, "text", "text", flagging_dir=tmp_path)
    async with iface:
        receipt = iface.flag_nowait(["a", "A"])
        with anyio.fail_after(HANG):
            outcome = await in_plain_thread(on_another_loop("asyncio", receipt.wait))
            assert isinstance(outcome, WrongThreadError)
            assert await receipt.wait() == 1  # on its own loop it works
    await still_works(iface, tmp_path, rows_before=1)


async def test_the_documented_ways_to_flag_from_threads(tmp_path: Path) -> None:
    iface = Interface(shout, "text", "text", flagging_dir=tmp_path)

    def from_worker() -> tuple[int, int]:
        count = anyio.from_thread.run(iface.flag, ["worker", "WORKER"])
        receipt: FlagReceipt = anyio.from_thread.run_sync(iface.flag_nowait, ["nowait", "N"])
        return count, anyio.from_thread.run(receipt.wait)

    async with iface:
        token = anyio.lowlevel.current_token()

        def from_plain_thread() -> int:
            return anyio.from_thread.run(iface.flag, ["plain", "PLAIN"], token=token)

        with anyio.fail_after(HANG):
            assert await anyio.to_thread.run_sync(from_worker) == (1, 2)
            assert await in_plain_thread(from_plain_thread) == 3
    assert [row[0] for row in data_rows(tmp_path / "dataset1.csv")] == [
        "worker",
        "nowait",
        "plain",
    ]


# -- one lock order ----------------------------------------------------------------------


class GateDisk(Disk):
    """Holds the writes that ``blocks()`` picks (by the thread making them) until released."""

    def __init__(self, blocks: Callable[[], bool]) -> None:
        self.blocks = blocks
        self.entered = threading.Event()
        self.release = threading.Event()
        self.released_by: str | None = None

    def write(self, fd: int, data: memoryview) -> int:
        if self.blocks():
            self.entered.set()
            if not self.release.wait(HANG):
                self.released_by = "the hang detector"
        return super().write(fd, data)


async def test_the_event_loop_never_waits_for_a_thread_holding_the_logger(
    tmp_path: Path,
) -> None:
    """A blocking ``CSVLogger.flag`` in a thread holds the logger's locks while its write
    waits; the writer's next batch must not block the event loop behind it (it did: the
    loop took the file lock, then waited for the thread lock: the opposite order)."""
    disk = GateDisk(lambda: threading.current_thread().name == "sync flagger")
    logger = CSVLogger(disk=disk)
    iface = Interface(shout, "text", "text", flagging_dir=tmp_path, flagging_callback=logger)
    async with iface:
        with anyio.fail_after(HANG):
            assert await iface.flag(["first", "FIRST"]) == 1  # the file is open
            thread = threading.Thread(
                target=logger.flag, args=(["sync", "SYNC"],), name="sync flagger", daemon=True
            )
            thread.start()
            await wait_for(disk.entered)
            receipt = iface.flag_nowait(["async", "ASYNC"])
            # The writer takes the batch; with the old lock order the loop froze here,
            # so only the disk's own timeout could let the thread go.
            await anyio.wait_all_tasks_blocked()
            if disk.released_by is None:
                disk.released_by = "the event loop"
            disk.release.set()
            while thread.is_alive():
                await anyio.sleep(0.005)
            assert await receipt.wait() == 3
    assert disk.released_by == "the event loop"
    rows = data_rows(tmp_path / "dataset1.csv")
    assert [row[0] for row in rows] == ["first", "sync", "async"]


async def test_sync_flags_from_threads_beside_the_writer_complete(tmp_path: Path) -> None:
    """Blocking ``flag`` calls from several threads and the async writer, interleaved on
    one logger: every row is written once, with a distinct count (a deadlock would trip
    the hang detector)."""
    threads, per_thread, async_rows = 4, 150, 1500
    logger = CSVLogger()
    iface = Interface(
        shout, "text", "text", flagging_dir=tmp_path, flagging_callback=logger, max_pending=64
    )
    counts: list[int] = []

    def flag_many(name: str) -> None:
        counts.extend(logger.flag([f"{name}-{i}", "x"]) for i in range(per_thread))

    async with iface:
        with anyio.fail_after(HANG):
            await iface.flag(["first", "FIRST"])
            async with anyio.create_task_group() as tg:
                for t in range(threads):
                    tg.start_soon(anyio.to_thread.run_sync, flag_many, f"thread{t}")
                counts.extend([await iface.flag([f"async-{i}", "x"]) for i in range(async_rows)])
    total = 1 + threads * per_thread + async_rows
    assert sorted(counts) == list(range(2, total + 1))
    rows = data_rows(tmp_path / "dataset1.csv")
    assert len(rows) == total
    assert len({row[0] for row in rows}) == total


# -- shutdown_timeout with a callback stuck in a worker thread ---------------------------


class StuckLogger:
    """A Gradio-style sync callback whose ``flag`` blocks until the test releases it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.returned = threading.Event()
        self.rows: list[list[Any]] = []

    def setup(self, components: Any, flagging_dir: str) -> None:
        pass

    def flag(self, flag_data: list[Any], flag_option: Any = None, username: Any = None) -> int:
        self.entered.set()
        self.release.wait(HANG)
        self.rows.append(flag_data)
        self.returned.set()
        return len(self.rows)


async def test_shutdown_timeout_bounds_leaving_despite_a_blocked_sync_callback(
    tmp_path: Path,
) -> None:
    callback = StuckLogger()
    iface = Interface(shout, "text", "text", flagging_callback=callback, shutdown_timeout=0.5)
    with anyio.fail_after(HANG):
        async with iface:
            writing = iface.flag_nowait(["a", "A"])
            await wait_for(callback.entered)
            queued = [iface.flag_nowait([str(i), str(i)]) for i in range(3)]
        # Left while the callback's thread is still blocked.
        assert not callback.returned.is_set()
        with pytest.raises(FlagWriteError, match=r"shutdown_timeout=0\.5s.*may still be written"):
            writing.result()
        for receipt in queued:
            with pytest.raises(FlagWriteError, match="gave up before the row reached"):
                receipt.result()
        assert iface.stats.failed == 4 and iface.stats.pending == 0
        callback.release.set()  # the abandoned thread ends, and did write its row
        await wait_for(callback.returned)
    assert callback.rows == [["a", "A"]]


async def test_shutdown_timeout_bounds_leaving_despite_a_stuck_csv_write(tmp_path: Path) -> None:
    """The CSV logger's worker-thread write blocks (a hung disk): leaving still returns,
    and the file is closed once the write ends."""
    loop_thread = threading.current_thread()
    armed = threading.Event()
    disk = GateDisk(lambda: armed.is_set() and threading.current_thread() is not loop_thread)
    logger = CSVLogger(disk=disk)
    logger.inline_write_bytes = 0  # every write goes to a worker thread
    iface = Interface(
        shout,
        "text",
        "text",
        flagging_dir=tmp_path,
        flagging_callback=logger,
        shutdown_timeout=0.5,
    )
    try:
        with anyio.fail_after(HANG):
            async with iface:
                assert await iface.flag(["first", "FIRST"]) == 1  # the file is open
                armed.set()
                receipt = iface.flag_nowait(["a", "A"])
                await wait_for(disk.entered)
            assert not disk.release.is_set()
            with pytest.raises(FlaggingError, match="may still be written"):
                receipt.result()
    finally:
        if disk.released_by is None:
            disk.released_by = "the test"
        disk.release.set()
    with anyio.fail_after(HANG):
        while logger.dataset_path is not None:  # closed by the abandoned close() call
            await anyio.sleep(0.01)
    assert disk.released_by == "the test"
    assert [row[0] for row in data_rows(tmp_path / "dataset1.csv")] == ["first", "a"]


# -- a callback that flags ---------------------------------------------------------------


class Reflagging:
    """A callback that flags a second row while it writes the first: awaited, that waits
    for the writer, that is for itself."""

    def __init__(self) -> None:
        self.iface: Interface | None = None
        self.errors: list[BaseException] = []
        self.rows: list[list[Any]] = []

    def setup(self, components: Any, flagging_dir: str) -> None:
        pass

    def flag(self, flag_data: list[Any], flag_option: Any = None, username: Any = None) -> int:
        assert self.iface is not None
        if flag_data[0] == "outer":
            try:
                anyio.from_thread.run(self.iface.flag, ["inner", "INNER"])
            except FlaggingError as exc:
                self.errors.append(exc)
        self.rows.append(flag_data)
        return len(self.rows)


class ReflaggingAsync(Reflagging):
    """The same, from an async ``flag_batch`` running in the writer's task."""

    async def flag_batch(self, rows: Any) -> list[int | Exception]:
        assert self.iface is not None
        for row in rows:
            if row.data[0] == "outer":
                try:
                    await self.iface.flag(["inner", "INNER"])
                except FlaggingError as exc:
                    self.errors.append(exc)
            self.rows.append(list(row.data))
        return list(range(len(self.rows) - len(rows) + 1, len(self.rows) + 1))


@pytest.mark.parametrize("how", ["sync flag in a worker thread", "async flag_batch"])
async def test_a_callback_awaiting_a_flag_fails_instead_of_waiting_for_itself(
    tmp_path: Path, how: str
) -> None:
    callback = ReflaggingAsync() if how == "async flag_batch" else Reflagging()
    iface = Interface(shout, "text", "text", flagging_callback=callback, shutdown_timeout=HANG)
    callback.iface = iface
    with anyio.fail_after(HANG):
        async with iface:
            assert await iface.flag(["outer", "OUTER"]) == 1
            assert await iface.flag(["next", "NEXT"]) == 2  # the writer goes on
        [error] = callback.errors
        assert "would wait for the writer, that is for itself" in str(error)
        assert [row[0] for row in callback.rows] == ["outer", "next"]
        assert iface.stats.published == 2  # the refused flag queued nothing


async def test_a_callback_waiting_for_room_in_the_queue_fails_instead(tmp_path: Path) -> None:
    """In ``auto`` mode ``submit`` waits for room in a full queue; inside the callback only
    the writer itself could make it."""
    errors: list[BaseException] = []
    finished = anyio.Event()

    class Submitting(ReflaggingAsync):
        async def flag_batch(self, rows: Any) -> list[int | Exception]:
            assert self.iface is not None
            if rows[0].data[0] == "outer":
                await self.iface.submit("fills the queue")
                try:
                    await self.iface.submit("waits for room")
                except FlaggingError as exc:
                    errors.append(exc)
                finished.set()
            return list(range(1, len(rows) + 1))

    callback = Submitting()
    iface = Interface(
        shout, "text", "text", flagging_mode="auto", flagging_callback=callback,
        max_pending=1, shutdown_timeout=HANG,
    )  # fmt: skip
    callback.iface = iface
    with anyio.fail_after(HANG):
        async with iface:
            await iface.submit("outer")
            await finished.wait()
    [error] = errors
    assert "the flagging queue is full (1 pending events)" in str(error)
    assert iface.stats.published == 2 and iface.stats.written == 2
