"""Structured data: :class:`JSON`, :class:`Label` (classes, confidences), :class:`ColorPicker`."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from ..checks import positive_int_or_none
from ..errors import FlagValueError
from ..escaping import escape, escape_optional, unescape, unescape_optional
from .base import Cell, Component, ComponentSpec, Limit, json_text
from .values import check_encodable, is_numpy_bool, plain_json, short_repr

__all__ = ["JSON", "ColorPicker", "Label"]


class JSON(Component):
    """Any JSON value, stored as its JSON text.

    A value nesting lists and objects more than :data:`MAX_JSON_DEPTH` deep (or
    containing itself) is refused with :class:`FlagValueError`.

    :param max_size: the largest value accepted, in bytes of JSON
    """

    type_name = "json"
    shortcuts = ("json",)
    #: Gradio's keywords of the display, which have no effect here
    gradio_keywords = frozenset({"height", "max_height", "min_height", "open", "show_indices"})
    page_script = """asyncflag.register("json", {
  fill: (el, value) => { el.value = JSON.stringify(value, null, 2); },
  read: el => el.value.trim() === "" ? null : JSON.parse(el.value),
  show: (el, value) => { el.textContent = JSON.stringify(value, null, 2); },
});"""

    class Spec(ComponentSpec):
        max_size: Limit = None

    def __init__(self, label: str | None = None, *, max_size: int | None = None) -> None:
        super().__init__(label)
        self.max_size = positive_int_or_none("max_size", max_size)

    def check(self, value: Any) -> Any:
        """Return the value as it will read back: tuples become lists.

        Anything JSON would change (sets, non-string keys, NaN, objects) is refused,
        so that reading the cell back gives what was stored.
        """
        try:
            plain = plain_json(value)
        except TypeError as exc:
            raise FlagValueError(
                f"JSON {self.label!r} cannot store {short_repr(value)}: {exc}"
            ) from None
        if self.max_size is not None:
            size = len(msgspec.json.encode(plain))
            if size > self.max_size:
                raise FlagValueError(
                    f"JSON {self.label!r}: {size} bytes is over the limit of {self.max_size}"
                )
        return plain

    def to_arrow_value(self, value: Any) -> Any:
        """The value's JSON text (a JSON value has no one Arrow type); ``None`` (JSON's
        ``null`` and an empty cell alike) as a null."""
        return None if value is None else json_text(value)

    def to_cell(self, value: Any) -> Cell:
        return escape(msgspec.json.encode(value).decode())

    def from_cell(self, cell: str, flagging_dir: Path) -> Any:
        text = unescape(cell)
        return msgspec.json.decode(text) if text else None


class _Confidence(msgspec.Struct):
    label: str | int | float | None = None
    confidence: float | None = None


class _LabelCell(msgspec.Struct):
    """A Label's cell as Gradio writes it (``LabelData.model_dump()`` as JSON)."""

    label: str | int | float | None = None
    confidences: list[_Confidence] | None = None


Classes = dict[str | int | float, float]


class Label(Component):
    """A classification: a class (a string or a number), or classes with their
    confidences as ``{class: confidence}`` (as Gradio's ``Label``).

    A dict is stored sorted by confidence, highest first, and cut to the
    ``num_top_classes`` highest when that is set (as Gradio shows it); its confidences
    become floats (numpy scalars included). So :func:`~asyncflag.load_flagged` gives back
    the class as ``fn`` returned it, or the dict of the top classes. The cell is Gradio's:
    the JSON of ``{"label": <top class>, "confidences": [{"label": .., "confidence": ..}]}``
    (``"confidences": null`` for a lone class; ``None`` is ``{"label": null, "confidences":
    null}``), written by ``json.dumps`` as Gradio does. Unlike Gradio, a number class
    stays a number (Gradio writes ``str(3)``), and ``{}`` is kept apart from ``None``
    with ``"confidences": []`` (Gradio reads that back as ``{}`` too).

    :param num_top_classes: how many of the most confident classes to keep and show
    """

    type_name = "label"
    #: Gradio's keywords of the display, which have no effect here
    gradio_keywords = frozenset({"color", "show_heading"})

    shortcuts = ("label",)
    page_style = """
.output[data-type=label] { white-space: normal; }
input[data-type=label] { font: inherit; padding: .4rem; border: 1px solid #bbb;
  border-radius: 4px; }
.label-top { font-size: 1.4rem; font-weight: 700; margin-bottom: .4rem; }
.label-row { display: grid; grid-template-columns: 1fr auto; gap: 0 .6rem; margin: .25rem 0; }
.label-row .bar { grid-column: 1 / span 2; height: .45rem; border-radius: 3px;
  background: #fed7aa; }
.label-row .bar span { display: block; height: 100%; border-radius: 3px; background: #f97316; }
"""
    page_script = """asyncflag.register("label", {
  read: el => el.value === "" ? null : el.value,
  show(el, value) {
    const top = document.createElement("div");
    top.className = "label-top";
    top.textContent = value.label === null ? "" : String(value.label);
    el.append(top);
    for (const c of value.confidences || []) {
      const row = document.createElement("div");
      row.className = "label-row";
      const name = document.createElement("span");
      name.textContent = String(c.label);
      const percent = document.createElement("span");
      percent.textContent = `${Math.round(c.confidence * 100)}%`;
      const bar = document.createElement("div");
      bar.className = "bar";
      const fill = document.createElement("span");
      fill.style.width = `${Math.max(0, Math.min(1, c.confidence)) * 100}%`;
      bar.append(fill);
      row.append(name, percent, bar);
      el.append(row);
    }
  },
});"""

    class Spec(ComponentSpec):
        num_top_classes: Limit = None

    def __init__(self, label: str | None = None, *, num_top_classes: int | None = None) -> None:
        super().__init__(label)
        self.num_top_classes = positive_int_or_none("num_top_classes", num_top_classes)

    def _class(self, value: Any) -> str | int | float:
        if isinstance(value, str):
            if not value.isascii():
                check_encodable(value, self)
            return str(value)
        if isinstance(value, bool) or is_numpy_bool(value):
            raise self._reject(value, "a class (a string or a number) or {class: confidence}")
        if isinstance(value, int):
            return int(_json_int(value, self))
        if hasattr(value, "__index__"):  # numpy ints
            return int(_json_int(int(value.__index__()), self))
        if isinstance(value, float) or hasattr(value, "__float__"):
            number = float(value)
            if not math.isfinite(number):
                raise FlagValueError(f"Label {self.label!r}: a class cannot be {number}")
            return number
        raise self._reject(value, "a class (a string or a number) or {class: confidence}")

    def check(self, value: Any) -> str | int | float | Classes | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            return self._class(value)
        confidences: list[tuple[str | int | float, float]] = []
        for key, confidence in value.items():
            try:
                if isinstance(confidence, str | bytes | bool) or is_numpy_bool(confidence):
                    raise TypeError
                number = float(confidence)
            except (TypeError, ValueError, OverflowError):
                raise FlagValueError(
                    f"Label {self.label!r}: the confidence of {short_repr(key)} must be a "
                    f"number, got {short_repr(confidence)}"
                ) from None
            if not math.isfinite(number):
                raise FlagValueError(
                    f"Label {self.label!r}: the confidence of {short_repr(key)} is {number}; "
                    "give a finite number (usually 0 to 1)"
                )
            confidences.append((self._class(key), number))
        confidences.sort(key=lambda pair: pair[1], reverse=True)  # stable, as Gradio's
        if self.num_top_classes is not None:
            confidences = confidences[: self.num_top_classes]
        return dict(confidences)

    @staticmethod
    def _gradio_form(value: Any) -> dict[str, Any]:
        if value is None:
            return {"label": None, "confidences": None}
        if not isinstance(value, dict):
            return {"label": value, "confidences": None}
        return {
            "label": next(iter(value), None),
            "confidences": [{"label": k, "confidence": v} for k, v in value.items()],
        }

    def to_cell(self, value: Any) -> Cell:
        return escape(json.dumps(self._gradio_form(value)))  # as Gradio: json.dumps

    def from_cell(self, cell: str, flagging_dir: Path) -> Any:
        text = unescape(cell)
        if not text:
            return None
        try:
            data = msgspec.json.decode(text, type=_LabelCell)
        except msgspec.DecodeError as exc:
            raise ValueError(
                f"a Label cell is the JSON of {{'label': .., 'confidences': [..]}}: {exc}"
            ) from None
        if data.confidences is None:
            return data.label
        return {c.label: c.confidence for c in data.confidences}

    async def to_client(self, value: Any, max_file_size: int) -> Any:
        return self._gradio_form(value)

    def control_html(self, attributes: str) -> str:
        return f'<input type="text" placeholder="a class" {attributes}>'

    def config(self) -> dict[str, Any]:
        return {**super().config(), "num_top_classes": self.num_top_classes}


def _json_int(value: int, component: Component) -> int:
    # value, if Python can write it as JSON text
    try:
        plain_json(value)
    except TypeError as exc:
        raise FlagValueError(f"{type(component).__name__} {component.label!r}: {exc}") from None
    return value


_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")


class ColorPicker(Component):
    """A colour as ``"#rrggbb"`` (or ``"#rgb"``), picked on the page (as Gradio's
    ``ColorPicker``). ``fn`` gets the string and may return one; other text is refused at
    the call. The cell is the string (as Gradio writes it); ``None`` is an empty cell."""

    type_name = "colorpicker"
    shortcuts = ("colorpicker",)
    page_style = """
input[type=color] { width: 4rem; height: 2.2rem; padding: .1rem; border: 1px solid #bbb;
  border-radius: 4px; }
.swatch { display: inline-block; width: 1.4rem; height: 1.4rem; border: 1px solid #888;
  border-radius: 3px; vertical-align: middle; margin-right: .5rem; }
"""
    page_script = """asyncflag.register("colorpicker", {
  show(el, value) {
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = value;
    el.append(swatch, document.createTextNode(value));
  },
});"""

    class Spec(ComponentSpec):
        value: str | None = None

    def __init__(self, value: str | None = None, *, label: str | None = None) -> None:
        super().__init__(label)
        self.value = self.check(value)

    def check(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not _COLOR.fullmatch(value):
            raise self._reject(value, 'a colour as "#rrggbb" (or "#rgb")')
        return str(value)

    def to_cell(self, value: Any) -> Cell:
        return escape_optional(value)

    def from_cell(self, cell: str, flagging_dir: Path) -> str | None:
        return unescape_optional(cell)

    def control_html(self, attributes: str) -> str:
        start = self.value or "#000000"
        if len(start) == 4:  # the page's picker takes #rrggbb only
            start = "#" + "".join(c * 2 for c in start[1:])
        return f'<input type="color" value="{start}" {attributes}>'

    def config(self) -> dict[str, Any]:
        return {**super().config(), "value": self.value}
