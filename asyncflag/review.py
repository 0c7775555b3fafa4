"""The review page of the flagged data: ``/flagged`` (``app(review=True)``).

Routes, all ``GET`` and behind the app's auth like every other route:

- ``/flagged``: rows newest first, each value shown by its component's own page script
  (a Label as bars, a Dataframe as a table, an Image as an image...), filtered by
  ``option`` (``none=1``: rows without one), ``user``, ``since`` and ``until`` (dates,
  ``YYYY-MM-DD``, both included, in the timestamps' own zone: UTC as asyncflag writes them),
  with the counts per option of the rows the other filters keep, ``per_page`` rows a
  page (``page=N``);
- ``/flagged/file?path=...``: a file a dataset row names (the path is only a key into
  the files the rows name: what is opened comes from the dataset, never from the
  client), inside the flagging folder and not through a symlink, typed by its content;
  anything but an image, audio or video is sent as a download;
- ``/flagged/csv``: the filtered rows as CSV (cells escaped as the datasets' are);
- ``/flagged/parquet``: the filtered rows as Parquet, typed (needs ``asyncflag.export``
  and pyarrow: ``pip install 'asyncflag[export]'``; a 501 saying so without them).

Bounded work per request. Rows are read with :func:`~asyncflag.load_flagged` in a
worker thread once, and again only after a dataset file changed (its size or
modification time), and at most once per ``refresh`` seconds while rows keep arriving;
a request filters the rows held in memory and converts only the ``per_page`` rows it
shows. So a folder of a million rows is read once per change, not once per request
(the rows are held in memory: about what :func:`~asyncflag.load_flagged` returns; for a
million calculator rows, measured: the first read 9-15 s and +820 MiB RSS, later pages
0.5-0.9 s). While the folder is read again, requests get the rows read before; reads are
spaced so that they take no more than a fifth of the time while rows keep arriving.
"""

from __future__ import annotations

import csv
import html
import importlib
import importlib.util
import io
import json
import os
import re
import secrets
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlencode

import anyio
import anyio.to_thread
import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .components import Component, FileComponent, Gallery, media_type
from .errors import FlagValueError
from .escaping import escape
from .read import FlaggedRow, load_flagged
from .sinks.datasets import SIMPLE_LOG_NAME, dataset_files

if TYPE_CHECKING:
    from .interface import Interface

__all__ = [
    "DEFAULT_PER_PAGE",
    "MAX_FILE_SIZE",
    "MAX_PER_PAGE",
    "PARQUET_HINT",
    "Review",
    "review_routes",
]

#: rows a review page shows by default, and at most
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
#: what ``/flagged/parquet`` answers without asyncflag.export or pyarrow
PARQUET_HINT = (
    "Parquet downloads need asyncflag.export and pyarrow: pip install 'asyncflag[export]' "
    "(the CSV download needs nothing more)"
)
#: the largest file ``/flagged/file`` sends, in bytes
MAX_FILE_SIZE = 100 * 2**20

_STATIC = Path(__file__).parent / "static"
_KINDS: dict[str, Literal["image", "audio", "video"]] = {
    "image": "image",
    "audio": "audio",
    "video": "video",
    "gallery": "image",
}
#: headers of every review response: the data may be private, and nothing stored runs
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class _Index(msgspec.Struct):
    """The rows of the folder, newest first, and the files they name."""

    rows: list[FlaggedRow]
    #: whether each row's values were decoded by the interface's components
    typed: list[bool]
    #: path relative to the folder -> (absolute path, the kind of component naming it)
    files: dict[str, tuple[str, str]]
    signature: tuple[tuple[str, int, int], ...]
    read_at: float
    #: how long reading the rows took, in seconds
    cost: float = 0.0


class Review:
    """The review routes of one interface (see the module's docstring)."""

    def __init__(self, iface: Interface, *, refresh: float = 2.0) -> None:
        self.iface = iface
        self.root = Path(iface.flagging_dir)
        self.components: list[Component] = list(iface.components)
        self.refresh = refresh
        self._index: _Index | None = None
        self._lock = anyio.Lock()

    # -- reading -------------------------------------------------------------------------

    def _signature(self) -> tuple[tuple[str, int, int], ...]:
        paths = [path for _, path in dataset_files(self.root)]
        paths.append(self.root / SIMPLE_LOG_NAME)
        signature = []
        for path in paths:
            try:
                info = path.stat()
            except OSError:
                continue
            signature.append((path.name, info.st_size, info.st_mtime_ns))
        return tuple(signature)

    def _read(self, signature: tuple[tuple[str, int, int], ...]) -> _Index:
        try:
            rows = load_flagged(self.root, self.components, unsafe_paths="skip")
            typed = [True] * len(rows)
        except (FlagValueError, ValueError):
            # files whose columns are not the interface's: shown as text
            rows = load_flagged(self.root, unsafe_paths="skip")
            typed = [False] * len(rows)
        order = sorted(
            range(len(rows)),
            key=lambda i: (rows[i].timestamp is not None, _sortable(rows[i].timestamp), i),
            reverse=True,
        )
        rows = [rows[i] for i in order]
        typed = [typed[i] for i in order]
        files: dict[str, tuple[str, str]] = {}
        root = str(self.root.absolute())
        for row, decoded in zip(rows, typed, strict=True):
            if not decoded:
                continue
            for component, value in zip(self.components, row.values, strict=False):
                for path in _file_paths(component, value):
                    files[_relative(path, root)] = (path, component.type_name)
        return _Index(rows, typed, files, signature, time.monotonic())

    async def index(self) -> _Index:
        """The rows, read again only when a dataset file changed (and ``refresh`` passed).

        While the rows are read again, other requests get the rows read before (only the
        first request waits for the first read)."""
        current = self._index
        if current is not None and (self._lock.locked() or self._fresh(current)):
            return current
        async with self._lock:
            current = self._index
            if current is not None and self._fresh(current):
                return current
            signature = await anyio.to_thread.run_sync(self._signature)
            if current is not None and current.signature == signature:
                current.read_at = time.monotonic()
                return current
            started = time.monotonic()
            self._index = await anyio.to_thread.run_sync(self._read, signature)
            self._index.cost = time.monotonic() - started
            return self._index

    def _fresh(self, index: _Index) -> bool:
        """Whether ``index`` was checked too recently to check the files again: at most
        once per ``refresh`` seconds, and no more than a fifth of the time while rows
        keep arriving (``refresh=0``: on every request)."""
        if not self.refresh:
            return False
        return time.monotonic() - index.read_at < max(self.refresh, 4 * index.cost)

    # -- the routes ----------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        """``GET /flagged``: the review page."""
        try:
            query = _Query.of(request)
        except _BadQuery as exc:
            return JSONResponse({"error": str(exc)}, status_code=400, headers=_HEADERS)
        try:
            index = await self.index()
        except OSError as exc:
            return _unreadable(exc)
        rows, counts = await anyio.to_thread.run_sync(query.select, index)
        total = len(rows)
        start = (query.page - 1) * query.per_page
        shown = rows[start : start + query.per_page]
        root = str(request.scope.get("root_path", ""))
        data = [await self._client_row(index, number, root) for number in shown]
        nonce = secrets.token_urlsafe(16)
        body = self._render(request, query, index, data, counts, total, nonce)
        csp = (
            "default-src 'none'; "
            f"script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "img-src 'self'; media-src 'self'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
        return HTMLResponse(body, headers={**_HEADERS, "Content-Security-Policy": csp})

    async def file(self, request: Request) -> Response:
        """``GET /flagged/file?path=...``: a file a dataset row names."""
        key = request.query_params.get("path", "")
        try:
            index = await self.index()
        except OSError as exc:
            return _unreadable(exc)
        entry = index.files.get(key)
        if entry is None:
            return _not_found("no flagged row names this file")
        path, type_name = entry
        try:
            data = await anyio.to_thread.run_sync(_read_inside, path, str(self.root))
        except _Refused as exc:
            return _not_found(str(exc))
        kind = _KINDS.get(type_name)
        mime = media_type(data[:64], kind) if kind else None
        headers = dict(_HEADERS)
        headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        if mime is None:
            name = quote(Path(path).name)
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}"
            mime = "application/octet-stream"
        return Response(data, media_type=mime, headers=headers)

    async def csv(self, request: Request) -> Response:
        """``GET /flagged/csv``: the filtered rows (all pages) as CSV, newest first."""
        try:
            query = _Query.of(request)
        except _BadQuery as exc:
            return JSONResponse({"error": str(exc)}, status_code=400, headers=_HEADERS)
        try:
            index = await self.index()
        except OSError as exc:
            return _unreadable(exc)
        rows, _ = await anyio.to_thread.run_sync(query.select, index)
        labels = [c.label or f"component {i}" for i, c in enumerate(self.components)]
        if index.rows and not any(index.typed):  # a folder of other columns: its own labels
            labels = list(index.rows[0].labels)
        root = str(self.root.absolute())

        def lines() -> Iterator[str]:
            # a sync iterator: Starlette runs it in a worker thread, a chunk at a time
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow([*labels, "flag", "username", "timestamp", "comment"])
            for start in range(0, len(rows), 1000):
                for number in rows[start : start + 1000]:
                    row = index.rows[number]
                    stamp = row.timestamp.isoformat() if row.timestamp else None
                    writer.writerow(
                        [
                            *(_csv_cell(value, root) for value in row.values),
                            *(_csv_cell(v, root) for v in (row.flag, row.username, stamp)),
                            _csv_cell(row.comment, root),
                        ]
                    )
                yield out.getvalue()
                out.seek(0)
                out.truncate()
            yield out.getvalue()

        headers = {**_HEADERS, "Content-Disposition": 'attachment; filename="flagged.csv"'}
        return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers=headers)

    async def parquet(self, request: Request) -> Response:
        """``GET /flagged/parquet``: the filtered rows (all pages) as Parquet, newest first,
        typed by :func:`asyncflag.export.to_arrow` (numbers as numbers, files as paths).

        Needs ``asyncflag.export`` and pyarrow (``pip install 'asyncflag[export]'``);
        without them, a 501 saying so.
        """
        try:
            query = _Query.of(request)
        except _BadQuery as exc:
            return JSONResponse({"error": str(exc)}, status_code=400, headers=_HEADERS)
        try:
            # asyncflag.export (issue 15) and pyarrow, its extra: looked up when asked for
            export = importlib.import_module("asyncflag.export")
            parquet = importlib.import_module("pyarrow.parquet")
        except ImportError:
            return JSONResponse({"error": PARQUET_HINT}, status_code=501, headers=_HEADERS)
        try:
            index = await self.index()
        except OSError as exc:
            return _unreadable(exc)
        rows, _ = await anyio.to_thread.run_sync(query.select, index)
        typed = all(index.typed[number] for number in rows)
        chosen = [index.rows[number] for number in rows]

        def encode() -> bytes:
            table = export.to_arrow(chosen, self.components if typed else None)
            out = io.BytesIO()
            parquet.write_table(table, out)
            return out.getvalue()

        try:
            data = await anyio.to_thread.run_sync(encode)
        except FlagValueError as exc:
            return JSONResponse(
                {"error": f"the rows cannot be written as Parquet: {exc}"},
                status_code=422,
                headers=_HEADERS,
            )
        headers = {
            **_HEADERS,
            "Content-Disposition": 'attachment; filename="flagged.parquet"',
        }
        return Response(data, media_type="application/vnd.apache.parquet", headers=headers)

    # -- rendering -----------------------------------------------------------------------

    async def _client_row(self, index: _Index, number: int, root: str) -> dict[str, Any]:
        row = index.rows[number]
        files: list[list[str]] = []
        values: list[Any] = []
        typed = index.typed[number]
        base = str(self.root.absolute())
        for position, value in enumerate(row.values):
            component = self.components[position] if typed else None
            if component is None or position >= len(self.components):
                values.append(None if value is None else _text(value))
                continue
            paths = _file_paths(component, value)
            urls = {p: f"{root}/flagged/file?path={quote(_relative(p, base))}" for p in paths}
            files.extend([_relative(p, base), urls[p]] for p in paths)
            if isinstance(component, Gallery):
                values.append([{"image": urls[p], "caption": c} for p, c in value or []])
            elif isinstance(component, FileComponent):
                values.append(urls.get(value) if isinstance(value, str) else None)
            elif component.holds_files:  # a user's component holding files: listed below
                values.append(None)
            else:
                try:
                    shown = await component.to_client(component.check(value), 0)
                    values.append(msgspec.to_builtins(shown, str_keys=True, enc_hook=str))
                except Exception:  # a value its component cannot show: as text
                    values.append(_text(value))
        return {
            "values": values,
            "labels": list(row.labels),
            "typed": typed,
            "flag": row.flag,
            "username": row.username,
            "timestamp": row.timestamp.isoformat(sep=" ", timespec="seconds")
            if row.timestamp
            else None,
            "comment": row.comment,
            "file": Path(row.file).name,
            "files": files,
        }

    def _render(
        self,
        request: Request,
        query: _Query,
        index: _Index,
        data: list[dict[str, Any]],
        counts: Counter[str | None],
        total: int,
        nonce: str,
    ) -> str:
        from .web import component_assets

        root = str(request.scope.get("root_path", ""))
        title = html.escape(str(self.iface.title or "asyncflag"))
        scripts, styles = component_assets(self.components)
        templates = "\n".join(c.output_html(i) for i, c in enumerate(self.components))
        options = sorted(counts, key=lambda o: (-counts[o], o or ""))
        count_items = "".join(
            f'<li><a href="{html.escape(self._option_url(root, query, o))}">'
            f"<bdi>{html.escape(_option_name(o))}</bdi></a>: {counts[o]}</li>"
            for o in options
        )
        option_choices = "".join(
            f'<option value="{html.escape(o or "")}"'
            f"{' selected' if query.option == (o or '') else ''}>"
            f"{html.escape(_option_name(o))}</option>"
            for o in options
            if o
        )
        pages = max(1, -(-total // query.per_page))
        nav = []
        if query.page > 1:
            nav.append(
                f'<a href="{html.escape(self._url(root, query, page=query.page - 1))}"'
                ' rel="prev">newer</a>'
            )
        nav.append(f"page {query.page} of {pages} ({total} rows)")
        if query.page < pages:
            nav.append(
                f'<a href="{html.escape(self._url(root, query, page=query.page + 1))}"'
                ' rel="next">older</a>'
            )
        parts = {
            "title": title,
            "nonce": nonce,
            "root": html.escape(root),
            "styles": "\n".join(styles),
            "scripts": "\n".join(
                f'<script nonce="{nonce}">\n{script}\n</script>' for script in scripts
            ),
            "templates": templates,
            "counts": count_items or "<li>no rows</li>",
            "optionchoices": option_choices,
            "option": html.escape(query.option or ""),
            "user": html.escape(query.user or ""),
            "since": html.escape(query.since.isoformat() if query.since else ""),
            "until": html.escape(query.until.isoformat() if query.until else ""),
            "anyoption": "" if query.option is not None else " selected",
            "nav": " · ".join(nav),
            "csv": html.escape(self._url(root, query, path="/flagged/csv", page=None)),
            "parquet": (
                f'<a id="parquet" href="'
                f'{html.escape(self._url(root, query, path="/flagged/parquet", page=None))}">'
                "download Parquet</a>"
                if _parquet_available()
                else ""
            ),
            # JSON in a <script> element: "<" escaped so that no value can close it
            # msgspec: NaN and infinities (a Dataframe's) as null, which JSON.parse takes
            "rows": msgspec.json.encode(data).decode().replace("<", "\\u003c"),
            "labels": json.dumps(
                [c.label or f"component {i}" for i, c in enumerate(self.components)]
            ).replace("<", "\\u003c"),
        }
        template = (_STATIC / "review.html").read_text(encoding="utf-8")
        return _PLACEHOLDER.sub(lambda match: parts[match[1]], template)

    def _option_url(self, root: str, query: _Query, option: str | None) -> str:
        return self._url(root, query, option=option, none=None if option else 1, page=1)

    def _url(self, root: str, query: _Query, *, path: str = "/flagged", **changes: Any) -> str:
        params: dict[str, Any] = {
            "option": query.option or None,
            "none": 1 if query.option == "" else None,
            "user": query.user,
            "since": query.since.isoformat() if query.since else None,
            "until": query.until.isoformat() if query.until else None,
            "per_page": query.per_page if query.per_page != DEFAULT_PER_PAGE else None,
            "page": query.page,
        }
        params.update(changes)
        kept = {k: v for k, v in params.items() if v is not None and not (k == "page" and v == 1)}
        return f"{root}{path}" + (f"?{urlencode(kept)}" if kept else "")


_PLACEHOLDER = re.compile(r"\{\{([a-z]+)\}\}")


class _BadQuery(ValueError):
    pass


class _Refused(Exception):
    pass


class _Query(msgspec.Struct):
    #: ``None``: any option; ``""``: rows flagged without an option (``none=1``)
    option: str | None
    user: str | None
    since: date | None
    until: date | None
    page: int
    per_page: int

    @classmethod
    def of(cls, request: Request) -> _Query:
        params = request.query_params
        option = "" if params.get("none") == "1" else (params.get("option") or None)
        user = params.get("user") or None
        since = _date(params.get("since"), "since")
        until = _date(params.get("until"), "until")
        page = _int(params.get("page"), "page", 1, 1, 10**9)
        per_page = _int(params.get("per_page"), "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
        return cls(option, user, since, until, page, per_page)

    def select(self, index: _Index) -> tuple[list[int], Counter[str | None]]:
        """The numbers of the rows that pass the filters, and the count per option of the
        rows that pass the others (user and dates)."""
        kept: list[int] = []
        counts: Counter[str | None] = Counter()
        for number, row in enumerate(index.rows):
            if self.user is not None and row.username != self.user:
                continue
            if self.since or self.until:
                day = row.timestamp.date() if row.timestamp else None
                if day is None:
                    continue
                if (self.since and day < self.since) or (self.until and day > self.until):
                    continue
            counts[row.flag or None] += 1
            if self.option is not None and (row.flag or "") != self.option:
                continue
            kept.append(number)
        return kept, counts


def _date(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _BadQuery(
            f"{name}={text[:40]!r} is not a date: give it as YYYY-MM-DD (2026-11-25)"
        ) from None


def _int(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 12 and low <= int(text) <= high):
        raise _BadQuery(f"{name}={text[:40]!r} must be a whole number from {low} to {high}")
    return int(text)


def _sortable(stamp: datetime | None) -> float:
    if stamp is None:
        return 0.0
    try:
        return stamp.timestamp()
    except (OverflowError, OSError, ValueError):
        return 0.0


def _file_paths(component: Component, value: Any) -> list[str]:
    """The absolute paths of the saved files a decoded value names."""
    if value is None or not component.holds_files:
        return []
    if isinstance(component, Gallery):
        return [path for path, _ in value if isinstance(path, str)]
    if isinstance(value, str):
        return [value]
    return [item for item in component.files(value) if isinstance(item, str)]


def _relative(path: str, root: str) -> str:
    """``path`` (a file :func:`~asyncflag.load_flagged` returned, under ``root``) relative
    to ``root``, with ``/`` between folders."""
    return Path(path).relative_to(root).as_posix()


def _read_inside(path: str, root: str) -> bytes:
    """The bytes of ``path``, a regular file inside ``root`` reached without a symlink.

    :raises _Refused: otherwise (or over :data:`MAX_FILE_SIZE`)
    """
    real_root = os.path.realpath(root)
    if os.path.commonpath([os.path.realpath(path), real_root]) != real_root:
        raise _Refused("the file is outside the flagging folder")
    if os.path.realpath(path) != os.path.join(real_root, os.path.relpath(path, root)):
        raise _Refused("the file is reached through a symlink")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        raise _Refused("the file cannot be opened (gone, or a symlink)") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _Refused("not a regular file")
        if info.st_size > MAX_FILE_SIZE:
            raise _Refused(f"the file is over {MAX_FILE_SIZE} bytes")
        return file.read(MAX_FILE_SIZE + 1)[:MAX_FILE_SIZE]


def _parquet_available() -> bool:
    """Whether ``asyncflag.export`` and pyarrow are installed (without importing them)."""
    return all(
        importlib.util.find_spec(name) is not None for name in ("asyncflag.export", "pyarrow")
    )


def _unreadable(exc: OSError) -> Response:
    return JSONResponse(
        {"error": f"cannot read the flagging folder: {exc.strerror or exc} ({exc.filename})"},
        status_code=503,
        headers=_HEADERS,
    )


def _not_found(why: str) -> Response:
    return JSONResponse({"error": f"not found: {why}"}, status_code=404, headers=_HEADERS)


def _option_name(option: str | None) -> str:
    """An option as the page names it: control and bidi characters as escapes (``\\x1b``,
    ``\\u202e``), so that no option reverses or hides the text around it."""
    if not option:
        return "(no option)"
    if option.isprintable():
        return option
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in option)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(msgspec.to_builtins(value, str_keys=True, enc_hook=str))
    except (TypeError, ValueError, msgspec.EncodeError):
        return repr(value)


def _csv_cell(value: Any, root: str) -> str:
    """A CSV cell: text escaped against spreadsheet formulas, files relative, others JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        if os.path.isabs(value) and value.startswith(root + os.sep):
            value = os.path.relpath(value, root)
        return escape(value)
    if isinstance(value, bool | int | float):
        return str(value)
    return escape(_text(value))


def review_routes(iface: Interface, *, refresh: float = 2.0) -> list[Route]:
    """The routes of the review page of ``iface`` (see the module's docstring).

    :param refresh: at least this many seconds between two checks of the dataset files
        (and at least four times as long as the last read took); 0 checks them on every
        request
    """
    review = Review(iface, refresh=refresh)
    handlers: Sequence[tuple[str, Callable[[Request], Any]]] = (
        ("/flagged", review.page),
        ("/flagged/file", review.file),
        ("/flagged/csv", review.csv),
        ("/flagged/parquet", review.parquet),
    )
    return [Route(path, handler, methods=["GET"]) for path, handler in handlers]
