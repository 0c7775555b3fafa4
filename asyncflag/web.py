"""The web face: an ASGI app (Starlette) with a page, a JSON API and optional Basic auth.

``iface.app()`` builds it. The page is generated from the interface's components; the
API takes values in and gives ``{id, data}`` out, and flags only predictions this
server made, by id, with the username of the authenticated request (never one from
the body). Bad requests get a 4xx with a JSON error and never reach the writer.

Cross-site requests. A browser sends a logged-in user's Basic credentials with any
request to this server, including one a form on another site makes. So the POST
routes refuse (403) a request that a browser marks as coming from another site, as
Go's ``net/http.CrossOriginProtection`` does: by its ``Sec-Fetch-Site`` header (sent
by every current browser, and which a page cannot set) when present, anything but
``same-origin`` or ``none`` being refused; otherwise by its ``Origin`` header, which
must name the request's ``Host`` (host and port, not the scheme, so a proxy that
ends TLS works). Behind a proxy that rewrites ``Host``, browsers without
``Sec-Fetch-Site`` need the proxy to pass the client's ``Host`` on (nginx:
``proxy_set_header Host $host;``), or the public origin listed in ``trusted_origins``.
Clients that are not browsers send neither header and are not affected; a browser
too old to send either (before about 2020) is not protected by this check. The
routes also take JSON only as ``Content-Type: application/json`` (415 otherwise),
which a form on another site cannot send without a CORS preflight that this app
never grants; multipart bodies, which such a form can send, are taken only where files
are: by ``/api/predict``, and by ``/api/flag`` only when a file output can be corrected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import itertools
import json
import logging
import mimetypes
import os
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import msgspec
from starlette.applications import Starlette
from starlette.authentication import SimpleUser
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .checks import positive_int
from .components import Component, FileData
from .errors import (
    Error,
    FlaggingDisabledError,
    FlaggingError,
    FlagValueError,
    NotRunningError,
    QueueFullError,
    UnknownPredictionError,
)
from .review import review_routes

if TYPE_CHECKING:
    from .interface import Interface

__all__ = ["Auth", "create_app"]

#: ``("user", "password")``, a list of such pairs, or ``check(user, password) -> bool``
Auth = tuple[str, str] | Sequence[tuple[str, str]] | Callable[[str, str], bool]

_STATIC = Path(__file__).parent / "static"

logger = logging.getLogger("asyncflag")


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
    max_json_depth: int = 64,
    max_json_values: int = 100_000,
    trusted_origins: Sequence[str] = (),
    show_error: bool = False,
    links: Sequence[tuple[str, str]] = (),
    review: bool = False,
) -> Starlette:
    """Build the ASGI app of ``iface``; its lifespan runs the interface.

    :param auth: require HTTP Basic auth; the user's name is stored with their flags,
        and a prediction can only be flagged by the user who made it
    :param max_body_size: the largest request body accepted, in bytes (413 past it)
    :param max_output_file_size: the largest output file sent back inline to the page
    :param max_json_depth: how deeply arrays and objects may nest in a JSON body (400 past it)
    :param max_json_values: how many values (array items, object members, arrays and
        objects) a JSON body may hold (400 past it); checked before any is built
    :param trusted_origins: origins (``"https://example.com"``) whose pages may post here
        besides this server's own, e.g. the public origin when a proxy rewrites ``Host``
    :param show_error: show the type and text of any exception ``fn`` raises to the
        user (Gradio's ``show_error``); by default only an :class:`~asyncflag.Error`'s
        message is shown, and other exceptions as a generic message with a request id
        (their traceback is logged under that id either way)
    :param links: ``(text, href)`` pairs shown as links under the page's title, e.g.
        to the other pages a server holds (``asyncflag demo`` links its demos)
    :param review: serve the review page of the flagged data at ``/flagged`` (see
        :mod:`asyncflag.review`), behind ``auth`` as every route
    """
    if not isinstance(show_error, bool):
        raise FlagValueError(f"show_error must be True or False, got {show_error!r}")
    for name, value in (
        ("max_body_size", max_body_size),
        ("max_output_file_size", max_output_file_size),
        ("max_json_depth", max_json_depth),
        ("max_json_values", max_json_values),
    ):
        positive_int(name, value)
    if isinstance(trusted_origins, str):
        raise FlagValueError(f"trusted_origins must be a list of origins, got {trusted_origins!r}")
    api = _API(
        iface,
        max_body_size,
        max_output_file_size,
        _JSONLimits(max_json_depth, max_json_values),
        frozenset(_normal_origin(origin) for origin in trusted_origins),
        show_error,
        [(str(text), str(href)) for text, href in links],
    )
    app = Starlette(
        routes=[
            Route("/", api.page, methods=["GET"]),
            Route("/api/config", api.config, methods=["GET"]),
            Route("/api/stats", api.stats, methods=["GET"]),
            Route("/api/health", api.health, methods=["GET"]),
            Route("/api/example/{row:int}/{index:int}", api.example_file, methods=["GET"]),
            Route("/api/predict", api.predict, methods=["POST"]),
            Route("/api/flag", api.flag, methods=["POST"]),
            *(review_routes(iface) if review else []),
        ],
        lifespan=iface.lifespan,
    )
    if auth is not None:
        app.add_middleware(BasicAuthMiddleware, check=_auth_check(auth))
    return app


class _API:
    def __init__(
        self,
        iface: Interface,
        max_body_size: int,
        max_output_file_size: int,
        json_limits: _JSONLimits,
        trusted_origins: frozenset[str],
        show_error: bool = False,
        links: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.iface = iface
        self.show_error = show_error
        self.links = links
        self.max_body_size = max_body_size
        self.max_output_file_size = max_output_file_size
        self.json_limits = json_limits
        self.trusted_origins = trusted_origins
        #: who made each recent prediction, when a user was logged in: only they may flag it.
        #: As many as the interface caches, so every prediction it still holds is here.
        self.owners: OrderedDict[str, str] = OrderedDict()
        #: what a web client may send as the option: one of the buttons' values
        self.options = frozenset(value for _, value in iface.flagging_options)

    async def page(self, request: Request) -> Response:
        shown = [
            await c.to_client(c.initial_value(), self.max_output_file_size)
            if c.initial_value() is not None
            else None
            for c in self.iface.output_components
        ]
        root = str(request.scope.get("root_path", ""))
        return HTMLResponse(render_page(self.iface, root, initial_outputs=shown, links=self.links))

    async def config(self, request: Request) -> Response:
        return JSONResponse(interface_config(self.iface))

    async def stats(self, request: Request) -> Response:
        health = self.iface.health()
        return JSONResponse(
            {
                **self.iface.stats.as_dict(),
                "failing": health["failing"],
                "last_error": health["last_error"],
            }
        )

    async def example_file(self, request: Request) -> Response:
        """The file of example ``row``'s input ``index``, for the page to put in the file
        input when the row is clicked. Only what ``examples=`` names (the server's own
        list, or the files of a flagged folder, never a path from the client), only for a
        one-file input, up to ``max_output_file_size``; sent as an attachment, never
        sniffed."""
        row, index = request.path_params["row"], request.path_params["index"]
        path = _example_path(self.iface, row, index)
        if path is None:
            return JSONResponse(
                {"error": "no such example file (a row, and a one-file input, of examples=)"},
                status_code=404,
            )
        try:
            data = await anyio.Path(path).read_bytes()
        except OSError as exc:
            return JSONResponse(
                {"error": f"the example file cannot be read: {exc.strerror}"}, status_code=404
            )
        if len(data) > self.max_output_file_size:
            return JSONResponse(
                {"error": f"the example file is over {self.max_output_file_size} bytes"},
                status_code=413,
            )
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Response(
            data,
            media_type=kind,
            headers={
                "X-Content-Type-Options": "nosniff",
                "Content-Disposition": f'attachment; filename="example{path.suffix[:16]}"',
            },
        )

    async def health(self, request: Request) -> Response:
        """200 while the interface runs and writes its rows; 503 (with why) otherwise."""
        health = self.iface.health()
        return JSONResponse(health, status_code=200 if health["healthy"] else 503)

    async def predict(self, request: Request) -> Response:
        try:
            _refuse_cross_site(request, self.trusted_origins)
            values = await self._input_values(request)
            try:
                prediction = await self.iface.submit(*values)
            except Error as exc:  # a message fn meant for the user
                return JSONResponse({"error": exc.message}, status_code=422)
            except FlaggingError:
                raise
            except Exception as exc:  # the model failed, not the request
                return self._failed_prediction(exc)
            data = [
                await component.to_client(value, self.max_output_file_size)
                for component, value in zip(
                    self.iface.output_components, prediction.outputs, strict=True
                )
            ]
        except (_HTTPError, FlaggingError) as exc:
            return _error_response(exc)
        username = _username(request)
        if username is not None:
            self.owners[prediction.id] = username
            if len(self.owners) > self.iface.cache_size:
                self.owners.popitem(last=False)
        return JSONResponse({"id": prediction.id, "data": data})

    def _failed_prediction(self, exc: Exception) -> JSONResponse:
        """The 500 answer for an exception from ``fn``: its traceback goes to the log under
        a request id the answer names; its text only with ``show_error`` (it may hold
        private details)."""
        request_id = secrets.token_hex(6)
        logger.error(
            "the prediction failed (request id %s): %s",
            request_id,
            type(exc).__name__,
            exc_info=exc,
        )
        shown = (
            f"{type(exc).__name__}: {exc}"[:1000] if self.show_error else "an error on the server"
        )
        return JSONResponse(
            {
                "error": f"the prediction failed: {shown} (request id {request_id}; "
                "the server log has the details under this id)",
                "request_id": request_id,
            },
            status_code=500,
        )

    async def flag(self, request: Request) -> Response:
        try:
            _refuse_cross_site(request, self.trusted_origins)
            payload, uploads = await self._flag_payload(request)
            prediction_id = payload.get("id")
            option = payload.get("option")
            if not isinstance(prediction_id, str):
                raise _HTTPError(400, '"id" must be the id of a prediction this server made')
            if option is not None and not isinstance(option, str):
                raise _HTTPError(400, '"option" must be a string or null')
            if option not in self.options:
                raise _HTTPError(400, _unknown_option(option, self.options))
            comment = payload.get("comment")
            if comment is not None and not isinstance(comment, str):
                raise _HTTPError(400, '"comment" must be a string or null')
            correction = self._correction(payload.get("correction"), uploads)
            key = payload.get("key")
            if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 200):
                raise _HTTPError(
                    400,
                    '"key" must be a string of 1 to 200 characters (an idempotency key) or null',
                )
            username = _username(request)
            owner = self.owners.get(prediction_id)
            if owner is not None and owner != username:
                raise _HTTPError(
                    403,
                    "this prediction was made by another user: only the user who made a "
                    "prediction can flag it",
                )
            if key is not None:
                # a client's key holds for its own flags of this prediction only
                scope = json.dumps([username, prediction_id, key]).encode()
                key = "web:" + hashlib.sha256(scope).hexdigest()
            count = await self.iface.flag(
                prediction_id,
                option=option,
                username=username,
                comment=comment,
                correction=correction,
                key=key,
            )
        except (_HTTPError, FlaggingError) as exc:
            return _error_response(exc)
        return JSONResponse({"count": count})

    async def _flag_payload(self, request: Request) -> tuple[dict[str, Any], dict[int, FileData]]:
        """The JSON object of a flag request, and the uploaded corrections of file outputs
        (multipart: the object as a ``data`` field, files as ``correction<N>`` fields)."""
        media_type = _media_type(request)
        # files only when a file output can be corrected: a plain flag is JSON only
        files = self.iface.flagging_correction and any(
            c.takes_upload for c in self.iface.output_components
        )
        if media_type != "application/json" and not (files and media_type == "multipart/form-data"):
            raise _not_json(request, files=files)
        body = await _read_body(request, self.max_body_size)
        uploads: dict[int, FileData] = {}
        if media_type == "multipart/form-data":
            outputs = self.iface.output_components
            try:
                form = await _replayed(request, body).form(
                    max_files=len(outputs) + 1,
                    max_fields=len(outputs) + 1,
                    max_part_size=self.max_body_size,
                )
            except (HTTPException, MultiPartException) as exc:
                detail = exc.detail if isinstance(exc, HTTPException) else exc.message
                raise _HTTPError(
                    400,
                    f"the multipart/form-data body could not be read: {detail} (send the "
                    'flag as a "data" field holding a JSON object, and correction<N> fields '
                    "for the corrected files of outputs 0..N)",
                ) from None
            try:
                raw = form.get("data")
                payload = _decode_json(
                    raw.encode() if isinstance(raw, str) else b"{}", self.json_limits
                )
                for index in range(len(outputs)):
                    upload = form.get(f"correction{index}")
                    if isinstance(upload, UploadFile):
                        uploads[index] = FileData(await upload.read(), upload.filename or "")
            finally:
                await form.close()
        else:
            payload = _decode_json(body, self.json_limits)
        if not isinstance(payload, dict):
            raise _HTTPError(400, 'expected a JSON object {"id": ..., "option": ...}')
        return payload, uploads

    def _correction(self, sent: Any, uploads: dict[int, FileData]) -> list[Any] | None:
        """The correction to pass to ``flag``: the JSON values, with the uploads of file
        outputs (never a path from the client); ``None`` when nothing was sent."""
        outputs = self.iface.output_components
        if sent is None and not uploads:
            return None
        if sent is None:
            sent = [None] * len(outputs)
        if not isinstance(sent, list) or len(sent) != len(outputs):
            raise _HTTPError(
                400,
                f'"correction" must be a list of {len(outputs)} values (one per output, null '
                "for an output not corrected) or null",
            )
        correction = []
        for index, (component, value) in enumerate(zip(outputs, sent, strict=True)):
            if component.takes_upload:
                if value is not None:
                    raise _HTTPError(
                        400,
                        f"output {component.label!r} takes its correction as a file upload "
                        f"(multipart field correction{index}), and null in the JSON",
                    )
                correction.append(uploads.get(index))
            else:
                correction.append(value)
        return correction

    async def _input_values(self, request: Request) -> list[Any]:
        components = self.iface.input_components
        media_type = _media_type(request)
        if media_type not in ("application/json", "multipart/form-data"):
            raise _not_json(request, files=True)
        body = await _read_body(request, self.max_body_size)
        uploads: dict[int, Any] = {}
        if media_type == "multipart/form-data":
            # Only from this server's page or a non-browser client: _refuse_cross_site ran.
            # One file part per input, more for one holding several (a Gallery).
            extra = sum(max(0, component.max_uploads - 1) for component in components)
            try:
                form = await _replayed(request, body).form(
                    max_files=len(components) + 1 + extra,
                    max_fields=len(components) + 1,
                    max_part_size=self.max_body_size,
                )
            except (HTTPException, MultiPartException) as exc:
                detail = exc.detail if isinstance(exc, HTTPException) else exc.message
                raise _HTTPError(
                    400,
                    f"the multipart/form-data body could not be read: {detail} (send the "
                    'values as a "data" field holding a JSON list, and file<N> fields for '
                    f"the files of inputs 0..{len(components) - 1})",
                ) from None
            try:
                raw = form.get("data")
                data = _decode_json(
                    raw.encode() if isinstance(raw, str) else b"[]", self.json_limits
                )
                for index, component in enumerate(components):
                    parts = [
                        part
                        for part in form.getlist(f"file{index}")
                        if isinstance(part, UploadFile)
                    ]
                    if len(parts) > max(component.max_uploads, 1):
                        raise _HTTPError(
                            400,
                            f"input {component.label!r} takes at most "
                            f"{max(component.max_uploads, 1)} file(s) (field file{index}), "
                            f"got {len(parts)}",
                        )
                    if parts:
                        files = [FileData(await p.read(), p.filename or "") for p in parts]
                        uploads[index] = component.from_uploads(files)
            finally:
                await form.close()
        else:
            payload = _decode_json(body, self.json_limits)
            data = payload.get("data") if isinstance(payload, dict) else payload
        if not isinstance(data, list):
            raise _HTTPError(400, 'expected {"data": [one value per input]}')
        if len(data) < len(components):
            data = data + [None] * (len(components) - len(data))
        if len(data) != len(components):
            raise _HTTPError(400, f"expected {len(components)} input values, got {len(data)}")
        values = []
        for index, (component, value) in enumerate(zip(components, data, strict=True)):
            if component.takes_upload:
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


class _JSONLimits(msgspec.Struct, frozen=True):
    depth: int
    values: int


#: a JSON string, or an unterminated one up to the end: every match ends at a quote or at
#: the end of the body, so one pass is linear (a pattern that may fail would be retried
#: from each later quote: quadratic on a body of escaped quotes)
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def _structure(data: bytes) -> tuple[int, int]:
    """How many arrays and objects ``data`` opens, and how many values it holds."""
    containers = data.count(b"[") + data.count(b"{")
    return containers, containers + data.count(b",") + 1


def _decode_json(body: bytes, limits: _JSONLimits) -> Any:
    """Decode a JSON body, refusing one too deep or with too many values before building any.

    Counting brackets and commas (``bytes.count``, in C) gives an upper bound; only a
    body over a limit by that bound is counted again with its strings blanked out (their
    brackets and commas are text), and only one with more arrays and objects than the
    depth limit is walked bracket by bracket, at most twice its (bounded) count.
    """
    containers, values = _structure(body)
    skeleton = body
    if values > limits.values or containers > limits.depth:
        skeleton = _JSON_STRING.sub(b'""', body)
        containers, values = _structure(skeleton)
    if values > limits.values:
        raise _HTTPError(
            400,
            f"the JSON body holds about {values:,} values (array items, object members, "
            f"arrays and objects), over the limit of {limits.values:,}",
        )
    if containers > limits.depth:
        depth = 0
        for bracket in itertools.islice(_JSON_BRACKET.finditer(skeleton), 2 * containers):
            depth += 1 if bracket[0] in (b"[", b"{") else -1
            if depth > limits.depth:
                raise _HTTPError(
                    400,
                    "the JSON body nests arrays and objects deeper than the limit of "
                    f"{limits.depth} levels",
                )
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise _HTTPError(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # only if max_json_depth was set near Python's recursion limit
        raise _HTTPError(400, "the JSON body nests arrays and objects too deeply") from None


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _not_json(request: Request, *, files: bool = False) -> _HTTPError:
    sent = request.headers.get("content-type")
    accepted = "application/json, or multipart/form-data for files" if files else "application/json"
    return _HTTPError(
        415,
        f"the body must be sent as {accepted} (Content-Type: "
        f"{'none' if sent is None else repr(sent[:100])} was sent)",
    )


def _unknown_option(option: str | None, allowed: frozenset[str | None]) -> str:
    def shown(value: str | None) -> str:
        if value is None:
            return "null (no option)"
        return json.dumps(value if len(value) <= 100 else value[:100] + "...")

    ordered = sorted(allowed, key=lambda value: (value is not None, value or ""))
    return (
        f'"option" {shown(option)} is not one of the flagging options: '
        f"{', '.join(map(shown, ordered))}"
    )


# -- cross-site requests -----------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _refuse_cross_site(request: Request, trusted_origins: frozenset[str]) -> None:
    """Refuse (403) a request a browser says another site made; see the module's docstring.

    The order is that of Go's ``net/http.CrossOriginProtection``: a trusted Origin
    passes; else ``Sec-Fetch-Site`` decides when the browser sent it (a page cannot
    set it); else an ``Origin`` must name the ``Host``; a request with neither passes.
    """
    origin = request.headers.get("origin")
    if origin is not None and _normal_origin(origin) in trusted_origins:
        return
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site in ("same-origin", "none"):
            return
        raise _HTTPError(
            403,
            f"cross-site request refused: the browser says it came from another site "
            f"(Sec-Fetch-Site: {site[:40]}); only this server's own page may post here",
        )
    if origin is None:
        return  # not a browser, or an old browser on a same-origin request
    if _origin_is_host(_normal_origin(origin), request.headers.get("host")):
        return
    raise _HTTPError(
        403,
        f"cross-origin request refused: Origin {origin[:200]!r} is not this server "
        f"(Host: {request.headers.get('host', '')[:200]!r}); if a proxy changes the Host "
        "header, have it pass the client's Host on, or list the public origin in "
        "trusted_origins",
    )


def _normal_origin(origin: str) -> str:
    """``origin`` as a browser sends it: lower case, no trailing slash, no default port."""
    text = origin.strip().rstrip("/").lower()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text
    if port is not None and port == _DEFAULT_PORTS.get(parts.scheme):
        return f"{parts.scheme}://{parts.netloc.rpartition(':')[0]}"
    return text


def _origin_is_host(origin: str, host: str | None) -> bool:
    """Whether ``origin`` names the same host and port as the ``Host`` header."""
    if not host:
        return False
    try:
        parts = urlsplit(origin)
        served = urlsplit("//" + host.strip().lower())
        default = _DEFAULT_PORTS.get(parts.scheme)
        origin_port = parts.port or default
        host_port = served.port or default
    except ValueError:  # a malformed port
        return False
    if parts.hostname is None or parts.path or parts.query or parts.fragment:
        return False  # "null" (a sandboxed page, a redirect) or not an origin at all
    return (parts.hostname, origin_port) == (served.hostname, host_port)


def _username(request: Request) -> str | None:
    user = request.scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        name = getattr(user, "display_name", None)
        return str(name) if name else None
    return None


def interface_config(iface: Interface) -> dict[str, Any]:
    return {
        "title": iface.title,
        "description": iface.description,
        "inputs": [c.config() for c in iface.input_components],
        "outputs": [c.config() for c in iface.output_components],
        "flagging_mode": iface.flagging_mode,
        "flagging_options": [[label, value] for label, value in iface.flagging_options],
        "flagging_comment": iface.flagging_comment,
        "flagging_correction": iface.flagging_correction,
        "max_comment_length": iface.max_comment_length,
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


# -- the same protections for other asyncflag apps (the chat page: chat_web.py) ----------

#: a bad request: ``status`` (4xx) and ``message`` become the ``{"error": ...}`` answer
RequestError = _HTTPError


class RequestGuard:
    """The checks this module's POST routes make, for another asyncflag app to make too.

    :meth:`read_json` refuses a cross-site request, a body not sent as
    ``application/json``, one over ``max_body_size`` and JSON over the depth or value
    limits, each with a :data:`RequestError` (see :func:`create_app` for the limits).
    """

    def __init__(
        self,
        *,
        max_body_size: int,
        max_json_depth: int,
        max_json_values: int,
        trusted_origins: Sequence[str],
    ) -> None:
        for name, value in (
            ("max_body_size", max_body_size),
            ("max_json_depth", max_json_depth),
            ("max_json_values", max_json_values),
        ):
            positive_int(name, value)
        if isinstance(trusted_origins, str):
            raise FlagValueError(
                f"trusted_origins must be a list of origins, got {trusted_origins!r}"
            )
        self.max_body_size = max_body_size
        self._limits = _JSONLimits(max_json_depth, max_json_values)
        self._trusted = frozenset(_normal_origin(origin) for origin in trusted_origins)

    def refuse_cross_site(self, request: Request) -> None:
        """Raise a 403 :data:`RequestError` for a request a browser says another site made."""
        _refuse_cross_site(request, self._trusted)

    async def read_json(self, request: Request) -> Any:
        """The request's JSON body, after every check (cross-site, media type, size, limits)."""
        _refuse_cross_site(request, self._trusted)
        if _media_type(request) != "application/json":
            raise _not_json(request)
        return _decode_json(await _read_body(request, self.max_body_size), self._limits)


def request_username(request: Request) -> str | None:
    """The authenticated user's name (``request.user``), or ``None``: never from the body."""
    return _username(request)


def error_response(exc: Exception) -> JSONResponse:
    """The 4xx (or 503) JSON answer for a :data:`RequestError` or a :class:`FlaggingError`."""
    return _error_response(exc)


def add_basic_auth(app: Starlette, auth: Auth) -> None:
    """Require HTTP Basic auth on every route of ``app`` (``auth`` as :data:`Auth`)."""
    app.add_middleware(BasicAuthMiddleware, check=_auth_check(auth))


def component_assets(components: Iterable[Component]) -> tuple[list[str], list[str]]:
    """The page scripts and styles of ``components``' types, each once, base types first."""
    return _component_assets(components)


# -- the page ----------------------------------------------------------------------------


def render_page(
    iface: Interface,
    root_path: str = "",
    initial_outputs: Sequence[Any] | None = None,
    links: Sequence[tuple[str, str]] = (),
) -> str:
    """The page for ``iface``: a control per input, Submit, the outputs, the flag buttons.

    Each component gives its own field (:meth:`~asyncflag.components.Component.input_html`,
    :meth:`~asyncflag.components.Component.output_html`) and its type's script and style,
    once per type, including those of the types it derives from.

    :param initial_outputs: what the page shows in each output before the first
        prediction (the outputs' ``value=`` as :meth:`~asyncflag.components.Component.to_client`
        gives it; ``None`` for nothing)
    :param links: ``(text, href)`` pairs linked under the title
    """
    title = html.escape(str(iface.title or getattr(iface.fn, "__name__", "asyncflag")))
    inputs = "\n".join(c.input_html(i) for i, c in enumerate(iface.input_components))
    outputs = "\n".join(
        _output_html(c, i, iface.flagging_correction and iface.flagging_mode == "manual")
        for i, c in enumerate(iface.output_components)
    )
    if iface.flagging_mode == "manual":
        buttons = "\n".join(
            f'<button type="button" class="flag" disabled data-key="{index}" '
            f'data-option="{html.escape(json.dumps(value))}">{html.escape(label)}</button>'
            for index, (label, value) in enumerate(iface.flagging_options)
        )
        comment = (
            '<label for="flag-comment">Comment (optional)</label>'
            f'<textarea id="flag-comment" rows="2" maxlength="{iface.max_comment_length}" '
            'placeholder="Why are you flagging this?"></textarea>'
            if iface.flagging_comment
            else ""
        )
        flagging = (
            f'<div id="flagging">{comment}<div class="flag-buttons">{buttons}</div>'
            '<p id="flag-status" role="status"></p></div>'
        )
    elif iface.flagging_mode == "auto":
        flagging = (
            '<p id="auto-notice">Every submission is logged automatically '
            "(inputs and outputs) for review.</p>"
        )
    else:
        flagging = ""
    description = f"<p>{html.escape(iface.description)}</p>" if iface.description else ""
    scripts, styles = _component_assets(iface.components)
    parts = {
        "title": title,
        "description": description,
        "inputs": inputs,
        "outputs": outputs,
        "flagging": flagging,
        "root": html.escape(root_path),
        "links": _links_html(links),
        "examples": _examples_html(iface),
        "scripts": "\n".join(f"<script>\n{script}\n</script>" for script in scripts),
        "styles": "\n".join(styles),
        # JSON in a <script> element: "<" escaped so that no value can close it
        "initial": json.dumps(list(initial_outputs or [])).replace("<", "\\u003c"),
    }
    template = (_STATIC / "page.html").read_text(encoding="utf-8")
    # one pass: a title or label holding "{{inputs}}" stays text
    return _PLACEHOLDER.sub(lambda match: parts[match[1]], template)


_PLACEHOLDER = re.compile(r"\{\{([a-z]+)\}\}")


def _links_html(links: Sequence[tuple[str, str]]) -> str:
    if not links:
        return ""
    items = "".join(
        f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for text, href in links
    )
    return f'<nav class="demos" aria-label="Demos">{items}</nav>'


#: the longest text of an example's cell in the table (the whole value still fills the input)
_EXAMPLE_CELL_CHARS = 80


def _examples_html(iface: Interface) -> str:
    """The examples table (``examples=``): one row per example, a click fills the inputs
    with its values. A one-file input (an Image, Audio, File...) shows its file's name;
    the page fetches the file from ``/api/example/<row>/<input>`` and puts it in the
    input (a Gallery's files are not filled)."""
    if not iface.examples:
        return ""
    inputs = iface.input_components
    head = "".join(f"<th>{html.escape(c.label or f'input {i}')}</th>" for i, c in enumerate(inputs))
    rows = []
    for row, example in enumerate(iface.examples):
        values: dict[str, Any] = {}
        files: list[int] = []
        cells = []
        for index, component in enumerate(inputs):
            value = example[index] if index < len(example) else None
            if component.takes_upload:
                name = Path(value).name if isinstance(value, str | os.PathLike) else ""
                if _example_path(iface, row, index) is not None:
                    files.append(index)
                cells.append(f"<td>{html.escape(str(name))}</td>")
                continue
            text = _example_json(value)
            if text is None:
                cells.append("<td></td>")
                continue
            values[str(index)] = json.loads(text)
            shown = value if isinstance(value, str) else text
            if len(shown) > _EXAMPLE_CELL_CHARS:
                shown = shown[: _EXAMPLE_CELL_CHARS - 1] + "…"
            cells.append(f'<td title="{html.escape(shown)}">{html.escape(shown)}</td>')
        rows.append(
            f'<tr tabindex="0" data-row="{row}" data-values="{html.escape(json.dumps(values))}" '
            f'data-files="{json.dumps(files)}">{"".join(cells)}</tr>'
        )
    return (
        '<section id="examples"><table><caption>Examples (click one to fill the inputs)'
        f"</caption><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "</section>"
    )


def _example_path(iface: Interface, row: int, index: int) -> Path | None:
    """The file example ``row`` names for the one-file input ``index``, if it is one."""
    examples = iface.examples or []
    inputs = iface.input_components
    if not (0 <= row < len(examples) and 0 <= index < len(inputs)):
        return None
    component = inputs[index]
    value = examples[row][index] if index < len(examples[row]) else None
    if not component.takes_upload or component.max_uploads != 1:
        return None
    if not isinstance(value, str | os.PathLike):
        return None
    path = Path(value)
    return path if path.is_file() else None


def _example_json(value: Any) -> str | None:
    """``value`` as JSON for the page, or ``None`` when it has no JSON form."""
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None


def _output_html(component: Component, index: int, correctable: bool) -> str:
    """An output's field; with corrections, and for an output that is not a file (the
    page sends no file corrections), a box where the user edits it after a prediction."""
    field = component.output_html(index)
    if not correctable or component.takes_upload:
        return field
    label = html.escape(f"Correct {component.label or f'output {index}'}")
    return (
        f'<div class="correctable">{field}<div class="correction-box" hidden>'
        f'<label for="correction{index}">{label} (edit, then flag)</label>'
        f'<textarea id="correction{index}" class="correction" rows="2" '
        f'data-index="{index}"></textarea></div></div>'
    )


def _component_assets(components: Iterable[Component]) -> tuple[list[str], list[str]]:
    """The scripts and styles of the component types on a page, each once, base types first."""
    scripts: dict[str, None] = {}
    styles: dict[str, None] = {}
    for component in components:
        for cls in reversed(type(component).__mro__):
            script = cls.__dict__.get("page_script")
            if isinstance(script, str) and script:
                scripts[script] = None
            style = cls.__dict__.get("page_style")
            if isinstance(style, str) and style:
                styles[style] = None
    return list(scripts), list(styles)
