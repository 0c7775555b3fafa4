"""The life of one flagging pipeline: the bus, the drain loop, the writer, the pipeline."""

from __future__ import annotations

from .bus import Counters, EventBus, FlagStatistics, Overflow, Subscription
from .drain import Drain, fail_events, settle
from .pipeline import Drainer, Pipeline, PipelineState
from .writer import FlagWriter, write_batch

__all__ = [
    "Counters",
    "Drain",
    "Drainer",
    "EventBus",
    "FlagStatistics",
    "FlagWriter",
    "Overflow",
    "Pipeline",
    "PipelineState",
    "Subscription",
    "fail_events",
    "settle",
    "write_batch",
]
