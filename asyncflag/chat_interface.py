"""Chat: :class:`ChatInterface`, feedback on its messages, and :class:`ChatCSVLogger`.

A :class:`ChatInterface` runs a chat function as Gradio's does (``fn(message,
history, *additional_values)`` returning the reply, or a generator streaming it) and
keeps each conversation in memory. Feedback on an assistant message (like, dislike,
another option, a comment; changed or withdrawn later) is a row of the chat dataset,
written by asyncflag's pipeline like any flag: the same loggers, the same Redis
transport, the same several-process lock.

The chat dataset (``datasetN.csv``, written by :class:`~asyncflag.CSVLogger`) has the
columns ``conversation`` (:class:`~asyncflag.Chatbot`: the messages up to and including
the assistant message), ``index`` (that message's place in the conversation, from 0),
one column per additional input (its value in that exchange), ``comment``,
``feedback_id``, then ``flag``, ``username`` and ``timestamp``:

- a **feedback row** has a ``feedback_id`` (the same for one user, conversation and
  message) and the option given as ``flag``; changing one's mind appends a row with
  the same ``feedback_id``; **undo** appends one with an empty ``flag``;
- in ``flagging_mode="auto"`` every reply also appends an **exchange row**: empty
  ``feedback_id``, ``comment`` and ``flag``.

:func:`~asyncflag.load_flagged` gives the current state of such a dataset by default:
exchange rows, and for each ``feedback_id`` its last row unless that one withdrew it
(``load_flagged(dir, history=True)`` gives every row).
"""

from __future__ import annotations

import copy
import csv
import fcntl
import functools
import hashlib
import inspect
import io
import logging
import os
import secrets
import tempfile
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Sequence
from contextlib import aclosing, asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from threading import Lock
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import anyio
import msgspec

from .checks import is_async_callable, positive_int, writable_text
from .components import Chatbot, Component, FileComponent, Number, Textbox, component_from
from .errors import (
    ChatReplyError,
    ConversationAccessError,
    ConversationBusyError,
    FlaggingDisabledError,
    FlaggingError,
    FlagValueError,
    NotRunningError,
    QueueFullError,
    UnknownConversationError,
)
from .escaping import escape, escape_optional
from .events import FlagReceipt
from .interface import Interface
from .modes import FlaggingMode, resolve_flagging_options
from .pipeline import FlagStatistics
from .read import CHAT_LOG_HEADER, load_flagged
from .sinks import CSVLogger, FlaggingCallback
from .sinks.records import read_records
from .transport import RedisStream

if TYPE_CHECKING:
    from starlette.applications import Starlette

logger = logging.getLogger("asyncflag")

__all__ = [
    "CHAT_LOG_HEADER",
    "ChatCSVLogger",
    "ChatInterface",
    "ChatReply",
    "ChatUpdate",
    "Feedback",
    "conversation_key",
    "feedback_id",
    "message_id",
    "resolve_chat_flagging_mode",
]

#: the environment variables read, in order, when ``flagging_mode`` is ``None``
CHAT_MODE_ENV_VARS = ("ASYNCFLAG_CHAT_FLAGGING_MODE", "GRADIO_CHAT_FLAGGING_MODE")
#: the labels of the chat dataset's own columns
CONVERSATION, INDEX, COMMENT, FEEDBACK_ID = "conversation", "index", "comment", "feedback_id"
#: the longest comment accepted, in characters
MAX_COMMENT_LENGTH = 10_000
#: the longest idempotency key accepted, in characters
MAX_KEY_LENGTH = 200
_MESSAGE_ID_SEPARATOR = ":"


class ChatReply(msgspec.Struct, frozen=True):
    """A whole reply, as :meth:`ChatInterface.send` returns it."""

    #: the id to give feedback on this message with (:meth:`ChatInterface.feedback`)
    message_id: str
    #: the message's place in the conversation (0 is the first user message)
    index: int
    content: str


class ChatUpdate(msgspec.Struct, frozen=True):
    """One step of a streamed reply (:meth:`ChatInterface.stream`)."""

    message_id: str
    index: int
    #: the whole reply so far (not only what is new), as Gradio's generators yield it
    content: str
    #: ``True`` on the last update, once the reply is complete and kept
    done: bool


class Feedback(msgspec.Struct, frozen=True):
    """The current feedback on one message (:meth:`ChatInterface.feedback_state`)."""

    #: the flagging option's value (``"Like"``, ``"Dislike"``...)
    value: str
    comment: str | None
    username: str | None
    #: when it was given (UTC): taken as the call was accepted, a few microseconds
    #: before the row's own timestamp; after a restart, the row's
    timestamp: datetime


@dataclass(eq=False)
class _Conversation:
    id: str
    owner: str | None
    #: ``sha256`` of the id and owner: the first part of every ``feedback_id``
    key: str
    messages: list[dict[str, str]] = field(default_factory=list)
    #: the additional inputs' values of the exchange of each assistant message
    extras: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    feedback: dict[int, Feedback] = field(default_factory=dict)
    busy: bool = False
    size: int = 0


def conversation_key(conversation_id: str, username: str | None) -> str:
    """The hash that starts the ``feedback_id`` of every message of a user's conversation.

    One-way: the dataset never holds a conversation id (a capability: whoever knows it
    may read the conversation), and a reader of the dataset cannot derive one.
    """
    owner = "n" if username is None else "u" + username
    digest = hashlib.sha256(f"{conversation_id}\0{owner}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


def message_id(conversation_id: str, index: int) -> str:
    """The id of the message at ``index`` of a conversation, as :class:`ChatReply` and
    :class:`ChatUpdate` give it: ``<conversation id>:<index>``."""
    return f"{conversation_id}{_MESSAGE_ID_SEPARATOR}{index}"


def feedback_id(conversation_id: str, index: int, username: str | None) -> str:
    """The ``feedback_id`` of a user's feedback on one message: ``<conversation key>-<index>``.

    The same for every row about that message by that user, so a later row supersedes
    an earlier one.
    """
    return f"{conversation_key(conversation_id, username)}-{index}"


class ChatInterface:
    """A chat function with a conversation store and feedback on its messages.

    ``fn(message, history, *additional_values)``, as in Gradio: ``history`` is the
    conversation before ``message`` as ``[{"role": "user" | "assistant", "content":
    str}]``; ``fn`` is sync (run in a worker thread) or async and returns the reply
    text, or is a (sync or async) generator yielding the reply so far, each yield the
    whole text up to then.

    Use it as an async context manager (``async with chat:``), or through
    :meth:`lifespan` in a web app. Conversations are kept in memory, bounded by count
    and by bytes: the least recently used are forgotten first. Each belongs to the
    ``username`` that started it: another username can neither read it, nor send to it,
    nor give feedback on it (:class:`~asyncflag.errors.ConversationAccessError`).

    When ``fn`` fails (raises, or gives something that is not text), the reply fails
    with :class:`~asyncflag.errors.ChatReplyError` (the cause chained); the user's
    message stays in the conversation and no assistant message is added, as in Gradio.
    A streamed reply the caller stops reading is kept as far as it went (as Gradio's
    stop button keeps it).

    On start (default :class:`~asyncflag.CSVLogger`, no transport), the feedback rows of
    ``flagging_dir`` are read back: a conversation known there (by the hash of its id
    and its user) comes back on its first use after a restart, with its feedback state
    and its messages as far as its longest feedback row; the most recent
    ``max_conversations`` are kept. The whole dataset is read once, in a worker thread.

    :param fn: the chat function
    :param additional_inputs: components (or shortcut strings) whose values follow
        ``message`` and ``history`` in ``fn``'s arguments, each as its component hands
        it over (a Dataframe as a pandas table...); the checked values are stored with
        the feedback on the exchange. File components are not supported here
    :param flagging_mode: ``"never"`` (no feedback: :meth:`feedback` raises
        :class:`~asyncflag.errors.FlaggingDisabledError`), ``"manual"`` (feedback rows)
        or ``"auto"`` (feedback rows, and an exchange row per reply); ``None`` reads
        ``ASYNCFLAG_CHAT_FLAGGING_MODE``, then ``GRADIO_CHAT_FLAGGING_MODE``, then uses
        ``"never"``, Gradio's default
    :param flagging_options: the feedback values; ``"Like"`` and ``"Dislike"`` are shown
        as thumbs, others in a flag menu (strings, or ``(label, value)`` pairs)
    :param flagging_dir: where the chat dataset goes
    :param flagging_callback: where rows go: a :class:`~asyncflag.CSVLogger` by default,
        :class:`ChatCSVLogger` for Gradio's ``log.csv``, or any flagging callback
    :param title: shown on the page
    :param description: shown on the page
    :param max_message_length: the longest user message, in characters
    :param max_reply_length: the longest reply ``fn`` may give, in characters
    :param max_conversations: how many conversations are kept
    :param max_bytes: how many bytes of message text all kept conversations may hold
    :param cache_size: how many idempotency keys are remembered
    :param transport: a :class:`~asyncflag.RedisStream` to send rows to instead
    :param interface_options: passed on to the :class:`~asyncflag.Interface` that
        writes the rows (``max_pending``, ``overflow``, ``max_batch``,
        ``shutdown_timeout``)
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        additional_inputs: Component | str | Sequence[Component | str] | None = None,
        flagging_mode: str | None = None,
        flagging_options: Sequence[str] | Sequence[tuple[str, str]] = ("Like", "Dislike"),
        flagging_dir: str | os.PathLike[str] = "flagged",
        flagging_callback: Any = None,
        title: str | None = None,
        description: str | None = None,
        max_message_length: int = 10_000,
        max_reply_length: int = 100_000,
        max_conversations: int = 1024,
        max_bytes: int = 64 * 2**20,
        cache_size: int = 1024,
        transport: RedisStream | None = None,
        **interface_options: Any,
    ) -> None:
        if not callable(fn):
            raise FlagValueError(f"fn must be callable, got {fn!r}")
        self.fn = fn
        self.flagging_mode: FlaggingMode = resolve_chat_flagging_mode(flagging_mode)
        resolved = resolve_flagging_options(flagging_options)
        if not resolved or any(not value for _, value in resolved):
            raise FlagValueError(
                "flagging_options must be a non-empty list of non-empty strings (or of "
                f"(label, value) pairs with a value), got {flagging_options!r}"
            )
        self.flagging_options: list[tuple[str, str]] = [
            (label, cast("str", value)) for label, value in resolved
        ]
        self._option_values = frozenset(value for _, value in self.flagging_options)
        self.additional_inputs = _additional(additional_inputs)
        for name, limit in (
            ("max_message_length", max_message_length),
            ("max_reply_length", max_reply_length),
            ("max_conversations", max_conversations),
            ("max_bytes", max_bytes),
            ("cache_size", cache_size),
        ):
            positive_int(name, limit)
        self.max_message_length = max_message_length
        self.max_reply_length = max_reply_length
        self.max_conversations = max_conversations
        self.max_bytes = max_bytes
        self.cache_size = cache_size
        self.title = title
        self.description = description
        self.flagging_dir = Path(flagging_dir)
        self._conversation_component = Chatbot(CONVERSATION)
        #: the additional inputs that hand ``fn`` something else than the checked value
        self._preprocessors = [
            (index, component)
            for index, component in enumerate(self.additional_inputs)
            if type(component).preprocess is not Component.preprocess
        ]
        #: the dataset's value columns: conversation, index, additional inputs, comment, id
        self.components: list[Component] = [
            self._conversation_component,
            Number(INDEX, precision=0),
            *self.additional_inputs,
            Textbox(COMMENT),
            Textbox(FEEDBACK_ID),
        ]
        self._restore = (
            self.flagging_mode != "never"
            and transport is None
            and (flagging_callback is None or type(flagging_callback) is CSVLogger)
        )
        self._writer = Interface(
            _never_called,
            self.components,
            None,
            flagging_mode="never" if self.flagging_mode == "never" else "manual",
            flagging_dir=flagging_dir,
            flagging_callback=flagging_callback,
            cache_size=1,
            transport=transport,
            **interface_options,
        )
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()
        self._size = 0
        #: conversations read back from the dataset at start, by conversation key
        self._restored: dict[str, _Conversation] = {}
        #: idempotency keys: (username, key) → the first call's receipt
        self._keys: OrderedDict[tuple[str | None, str], FlagReceipt] = OrderedDict()

    # -- running -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the chat is inside ``async with``."""
        return self._writer.running

    @property
    def stats(self) -> FlagStatistics:
        """The row writer's counts of published, written, failed and pending rows."""
        return self._writer.stats

    async def __aenter__(self) -> ChatInterface:
        if self._restore:
            try:
                self._restored = await anyio.to_thread.run_sync(self._read_feedback)
            except (OSError, ValueError) as exc:  # unreadable: start without it, say why
                logger.warning(
                    "asyncflag: the feedback in %s was not read back (%r): feedback given "
                    "before this start is not shown",
                    self.flagging_dir,
                    exc,
                )
        await self._writer.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        try:
            await self._writer.__aexit__(exc_type, exc, traceback)
        finally:
            self._keys.clear()
        return None

    @asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """Run the chat for a host app: ``Starlette(lifespan=chat.lifespan)``."""
        async with self:
            yield

    def app(self, **options: Any) -> Starlette:
        """The ASGI app of the chat page and its API (``asyncflag.chat_web.create_chat_app``)."""
        from .chat_web import create_chat_app  # type: ignore[import-untyped,import-not-found,unused-ignore]

        return cast("Starlette", create_chat_app(self, **options))

    def launch(
        self, host: str = "127.0.0.1", port: int = 7860, *, log_level: str = "info", **options: Any
    ) -> None:
        """Serve :meth:`app` with uvicorn until interrupted; then write every accepted row."""
        import uvicorn

        uvicorn.run(self.app(**options), host=host, port=port, log_level=log_level)

    # -- conversations --------------------------------------------------------------

    def start(self, *, username: str | None = None) -> str:
        """Start a conversation for ``username`` and return its id (128 random bits).

        The id is all it takes to read the conversation when ``username`` is ``None``:
        give it only to the user who started it.
        """
        _check_username(username)
        conversation_id = secrets.token_hex(16)
        conversation = _Conversation(
            conversation_id, username, conversation_key(conversation_id, username)
        )
        self._keep(conversation)
        return conversation_id

    def history(self, conversation_id: str, *, username: str | None = None) -> list[dict[str, Any]]:
        """The messages of a conversation so far (a copy), as ``fn`` receives them.

        :raises UnknownConversationError: for an id not known here (or forgotten)
        :raises ConversationAccessError: for another user's conversation
        """
        conversation = self._conversation(conversation_id, username)
        return [dict(message) for message in conversation.messages]

    def feedback_state(
        self, conversation_id: str, *, username: str | None = None
    ) -> dict[int, Feedback]:
        """The current feedback on each message of a conversation: message index → feedback.

        Feedback given before a restart is read back from the dataset when the chat
        starts (with the default :class:`~asyncflag.CSVLogger` and no transport).

        :raises UnknownConversationError: for an id not known here (or forgotten)
        :raises ConversationAccessError: for another user's conversation
        """
        return dict(self._conversation(conversation_id, username).feedback)

    async def send(
        self,
        conversation_id: str,
        message: str,
        *additional_values: Any,
        username: str | None = None,
    ) -> ChatReply:
        """Send ``message`` and return the whole reply (a streaming ``fn`` is read to its end).

        :raises UnknownConversationError: for an id not known here (or forgotten)
        :raises ConversationAccessError: for another user's conversation
        :raises ConversationBusyError: while another reply of this conversation is coming
        :raises FlagValueError: for a message or values that cannot be taken
        :raises ChatReplyError: when ``fn`` fails
        """
        last: ChatUpdate | None = None
        async with aclosing(
            self.stream(conversation_id, message, *additional_values, username=username)
        ) as updates:
            async for update in updates:
                last = update
        assert last is not None and last.done
        return ChatReply(last.message_id, last.index, last.content)

    def stream(
        self,
        conversation_id: str,
        message: str,
        *additional_values: Any,
        username: str | None = None,
    ) -> AsyncGenerator[ChatUpdate, None]:
        """Send ``message`` and stream the reply: an update per step, the last with ``done``.

        The arguments are checked here, before anything is iterated. Iterate with
        ``async with contextlib.aclosing(chat.stream(...)) as updates:`` so that a
        stream left early is closed at once; the reply is then kept as far as it went.

        :raises UnknownConversationError: for an id not known here (or forgotten)
        :raises ConversationAccessError: for another user's conversation
        :raises FlagValueError: for a message or values that cannot be taken
        """
        self._writer_running()
        conversation = self._conversation(conversation_id, username)
        if not isinstance(message, str):
            raise FlagValueError(f"the message must be text (a str), got {type(message).__name__}")
        if len(message) > self.max_message_length:
            raise FlagValueError(
                f"the message has {len(message):,} characters, over the limit of "
                f"{self.max_message_length:,} (max_message_length): send a shorter one"
            )
        writable_text("the message", message)
        if len(additional_values) != len(self.additional_inputs):
            raise FlagValueError(
                f"expected {len(self.additional_inputs)} additional values (one per "
                f"additional input), got {len(additional_values)}"
            )
        extras = tuple(
            component.check(value)
            for component, value in zip(self.additional_inputs, additional_values, strict=True)
        )
        return self._reply(conversation, message, extras, username)

    async def _reply(
        self,
        conversation: _Conversation,
        message: str,
        extras: tuple[Any, ...],
        username: str | None,
    ) -> AsyncGenerator[ChatUpdate, None]:
        if conversation.busy:
            raise ConversationBusyError(
                "a reply of this conversation is still coming: wait for it to end "
                "(or stop reading it) before sending the next message"
            )
        self._writer_running()
        conversation.busy = True
        try:
            history = [dict(m) for m in conversation.messages]
            self._append(conversation, {"role": "user", "content": message})
            index = len(conversation.messages)
            reply_id = message_id(conversation.id, index)
            content: str | None = None
            try:
                async with aclosing(self._run_fn(message, history, extras)) as steps:
                    async for content in steps:
                        yield ChatUpdate(reply_id, index, content, False)
            except BaseException:
                if content is not None:  # stopped while streaming: keep what came
                    with suppress(FlagValueError):  # past max_bytes: then not kept
                        self._answer(conversation, content, extras)
                raise
            content = content or ""
            self._answer(conversation, content, extras)
            if self.flagging_mode == "auto":
                await self._log_exchange(conversation, index, extras, username)
            yield ChatUpdate(reply_id, index, content, True)
        finally:
            conversation.busy = False

    async def _run_fn(
        self, message: str, history: list[dict[str, str]], extras: tuple[Any, ...]
    ) -> AsyncGenerator[str, None]:
        """The reply so far, after each step of ``fn``; checked text."""
        fn = self.fn
        if self._preprocessors:
            extras = await self._preprocess(extras)
        try:
            if inspect.isasyncgenfunction(fn) or inspect.isasyncgenfunction(
                getattr(fn, "__call__", None)  # noqa: B004 - a callable object's method
            ):
                async with aclosing(fn(message, history, *extras)) as steps:
                    async for step in steps:
                        yield self._text(step)
                return
            if is_async_callable(fn):
                result = await fn(message, history, *extras)
            else:
                result = await anyio.to_thread.run_sync(
                    functools.partial(fn, message, history, *extras)
                )
            if inspect.isgenerator(result):
                generator = cast("Generator[Any, None, None]", result)
                try:
                    while True:
                        step = await anyio.to_thread.run_sync(next, generator, _END)
                        if step is _END:
                            break
                        yield self._text(step)
                finally:
                    generator.close()
                return
            yield self._text(result)
        except (ChatReplyError, anyio.get_cancelled_exc_class(), GeneratorExit):
            raise
        except Exception as exc:
            raise ChatReplyError(
                f"the chat function failed: {type(exc).__name__}: {exc}"[:1000]
            ) from exc

    async def _preprocess(self, extras: tuple[Any, ...]) -> tuple[Any, ...]:
        """The additional values as their components hand them to ``fn`` (a Dataframe's
        as a pandas table...), as :class:`~asyncflag.Interface` does."""
        values = list(extras)
        for index, component in self._preprocessors:
            if values[index] is None:
                continue
            call = functools.partial(component.preprocess, values[index], _TEMP)
            if component.preprocess_in_thread:
                values[index] = await anyio.to_thread.run_sync(call)
            else:
                values[index] = call()
        return tuple(values)

    def _text(self, value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ChatReplyError(
                "the chat function must return (or yield) the reply as text, got "
                f"{type(value).__name__}"
            )
        if len(value) > self.max_reply_length:
            raise ChatReplyError(
                f"the chat function's reply has {len(value):,} characters, over the limit "
                f"of {self.max_reply_length:,} (max_reply_length)"
            )
        try:
            writable_text("the reply", value)
        except FlagValueError as exc:
            raise ChatReplyError(str(exc)) from exc
        return value

    def _answer(self, conversation: _Conversation, content: str, extras: tuple[Any, ...]) -> None:
        self._append(conversation, {"role": "assistant", "content": content})
        conversation.extras[len(conversation.messages) - 1] = extras

    async def _log_exchange(
        self, conversation: _Conversation, index: int, extras: tuple[Any, ...], username: str | None
    ) -> None:
        values = [conversation.messages[: index + 1], index, *extras, None, None]
        try:
            self._writer.flag_nowait(values, None, username)
        except QueueFullError:
            await self._writer.flag(values, None, username)

    # -- feedback -----------------------------------------------------------------

    async def feedback(
        self,
        message_id: str,
        value: str,
        *,
        comment: str | None = None,
        username: str | None = None,
        key: str | None = None,
    ) -> int:
        """Give (or change) ``username``'s feedback on an assistant message; wait for its row.

        A later call on the same message replaces this one (a new row with the same
        ``feedback_id``). With ``key``, a call repeating an earlier call's key (within the
        last ``cache_size`` keys of this process) writes nothing and returns the first
        call's count: a double click or a retried request writes one row. A key whose
        first call failed may be used again.

        :param value: one of the flagging options' values
        :param comment: free text (``None`` or ``""``: none), at most 10,000 characters
        :return: the number of data rows in the dataset file once the row was added
        :raises FlaggingDisabledError: in ``never`` mode
        :raises UnknownConversationError: for a message id not known here
        :raises ConversationAccessError: for a message of another user's conversation
        :raises FlagValueError: for a value that is not an option, a bad comment or key
        """
        if not isinstance(value, str) or value not in self._option_values:
            allowed = ", ".join(repr(v) for v in sorted(self._option_values))
            raise FlagValueError(f"feedback value {value!r}"[:200] + f" is not one of {allowed}")
        if comment is not None:
            if not isinstance(comment, str):
                raise FlagValueError(f"comment must be text or None, got {type(comment).__name__}")
            if len(comment) > MAX_COMMENT_LENGTH:
                raise FlagValueError(
                    f"the comment has {len(comment):,} characters, over the limit of "
                    f"{MAX_COMMENT_LENGTH:,}: shorten it"
                )
            writable_text("the comment", comment)
            comment = comment or None
        return await self._feedback_row(message_id, value, comment, username, key)

    async def undo(
        self, message_id: str, *, username: str | None = None, key: str | None = None
    ) -> int:
        """Withdraw ``username``'s feedback on a message: a row with an empty flag.

        :return: the number of data rows in the dataset file once the row was added
        :raises FlagValueError: if the message has no feedback to withdraw
        """
        return await self._feedback_row(message_id, None, None, username, key)

    async def _feedback_row(
        self,
        message_id: str,
        value: str | None,
        comment: str | None,
        username: str | None,
        key: str | None,
    ) -> int:
        if self.flagging_mode == "never":
            raise FlaggingDisabledError(
                "feedback is disabled: this chat's flagging_mode is 'never' (pass "
                "flagging_mode='manual' or 'auto' to take feedback)"
            )
        if key is not None:
            if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
                raise FlagValueError(
                    f"key must be a non-empty string of at most {MAX_KEY_LENGTH} characters"
                )
            earlier = self._keys.get((username, key))
            if earlier is not None and not _failed(earlier):
                self._keys.move_to_end((username, key))
                return await earlier.wait()
        conversation, index = self._message(message_id, username)
        previous = conversation.feedback.get(index)
        if value is None and previous is None:
            raise FlagValueError(
                f"there is no feedback on message {index} to undo (none was given, or it "
                "was withdrawn already)"
            )
        values = [
            conversation.messages[: index + 1],
            index,
            *conversation.extras.get(index, (None,) * len(self.additional_inputs)),
            comment,
            feedback_id(conversation.id, index, username),
        ]
        receipt = self._writer.flag_nowait(values, value, username)
        if key is not None:
            self._keys[(username, key)] = receipt
            while len(self._keys) > self.cache_size:
                self._keys.popitem(last=False)
        current = None
        if value is None:
            conversation.feedback.pop(index, None)
        else:
            current = Feedback(value, comment, username, datetime.now(UTC))
            conversation.feedback[index] = current
        try:
            return await receipt.wait()
        except FlaggingError:
            if conversation.feedback.get(index) is current:  # nothing newer: put it back
                if previous is None:
                    conversation.feedback.pop(index, None)
                else:
                    conversation.feedback[index] = previous
            raise

    # -- the store --------------------------------------------------------------------

    def _writer_running(self) -> None:
        if not self._writer.running:
            raise NotRunningError(
                "the chat is not running: use it inside 'async with chat:' (or its lifespan)"
            )

    def _message(self, message_id: str, username: str | None) -> tuple[_Conversation, int]:
        if not isinstance(message_id, str) or len(message_id) > 100:
            raise UnknownConversationError(f"not a message id: {message_id!r}"[:200])
        conversation_id, _, number = message_id.rpartition(_MESSAGE_ID_SEPARATOR)
        if not number.isdigit() or not number.isascii() or len(number) > 9:
            raise UnknownConversationError(
                f"not a message id: {message_id!r} (a message id is what send() or "
                "stream() returned as message_id)"
            )
        conversation = self._conversation(conversation_id, username)
        index = int(number)
        if index >= len(conversation.messages) or conversation.messages[index]["role"] != (
            "assistant"
        ):
            raise UnknownConversationError(
                f"message {index} of this conversation is not an assistant reply: feedback "
                "is given on the replies (message ids from send() or stream())"
            )
        return conversation, index

    def _conversation(self, conversation_id: str, username: str | None) -> _Conversation:
        _check_username(username)
        if not isinstance(conversation_id, str) or len(conversation_id) > 64:
            raise UnknownConversationError(
                "not a conversation id: a conversation id is the text start() returned"
            )
        conversation = self._conversations.get(conversation_id)
        if conversation is None:
            restored = self._restored.pop(conversation_key(conversation_id, username), None)
            if restored is not None:
                restored.id, restored.owner = conversation_id, username
                self._keep(restored)
                return restored
            raise UnknownConversationError(
                f"no conversation has the id {conversation_id!r}"[:200]
                + f": it was not started here, or it was forgotten (the last "
                f"{self.max_conversations:,} conversations, up to {self.max_bytes:,} bytes "
                "of text, are kept); start a new one"
            )
        if conversation.owner != username:
            raise ConversationAccessError(
                "this conversation belongs to another user: only the user who started it "
                "may read it, send to it or give feedback on it"
            )
        self._conversations.move_to_end(conversation_id)
        return conversation

    def _keep(self, conversation: _Conversation) -> None:
        self._conversations[conversation.id] = conversation
        self._size += conversation.size
        self._forget_oldest()

    def _append(self, conversation: _Conversation, message: dict[str, str]) -> None:
        size = 64 + len(message["content"].encode("utf-8", "surrogatepass"))
        if conversation.size + size > self.max_bytes:
            raise FlagValueError(
                f"this conversation would hold more than {self.max_bytes:,} bytes of text "
                "(max_bytes): start a new conversation"
            )
        conversation.messages.append(message)
        conversation.size += size
        if self._conversations.get(conversation.id) is conversation:
            self._size += size
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        conversations = self._conversations
        while len(conversations) > self.max_conversations or (
            self._size > self.max_bytes and len(conversations) > 1
        ):
            _, oldest = conversations.popitem(last=False)
            self._size -= oldest.size

    def _read_feedback(self) -> dict[str, _Conversation]:
        """Feedback rows of the dataset: each conversation's messages and current feedback."""
        if not self.flagging_dir.is_dir():
            return {}
        restored: OrderedDict[str, _Conversation] = OrderedDict()
        for row in load_flagged(self.flagging_dir, history=True):
            labels = row.labels
            if FEEDBACK_ID not in labels or CONVERSATION not in labels or INDEX not in labels:
                continue
            fid = row.values[labels.index(FEEDBACK_ID)]
            key, _, number = str(fid or "").rpartition("-")
            if not key or not number.isdigit():
                continue
            index = int(number)
            try:
                messages = self._conversation_component.from_cell(
                    escape(row.values[labels.index(CONVERSATION)]), self.flagging_dir
                )
            except ValueError:
                continue
            conversation = restored.pop(key, None) or _Conversation("", None, key)
            restored[key] = conversation
            if len(messages) > len(conversation.messages):
                conversation.messages = messages
                conversation.size = sum(64 + len(m["content"].encode()) for m in messages)
            extras = []
            for component in self.additional_inputs:
                cell = (
                    row.values[labels.index(component.label)] if component.label in labels else ""
                )
                try:
                    extras.append(
                        component.check(component.from_cell(escape(cell), self.flagging_dir))
                    )
                except (ValueError, FlaggingError):
                    extras.append(None)
            conversation.extras[index] = tuple(extras)
            comment = row.values[labels.index(COMMENT)] if COMMENT in labels else None
            if row.flag:
                conversation.feedback[index] = Feedback(
                    row.flag,
                    comment or None,
                    row.username,
                    row.timestamp or datetime.now(UTC),
                )
            else:
                conversation.feedback.pop(index, None)
            while len(restored) > self.max_conversations:
                restored.popitem(last=False)
        return dict(restored)

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", repr(self.fn))
        return f"<ChatInterface {name} mode={self.flagging_mode!r}>"


class _End:
    pass


#: where a preprocess could write (no additional input does: file components are refused)
_TEMP = Path(tempfile.gettempdir())


_END = _End()


def _failed(receipt: FlagReceipt) -> bool:
    if not receipt.done():
        return False
    try:
        receipt.result()
    except FlaggingError:
        return True
    return False


def _never_called(*values: Any) -> None:  # pragma: no cover - the row writer's fn is never called
    raise AssertionError("unreachable")


def _check_username(username: Any) -> None:
    if username is not None:
        if not isinstance(username, str):
            raise FlagValueError(f"username must be a string or None, got {username!r}"[:200])
        writable_text("the username", username)


def _additional(spec: Component | str | Sequence[Component | str] | None) -> list[Component]:
    if spec is None:
        return []
    items = [spec] if isinstance(spec, Component | str) else list(spec)
    components = []
    taken = {CONVERSATION, INDEX, COMMENT, FEEDBACK_ID}
    for number, item in enumerate(items):
        component = component_from(item)
        if isinstance(component, FileComponent):
            raise FlagValueError(
                f"additional input {number}: {type(component).__name__} is a file component; "
                "a ChatInterface takes text, numbers, choices and data as additional inputs"
            )
        component = copy.copy(component)
        if component.label is None:
            component.label = f"additional input {number}"
        if component.label in taken:
            raise FlagValueError(
                f"additional input {number}: the label {component.label!r} is taken (the chat "
                f"dataset's columns are {', '.join(sorted(taken))}): give it another label"
            )
        taken.add(component.label)
        components.append(component)
    return components


def resolve_chat_flagging_mode(mode: str | None) -> FlaggingMode:
    """The chat's mode: the argument, else ``ASYNCFLAG_CHAT_FLAGGING_MODE``, else
    ``GRADIO_CHAT_FLAGGING_MODE``, else ``"never"`` (Gradio's default for chats).

    :raises FlagValueError: if the argument or the environment names another mode
    """
    source = "flagging_mode"
    if mode is None:
        for name in CHAT_MODE_ENV_VARS:
            value = os.environ.get(name)
            if value:
                mode, source = value.strip(), name
                break
        else:
            return "never"
    if mode not in ("manual", "auto", "never"):
        raise FlagValueError(f"{source} must be one of 'manual', 'auto' or 'never', got {mode!r}")
    return cast("FlaggingMode", mode)


class ChatCSVLogger(FlaggingCallback):
    """Feedback rows in Gradio's chat ``log.csv``: ``conversation, index, value, flag, timestamp``.

    Gradio's own ``ChatCSVLogger`` writes that five-column header over four-field rows
    (it leaves out ``value``); this one writes the five fields: the conversation as
    Gradio's messages JSON, the message index, the message's text, the feedback
    (empty for an undo or an exchange row) and the ISO 8601 UTC time. Pass it as
    ``ChatInterface(..., flagging_callback=ChatCSVLogger())``. Gradio's columns have no
    place for a comment, the additional inputs, the username or the ``feedback_id``:
    use the default :class:`~asyncflag.CSVLogger` to keep those.
    :func:`~asyncflag.load_flagged` reads this file back, and Gradio's four-field rows too.

    Rows are appended under an exclusive ``flock`` (several processes may share the
    file); cells are escaped reversibly against spreadsheet formulas.
    """

    def __init__(self) -> None:
        self.flagging_dir: Path | None = None
        self._conversation = 0
        self._index = 1
        self._chatbot = Chatbot(CONVERSATION)
        self._lock = Lock()
        self._count = 0
        self._known_size = -1

    @property
    def path(self) -> Path:
        """The ``log.csv`` file."""
        if self.flagging_dir is None:
            raise FlaggingError("ChatCSVLogger.setup() has not been called")
        return self.flagging_dir / "log.csv"

    def setup(self, components: Sequence[Component], flagging_dir: str) -> None:
        """Find the conversation and index columns; create the directory."""
        labels = [component.label for component in components]
        if CONVERSATION not in labels or INDEX not in labels:
            raise FlagValueError(
                "ChatCSVLogger logs chats: its components need a 'conversation' Chatbot and "
                f"an 'index' Number (a ChatInterface's), got the labels {labels!r}"
            )
        self._conversation, self._index = labels.index(CONVERSATION), labels.index(INDEX)
        self.flagging_dir = Path(flagging_dir)
        self.flagging_dir.mkdir(parents=True, exist_ok=True)

    def flag(
        self,
        flag_data: Sequence[Any],
        flag_option: str | None = None,
        username: str | None = None,
    ) -> int:
        """Append one row; return the number of rows in the file."""
        messages = self._chatbot.check(flag_data[self._conversation])
        index = int(flag_data[self._index])
        value = messages[index]["content"] if 0 <= index < len(messages) else ""
        buffer = io.StringIO()
        csv.writer(buffer).writerow(
            [
                self._chatbot.to_cell(messages),
                index,
                escape(value),
                escape_optional(flag_option),
                datetime.now(UTC).isoformat(),
            ]
        )
        data = buffer.getvalue().encode("utf-8", "surrogatepass")
        path = self.path
        with self._lock, open(path, "ab") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            try:
                size = os.fstat(file.fileno()).st_size
                if size != self._known_size:  # first row, or another process appended
                    records = read_records(path) if size else []
                    self._count = max(len(records) - 1, 0)
                    if not size:
                        header = io.StringIO()
                        csv.writer(header).writerow(CHAT_LOG_HEADER)
                        file.write(header.getvalue().encode())
                file.write(data)
                file.flush()
                self._known_size = os.fstat(file.fileno()).st_size
                self._count += 1
                return self._count
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)
