"""Structured data: :class:`JSON`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from ..checks import positive_int_or_none
from ..errors import FlagValueError
from ..escaping import escape, unescape
from .base import Cell, Component, ComponentSpec, Limit
from .values import plain_json, short_repr

__all__ = ["JSON"]


class JSON(Component):
    """Any JSON value, stored as its JSON text.

    A value nesting lists and objects more than :data:`MAX_JSON_DEPTH` deep (or
    containing itself) is refused with :class:`FlagValueError`.

    :param max_size: the largest value accepted, in bytes of JSON
    """

    type_name = "json"
    shortcuts = ("json",)
    page_script = """asyncflag.register("json", {
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

    def to_cell(self, value: Any) -> Cell:
        return escape(msgspec.json.encode(value).decode())

    def from_cell(self, cell: str, flagging_dir: Path) -> Any:
        text = unescape(cell)
        return msgspec.json.decode(text) if text else None
