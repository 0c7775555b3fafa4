"""Choices: :class:`Dropdown`, :class:`Radio` (one of a few), :class:`CheckboxGroup` (several)."""

from __future__ import annotations

import html
import itertools
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from ..checks import one_of
from ..errors import FlagValueError
from ..escaping import PREFIX, escape, escape_optional, unescape, unescape_optional
from .base import Cell, Component, ComponentSpec, json_text
from .values import (
    LONG_INT_BITS,
    MAX_INT_DIGITS,
    check_encodable,
    fits_digits,
    parse_number,
    plain_json,
    short_repr,
)

__all__ = ["CheckboxGroup", "Dropdown", "Radio"]


class Dropdown(Component):
    """One of a fixed set of choices (or several, with ``multiselect=True``).

    ``choices`` are values or ``(label, value)`` pairs, as in Gradio. A value reads
    back with its type: the choice ``1`` is written as the number 1 and read back as
    the int 1. Where a cell could hold either a number or a string (custom values,
    or numeric choices), a string that looks like a number gets the escaping
    apostrophe, so ``"3"`` and ``3`` stay apart.

    :param type: what ``fn`` gets, as in Gradio: ``"value"`` (the chosen value, or the
        list of them with ``multiselect``) or ``"index"`` (its index in ``choices``, or
        the list of them; ``None`` for a custom value). The cell stays the value, as
        Gradio flags it, so :func:`~asyncflag.load_flagged` returns the value
    """

    type_name = "dropdown"
    shortcuts = ("dropdown",)
    #: Gradio's ``filterable`` (typing to filter the choices) has no effect here
    gradio_keywords = frozenset({"filterable"})
    preprocess_in_thread = False
    page_script = """asyncflag.register("dropdown", {
  read(el) {
    const picked = Array.from(el.selectedOptions).map(o => JSON.parse(o.value));
    return el.multiple ? picked : (picked.length ? picked[0] : null);
  },
});"""

    class Spec(ComponentSpec):
        choices: list[tuple[str, str | int | float]] = msgspec.field(default_factory=list)
        multiselect: bool = False
        allow_custom_value: bool = False

    def __init__(
        self,
        choices: Sequence[str | int | float | tuple[str, str | int | float]] = (),
        label: str | None = None,
        *,
        multiselect: bool = False,
        allow_custom_value: bool = False,
        type: Literal["value", "index"] = "value",
    ) -> None:
        super().__init__(label)
        #: what ``fn`` gets: the chosen value(s) or their index (indices) in ``choices``
        self.type = one_of("type", type, ("value", "index"))
        self.choices: list[tuple[str, str | int | float]] = [
            (c[0], c[1]) if isinstance(c, tuple) else (str(c), c) for c in choices
        ]
        for _, value in self.choices:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise FlagValueError(f"a Dropdown choice is a string or a number, got {value!r}")
            if multiselect and isinstance(value, float) and not math.isfinite(value):
                raise FlagValueError(f"a multiselect Dropdown (stored as JSON) cannot hold {value}")
        self.multiselect = multiselect
        self.allow_custom_value = allow_custom_value or not self.choices
        # 1.0 == 1: a value equal to a choice is stored as that choice
        self._values: dict[str | int | float, str | int | float] = {
            value: value for _, value in self.choices
        }
        self._mixed = self.allow_custom_value or any(
            not isinstance(value, str) for value in self._values
        )
        #: each choice's index, the first one for a value listed twice (Gradio's ``index``)
        self._indices: dict[str | int | float, int] = {}
        for index, (_, value) in enumerate(self.choices):
            self._indices.setdefault(value, index)

    def _check_one(self, value: Any) -> str | int | float:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self._reject(value, "a string or a number")
        if isinstance(value, str) and not value.isascii():
            check_encodable(value, self)
        if type(value) is int and value.bit_length() > LONG_INT_BITS:
            if self.multiselect:  # JSON, which reads back one digit fewer when negative
                try:
                    plain_json(value)
                except TypeError as exc:
                    raise FlagValueError(f"{type(self).__name__} {self.label!r}: {exc}") from None
            elif not fits_digits(value, MAX_INT_DIGITS):  # a number cell: Python's limit
                raise FlagValueError(
                    f"{type(self).__name__} {self.label!r}: an int of more than "
                    f"{MAX_INT_DIGITS} digits is too long to be written as text"
                )
        if self.multiselect and isinstance(value, float) and not math.isfinite(value):
            raise FlagValueError(
                f"{type(self).__name__} {self.label!r}: a multiselect is stored as JSON, "
                f"which has no {value}"
            )
        if value in self._values:  # a string never equals a number, so types match
            return self._values[value]
        if not self.allow_custom_value:
            raise FlagValueError(
                f"{type(self).__name__} {self.label!r}: {short_repr(value)} is not one of "
                f"the choices {self._choices_shown()}"
            )
        custom: str | int | float = value
        return custom

    def _choices_shown(self) -> str:
        """The choices for an error message: the first few of a long list, and how many."""
        shown = [short_repr(value) for value in itertools.islice(self._values, 20)]
        if len(self._values) <= len(shown):
            return f"[{', '.join(sorted(shown))}]"
        return f"[{', '.join(shown)}] and {len(self._values) - len(shown)} more"

    def preprocess(self, value: Any, run_dir: Path) -> Any:
        """The checked value(s), or with ``type="index"`` their index (indices) in
        ``choices`` as Gradio's ``preprocess`` gives them (``None`` for a value that is
        not a choice)."""
        if self.type == "value" or value is None:
            return value
        if self.multiselect:
            return [self._indices.get(v) for v in value]
        return self._indices.get(value)

    def check(self, value: Any) -> Any:
        if value is None:
            return [] if self.multiselect else None
        if self.multiselect:
            if isinstance(value, str | bytes | bytearray) or not isinstance(value, Sequence):
                raise self._reject(value, "a list of choices")
            return [self._check_one(v) for v in value]
        return self._check_one(value)

    def to_cell(self, value: Any) -> Cell:
        if self.multiselect:
            return escape(msgspec.json.encode(value).decode())
        if isinstance(value, int | float):
            return value
        if value and self._mixed and parse_number(value) is not None:
            return PREFIX + str(value)  # the string "3" apart from the number 3
        return escape_optional(value)  # None an empty cell, "" apart from it

    def arrow_type(self) -> Any:
        """``string`` when every value is a text choice (a list of them with
        ``multiselect``); otherwise the value's JSON text, so that ``3`` and ``"3"``
        stay apart (choices with numbers, or ``allow_custom_value``)."""
        import pyarrow

        if self._mixed:
            return pyarrow.string()  # JSON text
        return pyarrow.list_(pyarrow.string()) if self.multiselect else pyarrow.string()

    def to_arrow_value(self, value: Any) -> Any:
        """The value (the list, with ``multiselect``), or its JSON text (see
        :meth:`arrow_type`)."""
        if value is None:
            return None
        if self._mixed:
            return json_text(value)
        return list(value) if self.multiselect else value

    def from_cell(self, cell: str, flagging_dir: Path) -> Any:
        if self.multiselect:
            text = unescape(cell)
            return msgspec.json.decode(text) if text else []
        if self._mixed and cell[:1] != PREFIX:
            number = parse_number(cell)
            if number is not None:
                return self._values.get(number, number)
        return unescape_optional(cell)

    def control_html(self, attributes: str) -> str:
        multiple = " multiple" if self.multiselect else ""
        options = "".join(
            f'<option value="{html.escape(json.dumps(value))}">{html.escape(text)}</option>'
            for text, value in self.choices
        )
        return f"<select {attributes}{multiple}>{options}</select>"

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "choices": [[label, value] for label, value in self.choices],
            "multiselect": self.multiselect,
        }


def _choice_inputs(kind: str, attributes: str, choices: list[tuple[str, Any]], on: Any) -> str:
    """Radio buttons or checkboxes, one per choice, in a group the page reads as one input."""
    found = re.search(r'id="([^"]*)"', attributes)
    name = html.escape(f"{kind}-{found[1] if found else 'choice'}")
    boxes = "".join(
        f'<label class="choice"><input type="{kind}" name="{name}" '
        f'value="{html.escape(json.dumps(value))}"{" checked" if on(value) else ""}> '
        f"{html.escape(text)}</label>"
        for text, value in choices
    )
    return f'<div class="choices" role="group" {attributes}>{boxes}</div>'


def _choices_output(html_of_output: str, choices: list[tuple[str, Any]]) -> str:
    """The output's element with its choices, which the page shows with the picked ones
    checked."""
    listed = html.escape(json.dumps([[text, value] for text, value in choices]))
    return html_of_output.replace(
        '<div class="output" ', f'<div class="output" data-choices="{listed}" ', 1
    )


#: shows an output's choices, the picked ones checked (as Gradio shows such an output)
_SHOW_CHOICES = """
  function showChoices(el, kind, picked) {
    const box = document.createElement("div");
    box.className = "choices";
    for (const [text, value] of JSON.parse(el.dataset.choices || "[]")) {
      const label = document.createElement("label");
      label.className = "choice";
      const input = document.createElement("input");
      input.type = kind;
      input.disabled = true;
      input.checked = picked.some(p => p === value);
      label.append(input, " " + text);
      box.append(label);
    }
    el.append(box);
  }
"""


_CHOICE_STYLE = """
.choices { display: flex; flex-wrap: wrap; gap: .3rem .9rem; }
.choices label.choice { font-weight: normal; display: flex; align-items: center; gap: .3rem; }
"""


class Radio(Dropdown):
    """One of a few choices, shown as radio buttons (as Gradio's ``Radio``).

    ``choices`` are values or ``(label, value)`` pairs; ``fn`` gets (and may return) the
    chosen value, or ``None`` for none. A value that is not a choice is refused at the
    call. The cell is the value as Gradio writes it (the text, or the number), and
    :func:`~asyncflag.load_flagged` gives back the value with its type, as
    :class:`Dropdown` does: a string that looks like a number gets the escaping
    apostrophe when some choice is a number, so ``"3"`` and ``3`` stay apart.

    :param value: the choice checked when the page opens
    :param type: what ``fn`` gets, as in Gradio: ``"value"`` (the chosen value) or
        ``"index"`` (its index in ``choices``); the cell stays the value, as Gradio flags it
    """

    type_name = "radio"
    shortcuts = ("radio",)
    gradio_keywords = frozenset({"rtl"})
    page_style = _CHOICE_STYLE
    page_script = f"""(() => {{{_SHOW_CHOICES}
  asyncflag.register("radio", {{
    read(el) {{
      const picked = el.querySelector("input:checked");
      return picked ? JSON.parse(picked.value) : null;
    }},
    show: (el, value) => showChoices(el, "radio", [value]),
  }});
}})();"""

    class Spec(ComponentSpec):
        choices: list[tuple[str, str | int | float]] = msgspec.field(default_factory=list)
        value: str | int | float | None = None

    def __init__(
        self,
        choices: Sequence[str | int | float | tuple[str, str | int | float]] | None = None,
        *,
        value: str | int | float | None = None,
        type: Literal["value", "index"] = "value",
        label: str | None = None,
    ) -> None:
        super().__init__(choices or (), label, type=type)
        # unlike a Dropdown, a Radio takes its choices only, even when it has none (Gradio)
        self.allow_custom_value = False
        self._mixed = any(not isinstance(choice, str) for choice in self._values)
        self.value = self.check(value)

    def output_html(self, index: int) -> str:
        return _choices_output(super().output_html(index), self.choices)

    def control_html(self, attributes: str) -> str:
        return _choice_inputs(
            "radio", attributes, self.choices, lambda v: self.value is not None and v == self.value
        )

    def config(self) -> dict[str, Any]:
        return {
            **Component.config(self),
            "choices": [[label, value] for label, value in self.choices],
            "value": self.value,
        }


class CheckboxGroup(Dropdown):
    """Any number of a few choices, shown as checkboxes (as Gradio's ``CheckboxGroup``).

    ``fn`` gets a list of the checked values (``[]`` for none) and may return such a
    list, a single value (a list of one, as in Gradio) or ``None`` (``[]``). A value that
    is not a choice is refused at the call. The cell is the list as JSON, written as
    Gradio writes it (``["a", "b"]``: Python's ``json.dumps``), and
    :func:`~asyncflag.load_flagged` gives back the list.

    :param value: the choices checked when the page opens
    :param type: what ``fn`` gets, as in Gradio: ``"value"`` (the checked values) or
        ``"index"`` (their indices in ``choices``); the cell stays the values, as Gradio
        flags them
    """

    type_name = "checkboxgroup"
    shortcuts = ("checkboxgroup",)
    gradio_keywords = frozenset({"show_select_all"})
    page_style = _CHOICE_STYLE
    page_script = f"""(() => {{{_SHOW_CHOICES}
  asyncflag.register("checkboxgroup", {{
    read: el => Array.from(el.querySelectorAll("input:checked")).map(b => JSON.parse(b.value)),
    show: (el, value) => showChoices(el, "checkbox", value),
  }});
}})();"""

    class Spec(ComponentSpec):
        choices: list[tuple[str, str | int | float]] = msgspec.field(default_factory=list)
        value: list[str | int | float] = msgspec.field(default_factory=list)

    def __init__(
        self,
        choices: Sequence[str | int | float | tuple[str, str | int | float]] | None = None,
        *,
        value: Sequence[str | int | float] | str | int | float | None = None,
        type: Literal["value", "index"] = "value",
        label: str | None = None,
    ) -> None:
        super().__init__(choices or (), label, multiselect=True, type=type)
        self.allow_custom_value = False
        self._mixed = any(not isinstance(choice, str) for choice in self._values)
        self.value: list[str | int | float] = self.check(value)

    def check(self, value: Any) -> Any:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            value = [value]  # one value stands for a list of one, as in Gradio
        return super().check(value)

    def to_cell(self, value: Any) -> Cell:
        # Gradio's cell exactly: json.dumps (ASCII, ", " between items); never escaped,
        # as it starts with "["
        return escape(json.dumps(value))

    def from_cell(self, cell: str, flagging_dir: Path) -> Any:
        text = unescape(cell)
        return msgspec.json.decode(text) if text else []

    def output_html(self, index: int) -> str:
        return _choices_output(super().output_html(index), self.choices)

    def control_html(self, attributes: str) -> str:
        return _choice_inputs("checkbox", attributes, self.choices, lambda v: v in self.value)

    def config(self) -> dict[str, Any]:
        return {
            **Component.config(self),
            "choices": [[label, value] for label, value in self.choices],
            "value": self.value,
        }
