"""asyncflag: Gradio-style flagging for async programs.

Predictions and flags are published to an in-process queue; a single writer task
appends them to a CSV dataset in batches and saves their files concurrently.
"""

from __future__ import annotations

from . import components
from .bus import FlagStatistics
from .components import FileData
from .dataset import FlaggedRow, load_flagged
from .disk import Disk
from .errors import (
    FlagDroppedError,
    FlaggingDisabledError,
    FlaggingError,
    FlagValueError,
    FlagWriteError,
    NotRunningError,
    QueueFullError,
    UnknownPredictionError,
)
from .events import FlagReceipt, FlagRow, Prediction
from .interface import Interface
from .loggers import CSVLogger, FlaggingCallback, SimpleCSVLogger

__all__ = [
    "CSVLogger",
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
    "SimpleCSVLogger",
    "UnknownPredictionError",
    "components",
    "load_flagged",
]

__version__ = "0.1.0"
