"""Free text: :class:`Textbox`, and text with marked spans: :class:`HighlightedText`."""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import msgspec

from ..checks import one_of, positive_int, positive_int_or_none, writable_text
from ..errors import FlagValueError
from ..escaping import escape, escape_many, unescape
from .base import MAX_LABEL_LENGTH, Cell, Component, ComponentSpec, Limit
from .values import check_encodable, is_numpy_bool, short_repr

__all__ = ["MAX_HIGHLIGHT_BYTES", "HighlightedText", "Textbox"]


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
    :param type: the page's box, as Gradio's: ``"text"``, ``"password"`` (the typing is
        hidden) or ``"email"`` (a one-line box each, for the last two); what ``fn`` gets
        and what is stored is the text either way
    """

    type_name = "textbox"
    shortcuts = ("text", "textbox")
    #: Gradio's keywords of the box's look and behaviour, which have no effect here
    gradio_keywords = frozenset(
        {
            "autofocus",
            "autoscroll",
            "html_attributes",
            "max_lines",
            "rtl",
            "stop_btn",
            "submit_btn",
            "text_align",
        }
    )
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

    page_style = """input[data-type=textbox] { font: inherit; padding: .4rem;
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
        type: Literal["text", "password", "email"] = "text",
    ) -> None:
        super().__init__(label)
        self.max_length = positive_int_or_none("max_length", max_length)
        self.type = one_of("type", type, ("text", "password", "email"))
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
            "text_type": self.type,
        }

    def control_html(self, attributes: str) -> str:
        extra = ""
        if self.placeholder:
            extra += f' placeholder="{html.escape(self.placeholder)}"'
        if self.max_length is not None:
            extra += f' maxlength="{self.max_length}"'
        if self.type != "text":
            return f'<input type="{self.type}"{extra} {attributes}>'
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

    def check_shortcut(self, name: str) -> str | None:
        # an ASCII string is encodable; its length is what max_length bounds
        if self.max_length is None:
            return f"type({name}) is str and {name}.isascii()"
        return f"type({name}) is str and {name}.isascii() and len({name}) <= {self.max_length:d}"

    def to_cell(self, value: Any) -> Cell:
        return escape(value)

    def to_cells(self, values: Sequence[Any]) -> list[Cell]:
        # the writer's hottest loop: one list comprehension, no copy (a list of str is a
        # list of cells)
        return cast("list[Cell]", escape_many(values))


#: the largest HighlightedText value, in bytes of its JSON cell, unless told otherwise
MAX_HIGHLIGHT_BYTES = 1024 * 1024
_COLOR_NAME = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{1,30}")

#: a highlighted text as asyncflag stores it: ``(token, class or confidence or None)``
Highlighted = list[tuple[str, str | float | None]]


class _Token(msgspec.Struct):
    """One token of a HighlightedText cell, as Gradio writes it."""

    token: str
    class_or_confidence: str | float | None = None


class HighlightedText(Component):
    """Text with spans marked by a class or a confidence, as Gradio's ``HighlightedText``.

    ``fn`` may return a list of ``(token, class)`` pairs (the class a string, a
    confidence number, or ``None``), or ``{"text": ..., "entities": [{"entity" (or
    "entity_group"), "start", "end"}]}``, turned into pairs at the call as Gradio's
    ``postprocess`` does (with the empty tokens between entities it makes). ``fn``
    receives, and :func:`~asyncflag.load_flagged` gives, the list of ``(token, class)``
    tuples (a confidence as a float). The cell is Gradio's: the JSON of
    ``[{"token": .., "class_or_confidence": ..}]``; ``None`` is an empty cell. Anything
    else is refused at the call, as is a value over ``max_size`` bytes of JSON.

    :param color_map: the colour of each class on the page (``#hex`` or a CSS name)
    :param combine_adjacent: join neighbouring tokens of the same class (as Gradio)
    :param adjacent_separator: put between joined tokens
    :param max_size: the largest value accepted, in bytes of its JSON cell
    """

    type_name = "highlightedtext"
    #: Gradio's keywords of the display, which have no effect here
    gradio_keywords = frozenset({"rtl", "show_inline_category", "show_legend", "show_whitespaces"})

    shortcuts = ("highlightedtext",)
    page_style = """
.highlighted { line-height: 2; white-space: pre-wrap; }
.highlighted mark { border-radius: 4px; padding: .1rem .2rem; color: inherit; }
.highlighted mark .tag { font-size: .7rem; font-weight: 700; margin-left: .3rem;
  padding: 0 .25rem; border-radius: 3px; background: rgba(0, 0, 0, .15);
  text-transform: uppercase; }
"""
    page_script = """(() => {
  const palette = ["#fde68a", "#bfdbfe", "#bbf7d0", "#fecaca", "#ddd6fe", "#fed7aa",
    "#a5f3fc", "#f5d0fe"];
  asyncflag.register("highlightedtext", {
    read: el => el.value === "" ? null : [[el.value, null]],
    show(el, value) {
      const colors = JSON.parse(el.dataset.colors || "{}");
      const box = document.createElement("div");
      box.className = "highlighted";
      for (const [token, kind] of value) {
        if (kind === null) { box.append(document.createTextNode(token)); continue; }
        const mark = document.createElement("mark");
        mark.append(document.createTextNode(token));
        if (typeof kind === "number") {
          const c = Math.max(-1, Math.min(1, kind));
          mark.style.background = c >= 0 ? `rgba(239, 68, 68, ${c})` : `rgba(59, 130, 246, ${-c})`;
          mark.title = String(kind);
        } else {
          if (!Object.hasOwn(colors, kind))
            colors[kind] = palette[Object.keys(colors).length % palette.length];
          mark.style.background = colors[kind];
          const tag = document.createElement("span");
          tag.className = "tag";
          tag.textContent = kind;
          mark.append(tag);
        }
        box.append(mark);
      }
      el.append(box);
    },
  });
})();"""

    class Spec(ComponentSpec):
        color_map: dict[str, str] | None = None
        combine_adjacent: bool = False
        adjacent_separator: str = ""
        max_size: Limit = None

    def __init__(
        self,
        value: Any = None,
        *,
        color_map: dict[str, str] | None = None,
        combine_adjacent: bool = False,
        adjacent_separator: str = "",
        label: str | None = None,
        max_size: int | None = None,
    ) -> None:
        super().__init__(label)
        if color_map is not None and (
            not isinstance(color_map, Mapping)
            or not all(
                isinstance(k, str) and isinstance(v, str) and _COLOR_NAME.fullmatch(v)
                for k, v in color_map.items()
            )
        ):
            raise FlagValueError(
                f"HighlightedText {self.label!r}: color_map must map class names to colours "
                f'("#hex" or a CSS colour name), got {short_repr(color_map)}'
            )
        if not isinstance(adjacent_separator, str):
            raise FlagValueError(
                f"HighlightedText {self.label!r}: adjacent_separator must be a string"
            )
        #: the colour of each class on the page
        self.color_map = None if color_map is None else dict(color_map)
        #: join neighbouring tokens of the same class, as Gradio's ``combine_adjacent``
        self.combine_adjacent = bool(combine_adjacent)
        #: put between joined tokens
        self.adjacent_separator = adjacent_separator
        self.max_size = positive_int("max_size", max_size or MAX_HIGHLIGHT_BYTES)
        #: the value shown at first
        self.value = self.check(value)

    def _class(self, value: Any, number: int) -> str | float | None:
        if value is None:
            return None
        if isinstance(value, str):
            check_encodable(value, self)
            return str(value)
        numeric = isinstance(value, int | float) or (
            type(value).__module__ == "numpy" and hasattr(value, "__float__")
        )
        if numeric and not isinstance(value, bool) and not is_numpy_bool(value):
            try:
                confidence = float(value)
            except OverflowError:  # an int too large for a float
                confidence = math.inf
            if math.isfinite(confidence):
                return confidence
        raise FlagValueError(
            f"HighlightedText {self.label!r}: the class of token {number} is "
            f"{short_repr(value)}; give a string, a finite confidence number or None"
        )

    def _from_entities(self, value: Mapping[str, Any]) -> list[tuple[Any, Any]]:
        # as Gradio's HighlightedText.postprocess
        text, entities = value.get("text"), value.get("entities")
        if (
            not isinstance(text, str)
            or not isinstance(entities, Sequence)
            or set(value)
            - {
                "text",
                "entities",
            }
        ):
            raise self._reject(value, '{"text": str, "entities": [...]} or (token, class) pairs')
        if len(entities) == 0:
            return [(text, None)]
        spans = []
        for number, entity in enumerate(entities):
            start = entity.get("start") if isinstance(entity, Mapping) else None
            end = entity.get("end") if isinstance(entity, Mapping) else None
            if not (
                isinstance(start, int)
                and isinstance(end, int)
                and not isinstance(start, bool)
                and not isinstance(end, bool)
                and 0 <= start <= end <= len(text)
            ):
                raise FlagValueError(
                    f"HighlightedText {self.label!r}: entity {number} is "
                    f"{short_repr(entity)}; each entity is a dict with 'entity' (or "
                    f"'entity_group') and integer 'start' <= 'end' within the text "
                    f"({len(text)} characters)"
                )
            spans.append((start, end, entity.get("entity") or entity.get("entity_group")))
        pairs: list[tuple[Any, Any]] = []
        index = 0
        for start, end, kind in sorted(spans, key=lambda span: span[0]):
            pairs.append((text[index:start], None))
            pairs.append((text[start:end], kind))
            index = end
        pairs.append((text[index:], None))
        return pairs

    def check(self, value: Any) -> Highlighted | None:
        """Return the value as ``(token, class)`` tuples, as it will read back.

        :raises FlagValueError: for anything else, or a value over ``max_size``
        """
        if value is None:
            return None
        if isinstance(value, Mapping):
            pairs: Any = self._from_entities(value)
        elif isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise self._reject(value, '(token, class) pairs or {"text": .., "entities": [..]}')
        else:
            pairs = value
        checked: Highlighted = []
        for number, pair in enumerate(pairs):
            if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise FlagValueError(
                    f"HighlightedText {self.label!r}: item {number} is {short_repr(pair)}; "
                    "each item is a (token, class) pair"
                )
            token, kind = pair
            if not isinstance(token, str):
                raise FlagValueError(
                    f"HighlightedText {self.label!r}: token {number} is {short_repr(token)}; "
                    "a token is a string"
                )
            check_encodable(token, self)
            checked.append((str(token), self._class(kind, number)))
        if self.combine_adjacent:
            checked = self._combined(checked)
        size = len(self._json(checked))
        if size > self.max_size:
            raise FlagValueError(
                f"HighlightedText {self.label!r}: {size} bytes of JSON is over the limit of "
                f"{self.max_size}; send less text or raise max_size"
            )
        return checked

    def _combined(self, pairs: Highlighted) -> Highlighted:
        # as Gradio's combine_adjacent: empty tokens dropped, same-class neighbours joined
        output: Highlighted = []
        for token, kind in pairs:
            if not token:
                continue
            if output and output[-1][1] == kind:
                output[-1] = (output[-1][0] + self.adjacent_separator + token, kind)
            else:
                output.append((token, kind))
        return output

    @staticmethod
    def _json(pairs: Highlighted) -> str:
        # as Gradio: json.dumps of HighlightedTextData.model_dump()
        return json.dumps([{"token": t, "class_or_confidence": c} for t, c in pairs])

    def to_cell(self, value: Any) -> Cell:
        return "" if value is None else escape(self._json(value))

    def from_cell(self, cell: str, flagging_dir: Path) -> Highlighted | None:
        text = unescape(cell)
        if not text:
            return None
        try:
            tokens = msgspec.json.decode(text, type=list[_Token])
        except msgspec.DecodeError as exc:
            raise ValueError(
                "a HighlightedText cell is the JSON of "
                f"[{{'token': .., 'class_or_confidence': ..}}]: {exc}"
            ) from None
        return [
            (
                t.token,
                float(t.class_or_confidence)
                if isinstance(t.class_or_confidence, int)
                else t.class_or_confidence,
            )
            for t in tokens
        ]

    async def to_client(self, value: Any, max_file_size: int) -> Any:
        return None if value is None else [list(pair) for pair in value]

    def control_html(self, attributes: str) -> str:
        start = "" if not self.value else "".join(token for token, _ in self.value)
        return f'<textarea rows="3" placeholder="text" {attributes}>{html.escape(start)}</textarea>'

    def output_html(self, index: int) -> str:
        """As :meth:`Component.output_html`, with the colour map for the page's script."""
        colors = html.escape(json.dumps(self.color_map or {}))
        return (
            f'<div class="field"><label>{html.escape(self.label or "")}</label>'
            f'<div class="output" data-index="{index}" data-type="highlightedtext" '
            f'data-colors="{colors}"></div></div>'
        )

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "color_map": self.color_map,
            "combine_adjacent": self.combine_adjacent,
            "adjacent_separator": self.adjacent_separator,
            "max_size": self.max_size,
        }
