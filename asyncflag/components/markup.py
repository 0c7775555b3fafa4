"""Text shown formatted: :class:`Code`, :class:`Markdown` and :class:`HTML`.

Each stores its text as it is (a CSV cell escaped like a Textbox's, ``None`` kept
apart from ``""``). The page shows Markdown rendered by markdown-it-py and HTML as
HTML, both sanitised by nh3 on the server (:meth:`Markdown.to_client`,
:meth:`HTML.to_client`) before they reach the page: no script, event handler or
``javascript:`` link of a value ever runs there.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checks import positive_int, positive_int_or_none
from ..errors import FlagValueError
from ..escaping import escape_optional, unescape_optional
from .base import Cell, Component, ComponentSpec, Limit
from .values import check_encodable

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

__all__ = ["HTML", "LANGUAGES", "Code", "Markdown"]

#: the languages Gradio's ``Code`` takes (``None`` for plain text)
LANGUAGES = (
    "python", "c", "cpp", "markdown", "latex", "json", "html", "css", "javascript",
    "jinja2", "typescript", "yaml", "dockerfile", "shell", "r", "sql", "sql-msSQL",
    "sql-mySQL", "sql-mariaDB", "sql-sqlite", "sql-cassandra", "sql-plSQL", "sql-hive",
    "sql-pgSQL", "sql-gql", "sql-gpSQL", "sql-sparkSQL", "sql-esper",
)  # fmt: skip


class _Text(Component):
    """Text stored as it is, ``None`` apart from ``""``, at most ``max_length`` characters."""

    def __init__(self, label: str | None = None, *, max_length: int | None = None) -> None:
        super().__init__(label)
        self.max_length = positive_int_or_none("max_length", max_length)

    def check(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._reject(value, "a string")
        if self.max_length is not None and len(value) > self.max_length:
            raise FlagValueError(
                f"{type(self).__name__} {self.label!r}: {len(value)} characters is over the "
                f"limit of {self.max_length} (max_length)"
            )
        if not value.isascii():
            check_encodable(value, self)
        return str(value)

    def to_cell(self, value: Any) -> Cell:
        return escape_optional(value)

    def from_cell(self, cell: str, flagging_dir: Path) -> str | None:
        return unescape_optional(cell)


class Code(_Text):
    """Source code in a monospace block, as Gradio's ``Code``; ``fn`` gets and returns a
    string (or ``None``). Unlike Gradio, an output is not stripped of its outer blank
    lines: it is stored, and read back, as ``fn`` returned it.

    :param value: the code in the page's editor when it opens
    :param language: one of :data:`LANGUAGES` (or ``None``), as Gradio's
    :param lines: the height of the page's editor, in lines
    :param max_length: the longest code accepted, in characters
    """

    type_name = "code"
    #: Gradio's keywords of the editor, which have no effect here
    gradio_keywords = frozenset({"autocomplete", "max_lines", "show_line_numbers", "wrap_lines"})

    shortcuts = ("code",)
    page_style = """
textarea.code, .output[data-type=code] pre { font-family: ui-monospace, "DejaVu Sans Mono",
  Menlo, Consolas, monospace; font-size: .85rem; tab-size: 4; }
.output[data-type=code] pre { margin: 0; white-space: pre; overflow-x: auto; }
"""
    page_script = """asyncflag.register("code", {
  show(el, value) {
    const pre = document.createElement("pre");
    const code = document.createElement("code");
    code.textContent = value;
    pre.append(code);
    el.append(pre);
  },
});"""

    class Spec(ComponentSpec):
        value: str | None = None
        language: str | None = None
        lines: int = 5
        max_length: Limit = None

    def __init__(
        self,
        value: str | None = None,
        language: str | None = None,
        *,
        lines: int = 5,
        label: str | None = None,
        max_length: int | None = None,
    ) -> None:
        super().__init__(label, max_length=max_length)
        if language is not None and language not in LANGUAGES:
            raise FlagValueError(
                f"Code language {language!r} is not one Gradio knows: use None or one of "
                f"{', '.join(LANGUAGES)}"
            )
        self.language = language
        self.lines = positive_int("lines", lines)
        self.value = self.check(value)

    def control_html(self, attributes: str) -> str:
        language = html.escape(self.language or "text")
        return (
            f'<textarea class="code" rows="{self.lines}" spellcheck="false" '
            f'data-language="{language}" {attributes}>{html.escape(self.value or "")}</textarea>'
        )

    def config(self) -> dict[str, Any]:
        return {**super().config(), "language": self.language, "lines": self.lines}


@cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    # CommonMark with GitHub's tables and strikethrough; raw HTML passes to nh3
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def sanitised(markup: str) -> str:
    """``markup`` with what could run in a page removed (scripts, event handlers,
    ``javascript:`` links, styles), by nh3 (the ammonia sanitiser) with its defaults."""
    import nh3

    return nh3.clean(markup)


_SHOW_MARKUP = """
  show(el, value) { el.innerHTML = value; },  // sanitised by the server (nh3)
"""


class Markdown(_Text):
    """Markdown text, shown rendered (as Gradio's ``Markdown``). ``fn`` returns the
    Markdown source, which is what is stored and what
    :func:`~asyncflag.load_flagged` returns (unlike Gradio, not dedented); the page gets
    it rendered by markdown-it-py (CommonMark, tables, strikethrough) and sanitised by
    nh3 on the server.

    :param value: the text an input's box holds when the page opens
    :param max_length: the longest text accepted, in characters
    """

    type_name = "markdown"
    #: Gradio's keywords of the display, which have no effect here (the HTML is
    #: always sanitised)
    gradio_keywords = frozenset(
        {
            "header_links",
            "height",
            "latex_delimiters",
            "line_breaks",
            "max_height",
            "min_height",
            "padding",
            "rtl",
            "sanitize_html",
        }
    )

    shortcuts = ("markdown",)
    page_style = """
.output[data-type=markdown], .output[data-type=html] { white-space: normal; }
.output[data-type=markdown] table { border-collapse: collapse; }
.output[data-type=markdown] th, .output[data-type=markdown] td { border: 1px solid #ccc;
  padding: .2rem .5rem; }
"""
    page_script = f'asyncflag.register("markdown", {{{_SHOW_MARKUP}}});'

    class Spec(ComponentSpec):
        value: str | None = None
        max_length: Limit = None

    def __init__(
        self, value: str | None = None, *, label: str | None = None, max_length: int | None = None
    ) -> None:
        super().__init__(label, max_length=max_length)
        self.value = self.check(value)

    async def to_client(self, value: Any, max_file_size: int) -> Any:
        return None if value is None else sanitised(_markdown().render(value))

    def control_html(self, attributes: str) -> str:
        return f'<textarea rows="4" {attributes}>{html.escape(self.value or "")}</textarea>'


class HTML(_Text):
    """HTML, shown as HTML (as Gradio's ``HTML``, without its templates and scripts).
    ``fn`` returns the HTML text, which is what is stored and what
    :func:`~asyncflag.load_flagged` returns; the page gets it sanitised by nh3 on the
    server, so a value's scripts and event handlers never run.

    :param value: the text an input's box holds when the page opens
    :param max_length: the longest text accepted, in characters
    """

    type_name = "html"
    #: Gradio's keywords of the display, which have no effect here
    gradio_keywords = frozenset({"autoscroll", "max_height", "min_height", "padding"})

    shortcuts = ("html",)
    page_script = f'asyncflag.register("html", {{{_SHOW_MARKUP}}});'

    class Spec(ComponentSpec):
        value: str | None = None
        max_length: Limit = None

    def __init__(
        self, value: str | None = None, *, label: str | None = None, max_length: int | None = None
    ) -> None:
        super().__init__(label, max_length=max_length)
        self.value = self.check(value)

    async def to_client(self, value: Any, max_file_size: int) -> Any:
        return None if value is None else sanitised(value)

    def control_html(self, attributes: str) -> str:
        return f'<textarea rows="4" {attributes}>{html.escape(self.value or "")}</textarea>'
