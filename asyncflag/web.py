"""The web face: an ASGI app (Starlette) with a page, a JSON API and optional Basic auth.

``iface.app()`` builds it. The page is generated from the interface's components; the
API takes values in and gives ``{id, data}`` out, and flags only predictions this
server made, by id, with the username of the authenticated request (never one from
the body). Bad requests get a 4xx with a JSON error and never reach the writer.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import mimetypes
import secrets
from collections.abc import Callable, Iterable, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
from starlette.applications import Starlette
from starlette.authentication import SimpleUser
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .components import Component, FileComponent, FileData
from .errors import (
    FlaggingDisabledError,
    FlaggingError,
    FlagValueError,
    NotRunningError,
    QueueFullError,
    UnknownPredictionError,
)

if TYPE_CHECKING:
    from .interface import Interface

__all__ = ["Auth", "create_app"]

#: ``("user", "password")``, a list of such pairs, or ``check(user, password) -> bool``
Auth = tuple[str, str] | Sequence[tuple[str, str]] | Callable[[str, str], bool]

_STATIC = Path(__file__).parent / "static"


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_app(
    iface: Interface,
    *,
    auth: Auth | None = None,
    max_body_size: int = 10 * 2**20,
    max_output_file_size: int = 20 * 2**20,
) -> Starlette:
    """Build the ASGI app of ``iface``; its lifespan runs the interface.

    :param auth: require HTTP Basic auth; the user's name is stored with their flags
    :param max_body_size: the largest request body accepted, in bytes (413 past it)
    :param max_output_file_size: the largest output file sent back inline to the page
    """
    api = _API(iface, max_body_size, max_output_file_size)
    app = Starlette(
        routes=[
            Route("/", api.page, methods=["GET"]),
            Route("/api/config", api.config, methods=["GET"]),
            Route("/api/stats", api.stats, methods=["GET"]),
            Route("/api/predict", api.predict, methods=["POST"]),
            Route("/api/flag", api.flag, methods=["POST"]),
        ],
        lifespan=iface.lifespan,
    )
    if auth is not None:
        app.add_middleware(BasicAuthMiddleware, check=_auth_check(auth))
    return app


class _API:
    def __init__(self, iface: Interface, max_body_size: int, max_output_file_size: int) -> None:
        self.iface = iface
        self.max_body_size = max_body_size
        self.max_output_file_size = max_output_file_size

    async def page(self, request: Request) -> Response:
        return HTMLResponse(render_page(self.iface, str(request.scope.get("root_path", ""))))

    async def config(self, request: Request) -> Response:
        return JSONResponse(interface_config(self.iface))

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.iface.stats.as_dict())

    async def predict(self, request: Request) -> Response:
        try:
            values = await self._input_values(request)
            try:
                prediction = await self.iface.submit(*values)
            except FlaggingError:
                raise
            except Exception as exc:  # the model failed, not the request
                return JSONResponse(
                    {"error": f"the prediction failed: {type(exc).__name__}"}, status_code=500
                )
            data = [
                await _to_client(component, value, self.max_output_file_size)
                for component, value in zip(
                    self.iface.output_components, prediction.outputs, strict=True
                )
            ]
        except (_HTTPError, FlaggingError) as exc:
            return _error_response(exc)
        return JSONResponse({"id": prediction.id, "data": data})

    async def flag(self, request: Request) -> Response:
        try:
            body = await _read_body(request, self.max_body_size)
            payload = _decode_json(body)
            if not isinstance(payload, dict):
                raise _HTTPError(400, 'expected a JSON object {"id": ..., "option": ...}')
            prediction_id = payload.get("id")
            option = payload.get("option")
            if not isinstance(prediction_id, str):
                raise _HTTPError(400, '"id" must be the id of a prediction this server made')
            if option is not None and not isinstance(option, str):
                raise _HTTPError(400, '"option" must be a string or null')
            count = await self.iface.flag(prediction_id, option=option, username=_username(request))
        except (_HTTPError, FlaggingError) as exc:
            return _error_response(exc)
        return JSONResponse({"count": count})

    async def _input_values(self, request: Request) -> list[Any]:
        body = await _read_body(request, self.max_body_size)
        components = self.iface.input_components
        content_type = request.headers.get("content-type", "")
        uploads: dict[int, FileData] = {}
        if content_type.startswith("multipart/form-data"):
            form = await _replayed(request, body).form(max_files=len(components) + 1)
            raw = form.get("data")
            data = _decode_json(raw.encode() if isinstance(raw, str) else b"[]")
            for index in range(len(components)):
                upload = form.get(f"file{index}")
                if isinstance(upload, UploadFile):
                    uploads[index] = FileData(await upload.read(), upload.filename or "")
            await form.close()
        else:
            payload = _decode_json(body)
            data = payload.get("data") if isinstance(payload, dict) else payload
        if not isinstance(data, list):
            raise _HTTPError(400, 'expected {"data": [one value per input]}')
        if len(data) < len(components):
            data = data + [None] * (len(components) - len(data))
        if len(data) != len(components):
            raise _HTTPError(400, f"expected {len(components)} input values, got {len(data)}")
        values = []
        for index, (component, value) in enumerate(zip(components, data, strict=True)):
            if isinstance(component, FileComponent):
                # Only uploads: a string here would name a file on the server.
                if value is not None:
                    raise _HTTPError(
                        400, f"input {component.label!r} takes a file upload (field file{index})"
                    )
                values.append(uploads.get(index))
            else:
                values.append(value)
        return values


def _error_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, _HTTPError):
        status, message = exc.status, exc.message
    elif isinstance(exc, UnknownPredictionError):
        status, message = 404, str(exc)
    elif isinstance(exc, FlagValueError):
        status, message = 400, str(exc)
    elif isinstance(exc, FlaggingDisabledError):
        status, message = 403, str(exc)
    elif isinstance(exc, NotRunningError | QueueFullError):
        status, message = 503, str(exc)
    else:  # the disk or the callback failed: the server's fault, and it says so
        status, message = 503, f"the flag was not saved: {exc}"
    return JSONResponse({"error": message}, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise _HTTPError(400, "bad Content-Length")
        if int(length) > limit:
            raise _HTTPError(413, f"the request body is over the limit of {limit} bytes")
    chunks = []
    size = 0
    async with aclosing(request.stream()) as stream:
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                raise _HTTPError(413, f"the request body is over the limit of {limit} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


def _replayed(request: Request, body: bytes) -> Request:
    """A request whose body is ``body``, already read and checked against the limit."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


def _decode_json(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise _HTTPError(400, f"the body is not valid JSON: {exc}") from None


def _username(request: Request) -> str | None:
    user = request.scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        name = getattr(user, "display_name", None)
        return str(name) if name else None
    return None


async def _to_client(component: Component, value: Any, limit: int) -> Any:
    """An output value as the page shows it: files become data URLs, so they render."""
    if not isinstance(component, FileComponent) or value is None:
        return value

    def encode() -> str | None:
        payload, suffix = component.payload(value)
        data = payload if isinstance(payload, bytes) else payload.read_bytes()
        if len(data) > limit:
            return None
        mime = mimetypes.guess_type("x" + suffix)[0] or "application/octet-stream"
        return f"data:{mime};base64,{base64.b64encode(data).decode()}"

    return await anyio.to_thread.run_sync(encode)


def interface_config(iface: Interface) -> dict[str, Any]:
    return {
        "title": iface.title,
        "description": iface.description,
        "inputs": [c.config() for c in iface.input_components],
        "outputs": [c.config() for c in iface.output_components],
        "flagging_mode": iface.flagging_mode,
        "flagging_options": [[label, value] for label, value in iface.flagging_options],
    }


# -- auth ------------------------------------------------------------------------------


def _auth_check(auth: Auth) -> Callable[[str, str], bool]:
    if callable(auth):
        return auth
    single = isinstance(auth, tuple) and len(auth) == 2 and isinstance(auth[0], str)
    pairs: Iterable[Any] = [auth] if single else auth
    accounts = {}
    for pair in pairs:
        if not (
            isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            raise FlagValueError("auth must be (user, password), a list of them, or a function")
        accounts[pair[0]] = pair[1]

    def check(user: str, password: str) -> bool:
        expected = accounts.get(user)
        # compare even for an unknown user, so timing does not tell which names exist
        return secrets.compare_digest((expected or "\0").encode(), password.encode()) and (
            expected is not None
        )

    return check


class BasicAuthMiddleware:
    """HTTP Basic authentication for every route, as Gradio's ``launch(auth=...)``.

    Sets ``scope["user"]`` to a :class:`~starlette.authentication.SimpleUser`, the
    same place Starlette's ``AuthenticationMiddleware`` puts it.
    """

    def __init__(self, app: ASGIApp, check: Callable[[str, str], bool]) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        user = self._user(dict(scope["headers"]).get(b"authorization", b""))
        if user is None:
            response = JSONResponse(
                {"error": "authentication required"},
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="asyncflag"'},
            )
            await response(scope, receive, send)
            return
        scope["user"] = SimpleUser(user)
        await self.app(scope, receive, send)

    def _user(self, header: bytes) -> str | None:
        scheme, _, encoded = header.partition(b" ")
        if scheme.lower() != b"basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user if self.check(user, password) else None


# -- the page ----------------------------------------------------------------------------


def render_page(iface: Interface, root_path: str = "") -> str:
    """The page for ``iface``: a control per input, Submit, the outputs, the flag buttons."""
    title = html.escape(str(iface.title or getattr(iface.fn, "__name__", "asyncflag")))
    inputs = "\n".join(_input_control(i, c) for i, c in enumerate(iface.input_components))
    outputs = "\n".join(
        f'<div class="field"><label>{html.escape(c.label or "")}</label>'
        f'<div class="output" data-index="{i}" data-type="{type(c).__name__.lower()}"></div></div>'
        for i, c in enumerate(iface.output_components)
    )
    if iface.flagging_mode == "manual":
        buttons = "\n".join(
            '<button type="button" class="flag" disabled '
            f'data-option="{html.escape(json.dumps(value))}">{html.escape(label)}</button>'
            for label, value in iface.flagging_options
        )
        flagging = f'<div id="flagging">{buttons}<p id="flag-status" role="status"></p></div>'
    elif iface.flagging_mode == "auto":
        flagging = (
            '<p id="auto-notice">Every submission is logged automatically '
            "(inputs and outputs) for review.</p>"
        )
    else:
        flagging = ""
    description = f"<p>{html.escape(iface.description)}</p>" if iface.description else ""
    template = (_STATIC / "page.html").read_text(encoding="utf-8")
    return (
        template.replace("{{title}}", title)
        .replace("{{description}}", description)
        .replace("{{inputs}}", inputs)
        .replace("{{outputs}}", outputs)
        .replace("{{flagging}}", flagging)
        .replace("{{root}}", html.escape(root_path))
    )


def _input_control(index: int, component: Component) -> str:
    kind = type(component).__name__.lower()
    label = html.escape(component.label or f"input {index}")
    name = f'id="in{index}" data-index="{index}" data-type="{kind}"'
    if kind == "number":
        control = f'<input type="number" step="any" {name}>'
    elif kind == "checkbox":
        control = f'<input type="checkbox" {name}>'
    elif kind == "dropdown":
        choices = getattr(component, "choices", [])
        multiple = " multiple" if getattr(component, "multiselect", False) else ""
        opts = "".join(
            f'<option value="{html.escape(json.dumps(value))}">{html.escape(text)}</option>'
            for text, value in choices
        )
        control = f"<select {name}{multiple}>{opts}</select>"
    elif isinstance(component, FileComponent):
        accept = {"image": "image/*", "audio": "audio/*"}.get(kind, "")
        control = f'<input type="file" accept="{accept}" {name}>'
    else:  # text, json
        control = f'<textarea rows="3" {name}></textarea>'
    return f'<div class="field"><label for="in{index}">{label}</label>{control}</div>'
