"""Free text: :class:`Textbox`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from ..checks import positive_int_or_none
from ..errors import FlagValueError
from ..escaping import escape, escape_many
from .base import Cell, Component, ComponentSpec, Limit
from .values import check_encodable

__all__ = ["Textbox"]


class Textbox(Component):
    """Free text. ``None`` is stored as the empty string.

    :param max_length: the longest text accepted, in characters
    """

    type_name = "textbox"
    shortcuts = ("text", "textbox")

    class Spec(ComponentSpec):
        max_length: Limit = None

    def __init__(self, label: str | None = None, *, max_length: int | None = None) -> None:
        super().__init__(label)
        self.max_length = positive_int_or_none("max_length", max_length)

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
