"""Free text: :class:`Textbox`."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Annotated, Any, cast

import msgspec

from ..checks import positive_int, positive_int_or_none, writable_text
from ..errors import FlagValueError
from ..escaping import escape, escape_many
from .base import MAX_LABEL_LENGTH, Cell, Component, ComponentSpec, Limit
from .values import check_encodable

__all__ = ["Textbox"]


#: a placeholder as a stream's schema holds it
Placeholder = Annotated[str, msgspec.Meta(max_length=MAX_LABEL_LENGTH)] | None
#: the most rows a Textbox's box may ask for
MAX_LINES = 1_000


class Textbox(Component):
    """Free text. ``None`` is stored as the empty string.

    :param lines: the height of the page's box in lines, as in Gradio: ``1`` (the
        default) is a one-line ``<input>`` where Enter submits, more a ``<textarea>``
    :param placeholder: a hint shown in the empty box
    :param max_length: the longest text accepted, in characters (checked at the call,
        and the page's box takes no more)
    """

    type_name = "textbox"
    shortcuts = ("text", "textbox")
    page_script = """asyncflag.register("textbox", {
  setup(el) {
    if (el.tagName !== "INPUT") return;
    el.addEventListener("keydown", event => {
      if (event.key === "Enter" && !event.isComposing) {
        event.preventDefault();
        document.getElementById("submit").click();
      }
    });
  },
});"""

    page_style = """input[type=text][data-type=textbox] { font: inherit; padding: .4rem;
  border: 1px solid #bbb; border-radius: 4px; }"""

    class Spec(ComponentSpec):
        max_length: Limit = None
        lines: Annotated[int, msgspec.Meta(ge=1, le=MAX_LINES)] = 1
        placeholder: Placeholder = None

    def __init__(
        self,
        label: str | None = None,
        *,
        lines: int = 1,
        placeholder: str | None = None,
        max_length: int | None = None,
    ) -> None:
        super().__init__(label)
        self.max_length = positive_int_or_none("max_length", max_length)
        positive_int("lines", lines)
        if lines > MAX_LINES:
            raise FlagValueError(f"lines must be at most {MAX_LINES}, got {lines}")
        self.lines = lines
        if placeholder is not None:
            if not isinstance(placeholder, str):
                raise FlagValueError(f"placeholder must be a string, got {placeholder!r}")
            writable_text("the placeholder", placeholder)
            if len(placeholder) > MAX_LABEL_LENGTH:
                raise FlagValueError(
                    f"a placeholder of {len(placeholder)} characters is over the limit of "
                    f"{MAX_LABEL_LENGTH}"
                )
        self.placeholder = placeholder

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "lines": self.lines,
            "placeholder": self.placeholder,
            "max_length": self.max_length,
        }

    def control_html(self, attributes: str) -> str:
        extra = ""
        if self.placeholder:
            extra += f' placeholder="{html.escape(self.placeholder)}"'
        if self.max_length is not None:
            extra += f' maxlength="{self.max_length}"'
        if self.lines == 1:
            return f'<input type="text"{extra} {attributes}>'
        return f'<textarea rows="{self.lines}"{extra} {attributes}></textarea>'

    def check(self, value: Any) -> str:
        if isinstance(value, str):
            if self.max_length is not None and len(value) > self.max_length:
                raise FlagValueError(
                    f"Textbox {self.label!r}: {len(value)} characters is over the limit "
                    f"of {self.max_length}"
                )
            if not value.isascii():
                check_encodable(value, self)
            return value
        if value is None:
            return ""
        raise self._reject(value, "a string")

    def to_cell(self, value: Any) -> Cell:
        return escape(value)

    def to_cells(self, values: Sequence[Any]) -> list[Cell]:
        # the writer's hottest loop: one list comprehension, no copy (a list of str is a
        # list of cells)
        return cast("list[Cell]", escape_many(values))
