"""asyncflag: Gradio-style flagging for async programs.

Predictions and flags are published to an in-process queue; a single writer task
appends them to a CSV dataset in batches and saves their files concurrently. With a
:class:`RedisStream` transport, replicas publish to Redis instead and a
:class:`RedisConsumer` writes the one dataset.
"""

from __future__ import annotations

from . import components
from .components import FileData
from .errors import (
    FlagDroppedError,
    FlaggingDisabledError,
    FlaggingError,
    FlagValueError,
    FlagWriteError,
    NotRunningError,
    QueueFullError,
    UnknownPredictionError,
    UnsafePathError,
    WrongThreadError,
)
from .events import FlagReceipt, FlagRow, Prediction
from .interface import Interface
from .pipeline import FlagStatistics
from .read import FlaggedRow, load_flagged
from .sinks import CSVLogger, Disk, FlaggingCallback, RowResult, SimpleCSVLogger
from .transport import ConsumerStatistics, RedisConsumer, RedisStream

__all__ = [
    "CSVLogger",
    "ConsumerStatistics",
    "Disk",
    "FileData",
    "FlagDroppedError",
    "FlagReceipt",
    "FlagRow",
    "FlagStatistics",
    "FlagValueError",
    "FlagWriteError",
    "FlaggedRow",
    "FlaggingCallback",
    "FlaggingDisabledError",
    "FlaggingError",
    "Interface",
    "NotRunningError",
    "Prediction",
    "QueueFullError",
    "RedisConsumer",
    "RedisStream",
    "RowResult",
    "SimpleCSVLogger",
    "UnknownPredictionError",
    "UnsafePathError",
    "WrongThreadError",
    "components",
    "load_flagged",
]

__version__ = "0.1.0"
