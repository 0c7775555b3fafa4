"""One of a fixed set of choices: :class:`Dropdown`."""

from __future__ import annotations

import html
import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from ..errors import FlagValueError
from ..escaping import PREFIX, escape, escape_optional, unescape, unescape_optional
from .base import Cell, Component, ComponentSpec
from .values import (
    LONG_INT_BITS,
    MAX_INT_DIGITS,
    check_encodable,
    fits_digits,
    parse_number,
    plain_json,
    short_repr,
)

__all__ = ["Dropdown"]


class Dropdown(Component):
    """One of a fixed set of choices (or several, with ``multiselect=True``).

    ``choices`` are values or ``(label, value)`` pairs, as in Gradio. A value reads
    back with its type: the choice ``1`` is written as the number 1 and read back as
    the int 1. Where a cell could hold either a number or a string (custom values,
    or numeric choices), a string that looks like a number gets the escaping
    apostrophe, so ``"3"`` and ``3`` stay apart.
    """

    type_name = "dropdown"
    shortcuts = ("dropdown",)
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
    ) -> None:
        super().__init__(label)
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
                    raise FlagValueError(f"Dropdown {self.label!r}: {exc}") from None
            elif not fits_digits(value, MAX_INT_DIGITS):  # a number cell: Python's limit
                raise FlagValueError(
                    f"Dropdown {self.label!r}: an int of more than {MAX_INT_DIGITS} digits is "
                    "too long to be written as text"
                )
        if self.multiselect and isinstance(value, float) and not math.isfinite(value):
            raise FlagValueError(
                f"Dropdown {self.label!r}: a multiselect is stored as JSON, which has no {value}"
            )
        if value in self._values:  # a string never equals a number, so types match
            return self._values[value]
        if not self.allow_custom_value:
            raise FlagValueError(
                f"Dropdown {self.label!r}: {short_repr(value)} is not one of the choices "
                f"{self._choices_shown()}"
            )
        custom: str | int | float = value
        return custom

    def _choices_shown(self) -> str:
        """The choices for an error message: the first few of a long list, and how many."""
        shown = [short_repr(value) for value in itertools.islice(self._values, 20)]
        if len(self._values) <= len(shown):
            return f"[{', '.join(sorted(shown))}]"
        return f"[{', '.join(shown)}] and {len(self._values) - len(shown)} more"

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
