"""Numbers and booleans: :class:`Number` and :class:`Checkbox`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import FlagValueError
from ..escaping import unescape
from .base import Cell, Component
from .values import LONG_INT_BITS, MAX_INT_DIGITS, check_int_digits, is_numpy_bool, short_repr

__all__ = ["Checkbox", "Number"]


class Number(Component):
    """An int or a float, written to the CSV as a number (never escaped)."""

    type_name = "number"
    shortcuts = ("number",)
    page_script = """asyncflag.register("number", {
  read: el => el.value === "" ? null : Number(el.value),
});"""

    def control_html(self, attributes: str) -> str:
        return f'<input type="number" step="any" {attributes}>'

    def check(self, value: Any) -> int | float | None:
        if value is None:
            return None
        if isinstance(value, bool):
            raise self._reject(value, "an int or a float")
        if isinstance(value, int | float):
            if type(value) is int and value.bit_length() > LONG_INT_BITS:
                check_int_digits(value, MAX_INT_DIGITS, self)
            return value
        if is_numpy_bool(value):
            raise self._reject(value, "an int or a float")
        # numpy and other numeric scalars
        if hasattr(value, "__index__"):
            return self.check(int(value.__index__()))
        if hasattr(value, "__float__") and not isinstance(value, str | bytes):
            try:
                return float(value)
            except (ValueError, OverflowError, TypeError) as exc:  # Decimal("sNaN"), 10**400/3
                raise FlagValueError(
                    f"Number {self.label!r} cannot store {short_repr(value)}: {exc}"
                ) from None
        raise self._reject(value, "an int or a float")

    def to_cell(self, value: Any) -> Cell:
        return "" if value is None else value

    def to_cells(self, values: Sequence[Any]) -> list[Cell]:
        return ["" if v is None else v for v in values]

    def from_cell(self, cell: str, flagging_dir: Path) -> int | float | None:
        text = unescape(cell)
        if text == "":
            return None
        try:
            return int(text)
        except ValueError:
            return float(text)


class Checkbox(Component):
    """A boolean, written as ``True`` or ``False`` like Gradio."""

    type_name = "checkbox"
    shortcuts = ("checkbox",)
    page_script = """asyncflag.register("checkbox", { read: el => el.checked });"""

    def control_html(self, attributes: str) -> str:
        return f'<input type="checkbox" {attributes}>'

    def check(self, value: Any) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        if is_numpy_bool(value):
            return bool(value)
        raise self._reject(value, "a bool")

    def to_cell(self, value: Any) -> Cell:
        return "" if value is None else ("True" if value else "False")

    def to_cells(self, values: Sequence[Any]) -> list[Cell]:
        return ["" if v is None else ("True" if v else "False") for v in values]

    def from_cell(self, cell: str, flagging_dir: Path) -> bool | None:
        text = unescape(cell).lower()
        if text == "":
            return None
        return text == "true"
