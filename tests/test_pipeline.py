"""The pipeline: one state, one publish path, one drain loop."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from asyncflag import (
    CSVLogger,
    FlagReceipt,
    FlagRow,
    FlagValueError,
    NotRunningError,
    Prediction,
    components,
)
from asyncflag.events import FlagEvent
from asyncflag.pipeline import Drain, FlagWriter, Pipeline, PipelineState, Subscription

pytestmark = pytest.mark.anyio


class Rows:
    """A batch flagger keeping what it was handed."""

    def __init__(self) -> None:
        self.batches: list[list[FlagRow]] = []

    async def __call__(self, rows: Sequence[FlagRow]) -> list[int | Exception]:
        self.batches.append(list(rows))
        return list(range(1, len(rows) + 1))


def event(text: str) -> FlagEvent:
    return FlagEvent((text,), None, None, None, FlagReceipt())


def state_of(pipeline: Pipeline) -> PipelineState:
    """The state now (a call, so that a type checker does not keep an earlier assert's)."""
    return pipeline.state


async def test_a_pipeline_goes_idle_running_closing_closed_and_again() -> None:
    rows = Rows()
    seen: list[PipelineState] = []

    def close() -> None:
        seen.append(pipeline.state)

    pipeline = Pipeline(
        (FlagEvent,), lambda subscription: FlagWriter(subscription, rows), close=close
    )
    assert state_of(pipeline) is PipelineState.IDLE
    with pytest.raises(NotRunningError):
        pipeline.bus.publish_nowait(event("a"))
    async with pipeline:
        assert state_of(pipeline) is PipelineState.RUNNING
        first = event("a")
        assert pipeline.bus.publish_nowait(first)
    assert seen == [PipelineState.CLOSING]  # the sink is closed while closing
    assert state_of(pipeline) is PipelineState.CLOSED
    assert first.receipt is not None and first.receipt.result() == 1
    with pytest.raises(NotRunningError):
        await pipeline.bus.publish(event("b"))
    async with pipeline:  # entered again
        await pipeline.bus.publish(event("c"))
    assert [[row.data for row in batch] for batch in rows.batches] == [[("a",)], [("c",)]]
    assert pipeline.stats.written == 2 and pipeline.stats.pending == 0


async def test_only_the_kinds_subscribed_reach_the_drainer() -> None:
    rows = Rows()
    pipeline = Pipeline((FlagEvent,), lambda subscription: FlagWriter(subscription, rows))
    async with pipeline:
        prediction = Prediction("id", ("p",), (), None)  # type: ignore[arg-type]
        assert await pipeline.bus.publish(prediction)  # goes nowhere in manual mode
        await pipeline.bus.publish(event("f"))
    assert [[row.data for row in batch] for batch in rows.batches] == [[("f",)]]
    assert pipeline.stats.published == 1


async def test_the_drain_loop_hands_over_batches_in_order_until_the_source_ends() -> None:
    subscription = Subscription(frozenset({int}), 100, "wait")
    handled: list[list[Any]] = []

    async def handle(batch: list[Any]) -> None:
        handled.append(batch)

    for i in range(5):
        subscription.put_nowait(i)
    subscription.close()
    drain: Drain[Any] = Drain(subscription, handle, max_batch=2)
    with anyio.fail_after(10):
        await drain.run()
    assert handled == [[0, 1], [2, 3], [4]]
    assert drain.in_flight == []


async def test_a_row_of_the_wrong_width_handed_straight_to_flag_batch_is_named(
    tmp_path: Path,
) -> None:
    logger = CSVLogger()
    logger.setup([components.Textbox(label="t"), components.Textbox(label="u")], tmp_path)
    rows = [FlagRow(("a", "b")), FlagRow(("short",)), FlagRow(("x", "y", "z")), FlagRow(("c", "d"))]
    results = await logger.flag_batch(rows)
    logger.close()
    assert results[0] == 1 and results[3] == 2
    for result, got in ((results[1], 1), (results[2], 3)):
        assert isinstance(result, FlagValueError)
        assert str(result) == f"expected 2 values, got {got}"
