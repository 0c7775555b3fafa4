"""Every error asyncflag raises, in one place.

All of them derive from :class:`FlaggingError`; errors caused by a bad argument also
derive from :class:`ValueError`, so ``except ValueError`` keeps working for callers
that validate input generically.
"""

from __future__ import annotations

import traceback
from typing import TypeVar

__all__ = [
    "ChatReplyError",
    "ConversationAccessError",
    "ConversationBusyError",
    "Error",
    "FlagDroppedError",
    "FlagReadError",
    "FlagValueError",
    "FlagWriteError",
    "FlaggingDisabledError",
    "FlaggingError",
    "MissingExtraError",
    "NotRunningError",
    "QueueFullError",
    "UnknownConversationError",
    "UnknownPredictionError",
    "UnsafePathError",
    "WrongThreadError",
    "as_write_error",
    "without_frames",
]


class Error(Exception):
    """An error meant for the user, as Gradio's ``gr.Error``: raise it in ``fn``.

    ``raise asyncflag.Error("the divisor must not be 0")``: the page shows the message
    verbatim beside the outputs, and ``/api/predict`` answers 422 with it as
    ``{"error": message}``. Any other exception from ``fn`` shows a generic message with
    a request id instead (its text may hold private details), and the server logs its
    traceback under the same id (``app(show_error=True)`` shows its type and text too).
    :meth:`~asyncflag.Interface.submit` lets it through unchanged.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        #: the text shown to the user
        self.message = str(message)


class FlaggingError(RuntimeError):
    """Base class of every error raised by asyncflag."""


class FlagValueError(FlaggingError, ValueError):
    """Raised at the call when an argument or a value cannot be flagged as given."""


class UnknownPredictionError(FlagValueError):
    """Raised when a prediction id is not in the interface's cache of recent predictions."""


class FlagReadError(FlagValueError):
    """A flagging directory's file cannot be read as written: a cell that its component
    cannot decode, a timestamp that is not one, a row with too few or too many cells, a
    header that is not a dataset header.

    :func:`~asyncflag.load_flagged` and :func:`~asyncflag.iter_flagged` raise it naming
    the file, the row and the column in the message and in :attr:`file`, :attr:`row`
    and :attr:`column`.
    """

    def __init__(
        self, message: str, *, file: str | None = None, row: int | None = None, column: str = ""
    ) -> None:
        super().__init__(message)
        #: the dataset file, the data row (1 is the first row after the header; 0 the
        #: header) and the column label of the cell, when known
        self.file = file
        self.row = row
        self.column = column


class UnsafePathError(FlagReadError):
    """A file cell read back from a dataset names a path outside its flagging directory.

    asyncflag only ever writes ``<folder>/<file>`` below the flagging directory; a cell
    that is absolute, climbs with ``..``, holds a NUL byte or leads out through a
    symlink was written by someone else (an edited file, or a text column appended
    under the same labels) and is never returned as a flagged file.
    :func:`~asyncflag.load_flagged` fills in where the cell is.
    """

    def __init__(
        self, message: str, *, file: str | None = None, row: int | None = None, column: str = ""
    ) -> None:
        super().__init__(message)
        #: the dataset file, the data row (1 is the first row after the header) and the
        #: column label of the cell, when known
        self.file = file
        self.row = row
        self.column = column


class FlaggingDisabledError(FlaggingError):
    """Raised when flagging is requested on an interface whose mode is ``"never"``."""


class NotRunningError(FlaggingError):
    """Raised when an interface is used outside ``async with iface:``."""


class WrongThreadError(FlaggingError):
    """Raised when an interface (or a receipt) is used outside the event loop thread it
    runs in: from a worker thread, a plain thread or another event loop.

    Nothing was queued and nothing changed: the interface goes on working. From a
    worker thread started by ``anyio.to_thread.run_sync``, call
    ``anyio.from_thread.run(iface.flag, values)``; from any other thread, pass the
    loop's token (``anyio.lowlevel.current_token()``, taken in the loop) as ``token=``.
    """


class QueueFullError(FlaggingError):
    """Raised by the ``*_nowait`` calls when the bounded queue has no room.

    Only raised with ``overflow="wait"``; the awaiting twins wait for room instead.
    """


class FlagDroppedError(FlaggingError):
    """Set on a receipt whose event was dropped because the queue was full (``overflow="drop"``)."""


class FlagWriteError(FlaggingError):
    """A row could not be written: the disk, a file save or the flagging callback failed.

    The original exception is chained as ``__cause__``; ``os_error`` holds it when it
    is an :class:`OSError` (``ENOSPC``, ``EIO``...).
    """

    @property
    def os_error(self) -> OSError | None:
        cause = self.__cause__
        return cause if isinstance(cause, OSError) else None


def as_write_error(exc: Exception) -> Exception:
    """The error a receipt gets for a row that ``exc`` kept from being written.

    asyncflag's own errors pass through; anything else (an ``OSError`` from the
    disk, a bug in a callback) is wrapped in :class:`FlagWriteError`.
    """
    if isinstance(exc, FlaggingError):
        return exc
    error = FlagWriteError(f"the row was not written: {exc!r}")
    error.__cause__ = exc
    return error


class MissingExtraError(FlaggingError, ImportError):
    """A call needs an optional extra that is not installed, e.g. ``iface.app()``
    without ``asyncflag[web]``; the message names the extra and how to install it."""


class UnknownConversationError(FlagValueError):
    """Raised for a conversation id or a message id that a :class:`~asyncflag.ChatInterface`
    does not know: never started here, forgotten (the oldest conversations go past
    ``max_conversations`` or ``max_bytes``), or mistyped."""


class ConversationAccessError(FlaggingError):
    """Raised when a user reads, writes to or gives feedback on another user's conversation."""


class ConversationBusyError(FlaggingError):
    """Raised when a message is sent to a conversation whose previous reply is still coming."""


class ChatReplyError(FlaggingError):
    """The chat function failed (raised, or returned something that is not text).

    The original exception is chained as ``__cause__``. The user's message stays in
    the conversation, as in Gradio; no assistant message is added.
    """


_E = TypeVar("_E", bound=BaseException)


def without_frames(error: _E) -> _E:
    """Let ``error``, and the errors behind it (``__cause__``, ``__context__``, a group's
    members), hold no frames: each traceback is kept as text in a note
    (``__notes__``, printed with the error) and dropped.

    A receipt keeps the error of a row that was not written. Rows are not tracked by
    the cycle collector (see :class:`~asyncflag.FlagRow`), so a cycle through one is
    never freed; a traceback holds the frames the error passed, and those held the
    batch, that is the rows. Dropping the frames leaves no such cycle.

    :return: ``error`` itself
    """
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        exc = pending.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        if exc.__traceback__ is not None:
            lines = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
            exc.add_note(f"Traceback (most recent call last), kept as text:\n{lines}")
            exc.__traceback__ = None
        pending.extend(b for b in (exc.__cause__, exc.__context__) if b is not None)
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
    return error
