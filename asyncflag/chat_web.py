"""The chat page and its API: an ASGI app (Starlette) for a :class:`~asyncflag.ChatInterface`.

``chat.app()`` builds it with :func:`create_chat_app`. Routes, below the app's root:

- ``GET /``: the page (``static/chat.html``): the conversation, the reply streaming in,
  thumbs and a flag menu under each reply, a comment box, undo.
- ``GET /api/config``: title, description, flagging mode and options, the additional
  inputs, the message length limit.
- ``POST /api/start``: a new conversation: ``{"conversation_id"}``.
- ``GET /api/conversation/{conversation_id}``: ``{"conversation_id", "messages",
  "feedback"}``: the messages (each assistant message with its ``message_id``) and the
  feedback the user gave, by message index, for a page that reloads.
- ``POST /api/send``: ``{"conversation_id", "message", "data": [additional values]}``;
  the answer is a stream of Server-Sent Events (``text/event-stream``): one ``update``
  event per :class:`~asyncflag.ChatUpdate`, ``{"message_id", "index", "done"}`` with
  either ``"content"`` (the whole reply so far) or ``"append"`` (the text that follows the
  previous update's, when the reply only grew), or one ``error`` event (``{"error",
  "status"}``) ending the stream: 500 when the chat function fails, 409 when another
  reply of the conversation is still coming.
- ``POST /api/feedback``: ``{"message_id", "value", "comment", "key"}`` → ``{"count"}``.
- ``POST /api/undo``: ``{"message_id", "key"}`` → ``{"count"}``.

The protections are those of :mod:`asyncflag.web` (the same code): cross-site POSTs are
refused (403), JSON is taken only as ``application/json`` (415), bodies and JSON are
limited (413, 400), the username is the authenticated request's (never one from the
body), and a conversation is its user's (403 for another's, 404 for an unknown one).
An idempotency ``key`` is the chat's (:meth:`~asyncflag.ChatInterface.feedback`): kept
apart per user, so another user's key never stands for this one's feedback.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .chat_interface import message_id as id_of_message
from .errors import (
    ChatReplyError,
    ConversationAccessError,
    ConversationBusyError,
    FlaggingError,
    UnknownConversationError,
)
from .web import (
    Auth,
    RequestError,
    RequestGuard,
    add_basic_auth,
    component_assets,
    error_response,
    request_username,
)

if TYPE_CHECKING:
    from .chat_interface import ChatInterface, ChatUpdate

__all__ = ["THUMBS", "ChatApp", "chat_config", "create_chat_app", "render_chat_page"]

_STATIC = Path(__file__).parent / "static"
_PLACEHOLDER = re.compile(r"\{\{([a-z]+)\}\}")

#: the flagging options shown as thumbs up and down, as in Gradio; the others go in a menu
THUMBS = ("Like", "Dislike")


def create_chat_app(
    chat: ChatInterface,
    *,
    auth: Auth | None = None,
    max_body_size: int = 10 * 2**20,
    max_json_depth: int = 64,
    max_json_values: int = 100_000,
    trusted_origins: Sequence[str] = (),
) -> ChatApp:
    """Build the ASGI app of ``chat`` (the page and the API above); its lifespan runs it.

    The parameters are :func:`asyncflag.web.create_app`'s.

    :param auth: require HTTP Basic auth; the user's name is stored with their feedback,
        and a conversation can only be read, continued or rated by the user who started it
    :param max_body_size: the largest request body accepted, in bytes (413 past it)
    :param max_json_depth: how deeply arrays and objects may nest in a JSON body (400 past it)
    :param max_json_values: how many values a JSON body may hold (400 past it)
    :param trusted_origins: origins whose pages may post here besides this server's own
    :raises FlagValueError: for a bad limit
    """
    guard = RequestGuard(
        max_body_size=max_body_size,
        max_json_depth=max_json_depth,
        max_json_values=max_json_values,
        trusted_origins=trusted_origins,
    )
    api = _ChatAPI(chat, guard)
    app = ChatApp(
        chat,
        routes=[
            Route("/", api.page, methods=["GET"]),
            Route("/api/config", api.config, methods=["GET"]),
            Route("/api/start", api.start, methods=["POST"]),
            Route("/api/conversation/{conversation_id}", api.conversation, methods=["GET"]),
            Route("/api/send", api.send, methods=["POST"]),
            Route("/api/feedback", api.feedback, methods=["POST"]),
            Route("/api/undo", api.undo, methods=["POST"]),
        ],
        lifespan=chat.lifespan,
    )
    if auth is not None:
        add_basic_auth(app, auth)
    return app


class _ChatAPI:
    def __init__(self, chat: ChatInterface, guard: RequestGuard) -> None:
        self.chat = chat
        self.guard = guard

    async def page(self, request: Request) -> Response:
        return HTMLResponse(render_chat_page(self.chat, str(request.scope.get("root_path", ""))))

    async def config(self, request: Request) -> Response:
        return JSONResponse(chat_config(self.chat))

    async def start(self, request: Request) -> Response:
        try:
            self.guard.refuse_cross_site(request)
            conversation_id = self.chat.start(username=request_username(request))
        except (RequestError, FlaggingError) as exc:
            return _chat_error_response(exc)
        return JSONResponse({"conversation_id": conversation_id})

    async def conversation(self, request: Request) -> Response:
        conversation_id = request.path_params["conversation_id"]
        username = request_username(request)
        try:
            messages = self.chat.history(conversation_id, username=username)
            state = self.chat.feedback_state(conversation_id, username=username)
        except FlaggingError as exc:
            return _chat_error_response(exc)
        feedback = {
            str(index): {
                "value": given.value,
                "comment": given.comment,
                "timestamp": given.timestamp.isoformat(),
            }
            for index, given in state.items()
        }
        for index, message in enumerate(messages):
            if message.get("role") == "assistant":
                message["message_id"] = id_of_message(conversation_id, index)
        return JSONResponse(
            {"conversation_id": conversation_id, "messages": messages, "feedback": feedback}
        )

    async def send(self, request: Request) -> Response:
        username = request_username(request)
        try:
            payload = _object(
                await self.guard.read_json(request),
                '{"conversation_id": ..., "message": ..., "data": [...]}',
            )
            conversation_id = _text(payload, "conversation_id", "the id /api/start gave")
            message = _text(payload, "message", "the user's message")
            values = payload.get("data", [])
            if not isinstance(values, list):
                raise RequestError(
                    400, '"data" must be a list: one value per additional input, in order'
                )
            expected = len(self.chat.additional_inputs)
            if len(values) > expected:
                raise RequestError(
                    400, f'"data" holds {len(values)} values; expected {expected} at most'
                )
            values = values + [None] * (expected - len(values))
            # checks its arguments now (whose conversation, the message, the values): a
            # 4xx answer, not an event; a busy conversation is told by an error event
            updates = self.chat.stream(conversation_id, message, *values, username=username)
        except (RequestError, FlaggingError) as exc:
            return _chat_error_response(exc)
        return StreamingResponse(
            _events(updates),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def feedback(self, request: Request) -> Response:
        try:
            payload = _object(
                await self.guard.read_json(request),
                '{"message_id": ..., "value": ..., "comment": ..., "key": ...}',
            )
            message_id = _text(payload, "message_id", "the id of an assistant message")
            value = payload.get("value")
            if not isinstance(value, str):
                raise RequestError(400, '"value" must be one of the flagging options, a string')
            comment = payload.get("comment")
            if comment is not None and not isinstance(comment, str):
                raise RequestError(400, '"comment" must be a string or null')
            username = request_username(request)
            count = await self.chat.feedback(
                message_id,
                value,
                comment=comment or None,
                username=username,
                key=_key(payload),
            )
        except (RequestError, FlaggingError) as exc:
            return _chat_error_response(exc)
        return JSONResponse({"count": count})

    async def undo(self, request: Request) -> Response:
        try:
            payload = _object(
                await self.guard.read_json(request), '{"message_id": ..., "key": ...}'
            )
            message_id = _text(payload, "message_id", "the id of an assistant message")
            username = request_username(request)
            count = await self.chat.undo(message_id, username=username, key=_key(payload))
        except (RequestError, FlaggingError) as exc:
            return _chat_error_response(exc)
        return JSONResponse({"count": count})


class ChatApp(Starlette):
    """The ASGI app of a chat's page and API (a Starlette app); :attr:`chat` is its chat."""

    def __init__(self, chat: ChatInterface, **options: Any) -> None:
        super().__init__(**options)
        #: the :class:`~asyncflag.ChatInterface` this app serves
        self.chat = chat


def _object(payload: Any, shape: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise RequestError(400, f"expected a JSON object {shape}")
    return payload


def _text(payload: dict[str, Any], name: str, what: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str):
        raise RequestError(400, f'"{name}" must be a string: {what}')
    return value


def _key(payload: dict[str, Any]) -> str | None:
    """The client's idempotency key; the chat keeps keys apart per user."""
    key = payload.get("key")
    if key is not None and not isinstance(key, str):
        raise RequestError(
            400,
            '"key" must be a string or null (it names one user action, so that a retried '
            "request is saved once)",
        )
    return key


def _event(name: str, data: Any) -> bytes:
    """One Server-Sent Event; JSON has no raw line breaks, so ``data`` is one line."""
    return b"event: " + name.encode() + b"\ndata: " + msgspec.json.encode(data) + b"\n\n"


async def _events(updates: AsyncIterator[ChatUpdate]) -> AsyncIterator[bytes]:
    """The SSE body: an event per update, or an ``error`` event that ends the stream.

    An update whose text continues the previous one's is sent as ``"append"`` (the new
    text only), so a long reply streamed in many steps costs its length on the wire, not
    its length times the steps; any other update sends the whole ``"content"``.

    Runs wholly in the task that sends the response, so a client that goes away
    cancels it (and the chat's stream, which is closed here) at its next step.
    """
    sent: str | None = None
    try:
        async for update in updates:
            data: dict[str, Any] = {
                "message_id": update.message_id,
                "index": update.index,
                "done": update.done,
            }
            if sent is not None and update.content.startswith(sent):
                data["append"] = update.content[len(sent) :]
            else:
                data["content"] = update.content
            sent = update.content
            yield _event("update", data)
    except ChatReplyError as exc:
        # fn's own exception is named, not quoted (its text may hold the server's
        # secrets, as web.py's predictions); asyncflag's checks of the reply are quoted
        cause = exc.__cause__
        reason = (
            str(exc)
            if cause is None or isinstance(cause, FlaggingError)
            else (f"the chat function raised {type(cause).__name__}")
        )
        yield _event("error", {"error": f"the reply failed: {reason}", "status": 500})
    except FlaggingError as exc:  # refused once the stream began (a limit, a busy chat)
        response = _chat_error_response(exc)
        yield _event(
            "error",
            {"error": json.loads(bytes(response.body))["error"], "status": response.status_code},
        )
    except Exception as exc:  # anything else: the server's fault, said without details
        yield _event("error", {"error": f"the reply failed: {type(exc).__name__}", "status": 500})
    finally:
        close = getattr(updates, "aclose", None)
        if close is not None:
            await close()


def _chat_error_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, UnknownConversationError):
        status, message = 404, str(exc)
    elif isinstance(exc, ConversationAccessError):
        status, message = 403, str(exc)
    elif isinstance(exc, ConversationBusyError):
        status, message = 409, str(exc)
    else:
        return error_response(exc)
    return JSONResponse({"error": message}, status_code=status)


def chat_config(chat: ChatInterface) -> dict[str, Any]:
    """What ``/api/config`` (and the page) says about ``chat``."""
    options = [[label, value] for label, value in chat.flagging_options]
    return {
        "title": chat.title,
        "description": chat.description,
        "flagging_mode": chat.flagging_mode,
        "flagging_options": options,
        # the options shown as thumbs (by value, as Gradio's "Like" and "Dislike"), and
        # the others, in the flag menu
        "thumbs": [value for thumb in THUMBS for _, value in options if value == thumb],
        "menu_options": [[label, value] for label, value in options if value not in THUMBS],
        "additional_inputs": [component.config() for component in chat.additional_inputs],
        "max_message_length": chat.max_message_length,
    }


def render_chat_page(chat: ChatInterface, root_path: str = "") -> str:
    """The chat page of ``chat``: ``static/chat.html`` with its title, inputs and config."""
    title = html.escape(str(chat.title or "Chat"))
    description = f"<p>{html.escape(chat.description)}</p>" if chat.description else ""
    inputs = "\n".join(c.input_html(i) for i, c in enumerate(chat.additional_inputs))
    if inputs:
        inputs = f'<details id="additional"><summary>Additional inputs</summary>{inputs}</details>'
    scripts, styles = component_assets(chat.additional_inputs)
    config = {**chat_config(chat), "root": root_path}
    parts = {
        "title": title,
        "description": description,
        "inputs": inputs,
        # inside <script type="application/json">: no "<" may close the element
        "config": json.dumps(config).replace("<", "\\u003c"),
        "scripts": "\n".join(f"<script>\n{script}\n</script>" for script in scripts),
        "styles": "\n".join(styles),
    }
    template = (_STATIC / "chat.html").read_text(encoding="utf-8")
    return _PLACEHOLDER.sub(lambda match: parts[match[1]], template)
