"""Tables: :class:`Dataframe` (as Gradio's ``Dataframe``)."""

from __future__ import annotations

import html
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from ..checks import one_of, positive_int
from ..errors import FlagValueError
from ..escaping import escape, unescape
from .base import Cell, Component, ComponentSpec, Limit
from .values import (
    LONG_INT_BITS,
    MAX_INT_DIGITS,
    check_encodable,
    check_int_digits,
    is_numpy_bool,
    short_repr,
)

__all__ = ["MAX_TABLE_BYTES", "MAX_TABLE_CELLS", "Dataframe"]

#: the most cells (rows x columns) a :class:`Dataframe` takes unless told otherwise
MAX_TABLE_CELLS = 100_000
#: the largest table, in bytes of its JSON cell, unless told otherwise
MAX_TABLE_BYTES = 4 * 1024 * 1024

TableCell = str | int | float | bool | None
DataframeType = Literal["pandas", "numpy", "array"]


class _TableCell(msgspec.Struct):
    """A Dataframe's cell as Gradio writes it (``DataframeData.model_dump()`` as JSON)."""

    headers: list[str | int | float]
    data: list[list[TableCell]]
    metadata: Any = None


def _is_dataframe(value: Any) -> bool:
    return any(c.__module__.startswith("pandas") for c in type(value).__mro__) and hasattr(
        value, "columns"
    )


def _is_ndarray(value: Any) -> bool:
    return type(value).__module__ == "numpy" and type(value).__name__ == "ndarray"


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise FlagValueError(
            'Dataframe(type="pandas") hands fn a pandas DataFrame, but pandas is not '
            "installed: pip install 'asyncflag[dataframe]', or use type=\"array\" (a list "
            'of rows) or type="numpy"'
        ) from None
    return pandas


class Dataframe(Component):
    """A table of rows, as Gradio's ``Dataframe``.

    ``fn`` receives, by ``type``: a pandas ``DataFrame`` (``"pandas"``, the default, as
    Gradio; needs the ``dataframe`` extra), a numpy array (``"numpy"``) or a list of rows
    (``"array"``). It may return a DataFrame, a 2-D numpy array, a list of rows or
    ``{"headers": [...], "data": [[...]]}``. A cell is a string, a number, a bool or
    ``None`` (a missing value: pandas' ``NaN``/``None``); anything else is refused at the
    call, as are rows of different lengths and tables over ``max_cells`` cells or
    ``max_size`` bytes of JSON. Rows given without headers get ``headers`` (or Gradio's
    ``"1"``, ``"2"``, ...).

    The cell is Gradio's: the JSON of ``{"headers": [...], "data": [[...]], "metadata":
    null}``; :func:`~asyncflag.load_flagged` gives the table back in the form ``type``
    says (with pandas' own dtypes, as Gradio reads it). ``None`` is an empty cell.

    :param headers: the column names used when a value has none; given, they also fix
        the page's columns (an input table adds and removes rows only; without them it
        adds, removes and renames columns too, as Gradio's)
    :param type: what ``fn`` receives and ``load_flagged`` gives
    :param max_cells: the most cells (rows x columns) accepted
    :param max_size: the largest table accepted, in bytes of its JSON cell
    """

    type_name = "dataframe"
    #: Gradio's keywords of the table's look, which have no effect here
    gradio_keywords = frozenset(
        {
            "col_count",
            "column_count",
            "column_limits",
            "column_widths",
            "datatype",
            "latex_delimiters",
            "line_breaks",
            "max_chars",
            "max_height",
            "pinned_columns",
            "row_count",
            "row_limits",
            "show_row_numbers",
            "show_search",
            "static_columns",
            "wrap",
        }
    )

    shortcuts = ("dataframe",)
    page_style = """
table.dataframe { border-collapse: collapse; font-size: .9rem; }
table.dataframe th, table.dataframe td { border: 1px solid #ccc; padding: .25rem .5rem;
  text-align: left; min-width: 3rem; }
table.dataframe th { background: #f3f4f6; }
table.dataframe td[contenteditable=true] { background: #fff; }
.table-tools { display: flex; flex-wrap: wrap; gap: .3rem; margin-top: .3rem; }
.table-tools button { font-size: .8rem; padding: .2rem .5rem; margin: 0; }
"""
    page_script = """(() => {
  function table(value, editable) {
    const t = document.createElement("table");
    t.className = "dataframe";
    const head = t.createTHead().insertRow();
    for (const h of value.headers) {
      const th = document.createElement("th");
      th.textContent = String(h);
      head.append(th);
    }
    const body = t.createTBody();
    for (const row of value.data) {
      const tr = body.insertRow();
      for (const cell of row) {
        const td = tr.insertCell();
        td.textContent = cell === null ? "" : String(cell);
        td.dataset.kind = typeof cell;
        if (editable) td.contentEditable = "true";
      }
    }
    return t;
  }
  function newCell(tr, kind) {
    const td = tr.insertCell();
    td.dataset.kind = kind || "string";
    td.contentEditable = "true";
    return td;
  }
  // The input's tools, as Gradio's table: add a row, remove the row of the cell last
  // focused (else the last one); with headers not fixed, the same for columns (the new
  // column named by its number, as Gradio's), headers editable. One row and one column
  // always stay.
  function tools(el, t) {
    let focused = null;
    t.addEventListener("focusin", event => {
      if (event.target.matches("td, th")) focused = event.target;
    });
    const body = t.tBodies[0];
    const headRow = t.tHead.rows[0];
    const bar = document.createElement("div");
    bar.className = "table-tools";
    const button = (text, action) => {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = text;
      b.addEventListener("click", () => { action(); focused = null; });
      bar.append(b);
    };
    const rowOf = () => focused && focused.tagName === "TD" ? focused.parentElement : null;
    const columnOf = () => focused ? focused.cellIndex : headRow.cells.length - 1;
    button("+ row", () => {
      const last = body.rows[body.rows.length - 1];
      const tr = body.insertRow();
      for (let i = 0; i < headRow.cells.length; i++)
        newCell(tr, last ? last.cells[i].dataset.kind : "string");
    });
    button("\u2212 row", () => {
      if (body.rows.length <= 1) return;
      (rowOf() || body.rows[body.rows.length - 1]).remove();
    });
    if (el.dataset.columns !== "fixed") {
      for (const th of headRow.cells) th.contentEditable = "true";
      button("+ column", () => {
        const th = document.createElement("th");
        th.textContent = String(headRow.cells.length + 1);
        th.contentEditable = "true";
        headRow.append(th);
        for (const tr of body.rows) newCell(tr, "string");
      });
      button("\u2212 column", () => {
        if (headRow.cells.length <= 1) return;
        const index = columnOf();
        headRow.cells[index].remove();
        for (const tr of body.rows) tr.cells[index].remove();
      });
    }
    el.append(bar);
  }
  asyncflag.register("dataframe", {
    setup(el) {
      const start = JSON.parse(el.dataset.start);
      const editable = !el.closest("fieldset[disabled]");
      const t = table(start, editable);
      el.append(t);
      if (editable) tools(el, t);
    },
    read(el) {
      const t = el.querySelector("table");
      const headers = [...t.tHead.rows[0].cells].map(c => c.textContent);
      const data = [...t.tBodies[0].rows].map(tr => [...tr.cells].map(td => {
        const text = td.textContent;
        if (td.dataset.kind === "number" && text.trim() !== "" && isFinite(Number(text)))
          return Number(text);
        if (td.dataset.kind === "boolean" && (text === "true" || text === "false"))
          return text === "true";
        if (td.dataset.kind === "object" && text === "") return null;
        return text;
      }));
      return {headers, data};
    },
    show(el, value) { el.append(table(value, false)); },
  });
})();"""

    class Spec(ComponentSpec):
        headers: list[str] | None = None
        max_cells: Limit = None
        max_size: Limit = None

    def __init__(
        self,
        value: Any = None,
        *,
        headers: Sequence[str] | None = None,
        type: DataframeType = "pandas",
        label: str | None = None,
        max_cells: int | None = None,
        max_size: int | None = None,
    ) -> None:
        super().__init__(label)
        if headers is not None and (
            isinstance(headers, str) or not all(isinstance(h, str) for h in headers)
        ):
            raise FlagValueError(
                f"Dataframe {self.label!r}: headers must be a list of strings, "
                f"got {short_repr(headers)}"
            )
        #: the column names used for rows given without headers
        self.headers = None if headers is None else [str(h) for h in headers]
        #: what ``fn`` receives and ``load_flagged`` gives: ``"pandas"``, ``"numpy"``
        #: or ``"array"``
        self.type: DataframeType = one_of("Dataframe type", type, ("pandas", "numpy", "array"))
        self.max_cells = positive_int("max_cells", max_cells or MAX_TABLE_CELLS)
        self.max_size = positive_int("max_size", max_size or MAX_TABLE_BYTES)
        #: the table shown in the page's editable input at first
        self.value = self.check(value)

    # -- checking ------------------------------------------------------------------------

    def _cell(self, value: Any, row: int, column: int) -> TableCell:
        if value is None:
            return None
        if isinstance(value, bool) or is_numpy_bool(value):
            return bool(value)
        if isinstance(value, str):
            check_encodable(value, self)
            return str(value)
        if isinstance(value, int) or (hasattr(value, "__index__") and not isinstance(value, float)):
            whole = int(value.__index__())  # numpy ints too
            if whole.bit_length() >= LONG_INT_BITS:
                check_int_digits(whole, MAX_INT_DIGITS, self)
            return whole
        if isinstance(value, float) or (
            hasattr(value, "__float__") and type(value).__module__ == "numpy"
        ):
            number = float(value)
            if math.isnan(number):  # pandas' missing value
                return None
            if math.isinf(number):
                raise FlagValueError(
                    f"Dataframe {self.label!r}: row {row}, column {column} is {number}; "
                    "a cell must be a finite number"
                )
            return number
        if type(value).__name__ in {"NAType", "NaTType"}:  # pandas' other missing values
            return None
        raise FlagValueError(
            f"Dataframe {self.label!r}: row {row}, column {column} is {short_repr(value)}; "
            "a cell must be a string, a number, a bool or None (turn dates and other "
            "objects into strings first)"
        )

    def _rows(self, rows: Any) -> list[list[TableCell]]:
        if isinstance(rows, str | bytes | Mapping):
            raise self._reject(rows, "a list of rows")
        try:
            listed = iter(rows)  # read lazily: an endless iterable stops at the limit
        except TypeError:
            raise self._reject(rows, "a list of rows") from None
        width: int | None = None
        checked: list[list[TableCell]] = []
        for number, row in enumerate(listed):
            if isinstance(row, str | bytes | Mapping) or not hasattr(row, "__iter__"):
                raise FlagValueError(
                    f"Dataframe {self.label!r}: row {number} is {short_repr(row)}; each row "
                    "must be a list of cells"
                )
            if number >= self.max_cells:  # rows of no cells count too
                raise self._too_big(f"more than {self.max_cells} rows")
            cells = list(itertools.islice(row, self.max_cells + 1))
            if len(cells) > self.max_cells:
                raise self._too_big(f"more than {self.max_cells} cells")
            if width is None:
                width = len(cells)
            elif len(cells) != width:
                raise FlagValueError(
                    f"Dataframe {self.label!r}: row {number} has {len(cells)} cells, row 0 "
                    f"has {width}; give every row the same number of cells"
                )
            if (number + 1) * width > self.max_cells:
                raise self._too_big(f"more than {self.max_cells} cells")
            checked.append([self._cell(c, number, i) for i, c in enumerate(cells)])
        return checked

    def _too_big(self, what: str) -> FlagValueError:
        return FlagValueError(
            f"Dataframe {self.label!r}: the table has {what}, over its limit; send fewer rows "
            "or raise max_cells / max_size"
        )

    def check(self, value: Any) -> dict[str, Any] | None:
        """Return the table as ``{"headers": [...], "data": [[...]]}`` (plain values).

        :raises FlagValueError: for anything that is not a table of plain cells, or a
            table over the limits
        """
        if value is None:
            return None
        headers: list[str] | None
        if _is_dataframe(value):
            if value.shape[0] * value.shape[1] > self.max_cells:
                raise self._too_big(
                    f"{value.shape[0] * value.shape[1]} cells (more than {self.max_cells})"
                )
            headers = [str(c) for c in value.columns]
            rows: Any = value.itertuples(index=False, name=None)
        elif _is_ndarray(value):
            if value.ndim != 2:
                raise FlagValueError(
                    f"Dataframe {self.label!r}: a numpy array must have 2 dimensions "
                    f"(rows x columns), got shape {value.shape}"
                )
            if value.size > self.max_cells:
                raise self._too_big(f"{value.size} cells (more than {self.max_cells})")
            headers, rows = None, value.tolist()
        elif isinstance(value, Mapping):
            if set(value) - {"headers", "data", "metadata"} or "data" not in value:
                raise self._reject(value, '{"headers": [...], "data": [[...]]}')
            given = value.get("headers")
            if given is not None and (
                isinstance(given, str | bytes)
                or not isinstance(given, Sequence)
                or not all(isinstance(h, str | int | float) for h in given)
            ):
                raise FlagValueError(
                    f"Dataframe {self.label!r}: headers must be a list of strings, "
                    f"got {short_repr(given)}"
                )
            headers = None if given is None else [str(h) for h in given]
            rows = value["data"]
        else:
            headers, rows = None, value
        data = self._rows(rows)
        width = len(data[0]) if data else len(headers or self.headers or [])
        if headers is None:
            headers = (
                self.headers
                if self.headers is not None and len(self.headers) == width
                else [str(i) for i in range(1, width + 1)]
            )
        if data and len(headers) != width:
            raise FlagValueError(
                f"Dataframe {self.label!r}: {len(headers)} headers for rows of {width} cells; "
                "give one header per column"
            )
        for header in headers:
            check_encodable(header, self)
        table = {"headers": headers, "data": data}
        size = len(self._json(table))
        if size > self.max_size:
            raise self._too_big(f"{size} bytes of JSON (more than {self.max_size})")
        return table

    # -- the cell --------------------------------------------------------------------------

    @staticmethod
    def _json(table: dict[str, Any]) -> str:
        # as Gradio: json.dumps of DataframeData.model_dump()
        return json.dumps({"headers": table["headers"], "data": table["data"], "metadata": None})

    def to_cell(self, value: Any) -> Cell:
        return "" if value is None else escape(self._json(value))

    def to_arrow_value(self, value: Any) -> Any:
        """The table as the JSON text of Gradio's cell (``{"headers", "data",
        "metadata"}``): its columns have no one Arrow type across rows."""
        table = self.check(value)
        return None if table is None else self._json(table)

    def from_cell(self, cell: str, flagging_dir: Path) -> Any:
        text = unescape(cell)
        if not text:
            return None
        try:
            data = msgspec.json.decode(text, type=_TableCell)
        except msgspec.DecodeError as exc:
            raise ValueError(
                f"a Dataframe cell is the JSON of {{'headers': [..], 'data': [[..]]}}: {exc}"
            ) from None
        return self.preprocess(
            {"headers": [str(h) for h in data.headers], "data": data.data}, flagging_dir
        )

    def preprocess(self, value: Any, run_dir: Path) -> Any:
        """The table as Gradio hands it to ``fn``, by :attr:`type`: a pandas ``DataFrame``
        with the headers as columns, ``DataFrame.to_numpy()``, or the list of rows."""
        if value is None:
            return None
        if self.type == "array":
            return [list(row) for row in value["data"]]
        if self.type == "numpy":
            import numpy as np

            # strings or None among the cells: keep each cell as it is (numpy would make
            # every cell a string); else numpy's own dtype, as DataFrame.to_numpy() gives
            dtype = object if _mixed(value["data"]) else None
            shape = (len(value["data"]), len(value["headers"]))
            return np.array(value["data"], dtype=dtype).reshape(shape)
        return _pandas().DataFrame(value["data"], columns=value["headers"])

    async def to_client(self, value: Any, max_file_size: int) -> Any:
        return value

    def control_html(self, attributes: str) -> str:
        start = self.value or {
            "headers": self.headers or ["1"],
            "data": [[""] * len(self.headers or ["1"])],
        }
        # headers given: the columns are fixed (the page adds and removes rows only)
        fixed = ' data-columns="fixed"' if self.headers is not None else ""
        return f'<div data-start="{html.escape(json.dumps(start))}"{fixed} {attributes}></div>'

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "headers": self.headers,
            "receives": self.type,
            "max_cells": self.max_cells,
            "max_size": self.max_size,
        }


def _mixed(rows: list[list[TableCell]]) -> bool:
    # whether numpy would turn the cells into strings (or drop None): keep them as objects
    return any(c is None or isinstance(c, str) for row in rows for c in row)
