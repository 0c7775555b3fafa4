"""asyncflag: Gradio-style flagging for async programs.

Predictions and flags are published to an in-process queue; a single writer task
appends them to a CSV dataset in batches and saves their files concurrently. With a
:class:`RedisStream` transport, replicas publish to Redis instead and a
:class:`RedisConsumer` writes the one dataset.

The components are here too, so that a Gradio program moves over with
``import asyncflag as gr``: ``gr.Interface(sepia, gr.Image(), "image")``.
"""

from __future__ import annotations

from . import components
from .chat_interface import ChatCSVLogger, ChatInterface, ChatReply, ChatUpdate, Feedback
from .components import (
    HTML,
    JSON,
    Audio,
    Chatbot,
    Checkbox,
    CheckboxGroup,
    Code,
    ColorPicker,
    Component,
    Dataframe,
    Dropdown,
    File,
    FileData,
    Gallery,
    HighlightedText,
    Image,
    Label,
    Markdown,
    Number,
    Radio,
    Slider,
    Textbox,
    Video,
)
from .errors import (
    ChatReplyError,
    ConversationAccessError,
    ConversationBusyError,
    Error,
    FlagDroppedError,
    FlaggingDisabledError,
    FlaggingError,
    FlagReadError,
    FlagValueError,
    FlagWriteError,
    MissingExtraError,
    NotRunningError,
    QueueFullError,
    UnknownConversationError,
    UnknownPredictionError,
    UnsafePathError,
    WrongThreadError,
)
from .events import FlagReceipt, FlagRow, Prediction
from .interface import Interface
from .pipeline import FlagStatistics
from .read import FlaggedRow, iter_flagged, load_flagged
from .sinks import (
    CSVLogger,
    Disk,
    FlaggingCallback,
    PostgresLogger,
    RowResult,
    SimpleCSVLogger,
    SQLiteLogger,
)
from .transport import ConsumerStatistics, RedisConsumer, RedisStream

__all__ = [
    "Audio",
    "CSVLogger",
    "ChatCSVLogger",
    "ChatInterface",
    "ChatReply",
    "ChatReplyError",
    "ChatUpdate",
    "Chatbot",
    "Checkbox",
    "CheckboxGroup",
    "Code",
    "ColorPicker",
    "Component",
    "ConsumerStatistics",
    "ConversationAccessError",
    "ConversationBusyError",
    "Dataframe",
    "Disk",
    "Dropdown",
    "Error",
    "Feedback",
    "File",
    "FileData",
    "FlagDroppedError",
    "FlagReadError",
    "FlagReceipt",
    "FlagRow",
    "FlagStatistics",
    "FlagValueError",
    "FlagWriteError",
    "FlaggedRow",
    "FlaggingCallback",
    "FlaggingDisabledError",
    "FlaggingError",
    "Gallery",
    "HTML",
    "HighlightedText",
    "Image",
    "Interface",
    "JSON",
    "Label",
    "Markdown",
    "MissingExtraError",
    "NotRunningError",
    "Number",
    "Prediction",
    "QueueFullError",
    "Radio",
    "PostgresLogger",
    "RedisConsumer",
    "RedisStream",
    "RowResult",
    "SQLiteLogger",
    "SimpleCSVLogger",
    "Slider",
    "Textbox",
    "UnknownConversationError",
    "UnknownPredictionError",
    "UnsafePathError",
    "Video",
    "WrongThreadError",
    "components",
    "iter_flagged",
    "load_flagged",
]

__version__ = "0.1.0"
