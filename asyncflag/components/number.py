"""Numbers and booleans: :class:`Number`, :class:`Slider` and :class:`Checkbox`."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, cast

import msgspec

from ..errors import FlagValueError
from ..escaping import unescape
from .base import Cell, Component, ComponentSpec, page_text
from .values import LONG_INT_BITS, MAX_INT_DIGITS, check_int_digits, is_numpy_bool, short_repr

__all__ = ["Checkbox", "Number", "Slider"]


#: a bound of a Number as a stream's schema holds it
Bound = int | float | None
#: the most decimals a Number may round to
MAX_PRECISION = 100


class Number(Component):
    """An int or a float, written to the CSV as a number (never escaped).

    An empty box reaches ``fn`` as ``None``, as in Gradio (its ``Number.preprocess``
    passes ``None`` through): a ``fn`` that needs a number says so to the user with
    ``raise asyncflag.Error("enter a number")``, as the demo calculator does.

    :param minimum: the smallest value accepted (checked at the call, inputs and outputs)
    :param maximum: the largest value accepted
    :param precision: round every value to this many decimals, as Gradio does (``0``:
        to an ``int``); ``None`` keeps values as they are. What is rounded is what ``fn``
        receives and what is stored.
    :param step: the increment of the page's box (its arrows), as Gradio's ``step``; the
        box's ``step`` is ``1`` with ``precision=0`` and any number otherwise
    :param placeholder: a hint shown in the empty box
    """

    type_name = "number"
    shortcuts = ("number",)
    page_script = """asyncflag.register("number", {
  read: el => el.value === "" ? null : Number(el.value),
});"""

    class Spec(ComponentSpec):
        minimum: Bound = None
        maximum: Bound = None
        precision: Annotated[int, msgspec.Meta(ge=0, le=MAX_PRECISION)] | None = None

    def __init__(
        self,
        label: str | None = None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        precision: int | None = None,
        step: float | None = None,
        placeholder: str | None = None,
    ) -> None:
        super().__init__(label)
        if step is not None and (not _is_real(step) or not math.isfinite(step) or step <= 0):
            raise FlagValueError(f"Number step must be a positive number or None, got {step!r}")
        self.step = step
        self.placeholder = page_text("Number placeholder", placeholder)
        for name, bound in (("minimum", minimum), ("maximum", maximum)):
            if bound is not None and (
                isinstance(bound, bool)
                or not isinstance(bound, int | float)
                or not math.isfinite(bound)
            ):
                raise FlagValueError(f"{name} must be a finite number or None, got {bound!r}")
        if minimum is not None and maximum is not None and minimum > maximum:
            raise FlagValueError(f"minimum {minimum!r} is over maximum {maximum!r}")
        if precision is not None and (
            isinstance(precision, bool)
            or not isinstance(precision, int)
            or not 0 <= precision <= MAX_PRECISION
        ):
            raise FlagValueError(
                f"precision must be an int from 0 to {MAX_PRECISION} (decimals) or None, "
                f"got {precision!r}"
            )
        self.minimum = minimum
        self.maximum = maximum
        self.precision = precision

    def control_html(self, attributes: str) -> str:
        step = self.step if self.step is not None else "1" if self.precision == 0 else "any"
        bounds = "".join(
            f' {name}="{bound!r}"'
            for name, bound in (("min", self.minimum), ("max", self.maximum))
            if bound is not None
        )
        if self.placeholder:
            bounds += f' placeholder="{html.escape(self.placeholder)}"'
        return f'<input type="number" step="{step}"{bounds} {attributes}>'

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "minimum": self.minimum,
            "maximum": self.maximum,
            "precision": self.precision,
            "step": self.step,
        }

    def check(self, value: Any) -> int | float | None:
        number = self._number(value)
        if number is None or (
            self.minimum is None and self.maximum is None and self.precision is None
        ):
            return number
        if number != number and (self.minimum is not None or self.maximum is not None):
            raise FlagValueError(
                f"Number {self.label!r}: nan is not between the minimum {self.minimum!r} "
                f"and the maximum {self.maximum!r}"
            )
        if self.minimum is not None and number < self.minimum:
            raise FlagValueError(
                f"Number {self.label!r}: {short_repr(number)} is less than the minimum "
                f"{self.minimum!r}"
            )
        if self.maximum is not None and number > self.maximum:
            raise FlagValueError(
                f"Number {self.label!r}: {short_repr(number)} is greater than the maximum "
                f"{self.maximum!r}"
            )
        if self.precision is None:
            return number
        try:
            return round(number) if self.precision == 0 else round(number, self.precision)
        except (ValueError, OverflowError) as exc:  # nan, inf
            raise FlagValueError(
                f"Number {self.label!r} cannot round {short_repr(number)} to "
                f"{self.precision} decimals: {exc}"
            ) from None

    def check_shortcut(self, name: str) -> str | None:
        if self.minimum is not None or self.maximum is not None or self.precision is not None:
            return None
        return (
            f"type({name}) is float or type({name}) is int and "
            f"{name}.bit_length() <= {LONG_INT_BITS:d}"
        )

    #: rounding and bounds are applied by :meth:`check`: nothing here blocks
    preprocess_in_thread = False

    def preprocess(self, value: Any, run_dir: Path) -> int | float:
        """The checked value (bounded and rounded by :meth:`check`); overridden so that
        an interface in ``never`` mode, which stores nothing, still checks it for ``fn``."""
        return cast("int | float", value)

    def _number(self, value: Any) -> int | float | None:
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
            return self._number(int(value.__index__()))
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

    def arrow_type(self) -> Any:
        """``int64`` with ``precision=0`` (every value an int), ``float64`` otherwise."""
        import pyarrow

        return pyarrow.int64() if self.precision == 0 else pyarrow.float64()

    def to_arrow_value(self, value: Any) -> Any:
        """The number as an int or a float, as :meth:`arrow_type` says."""
        if value is None:
            return None
        return int(value) if self.precision == 0 else float(value)

    def from_cell(self, cell: str, flagging_dir: Path) -> int | float | None:
        text = unescape(cell)
        if text == "":
            return None
        try:
            return int(text)
        except ValueError:
            return float(text)


class Checkbox(Component):
    """A boolean, written ``true`` or ``false`` as Gradio 5/6 write it;
    :func:`~asyncflag.load_flagged` reads both that and the ``True``/``False`` of older
    asyncflag versions (any case); any other text is refused."""

    type_name = "checkbox"
    shortcuts = ("checkbox",)
    page_script = """asyncflag.register("checkbox", { read: el => el.checked });"""

    def control_html(self, attributes: str) -> str:
        return f'<input type="checkbox" {attributes}>'

    def check_shortcut(self, name: str) -> str | None:
        return f"type({name}) is bool or {name} is None"

    def check(self, value: Any) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        if is_numpy_bool(value):
            return bool(value)
        raise self._reject(value, "a bool")

    def to_cell(self, value: Any) -> Cell:
        return "" if value is None else ("true" if value else "false")

    def to_cells(self, values: Sequence[Any]) -> list[Cell]:
        return ["" if v is None else ("true" if v else "false") for v in values]

    def arrow_type(self) -> Any:
        """``bool``."""
        import pyarrow

        return pyarrow.bool_()

    def to_arrow_value(self, value: Any) -> Any:
        """The bool itself."""
        return value

    def from_cell(self, cell: str, flagging_dir: Path) -> bool | None:
        text = unescape(cell).lower()
        if text == "":
            return None
        if text not in ("true", "false"):
            raise FlagValueError(
                f"Checkbox {self.label!r}: the cell {short_repr(cell)} is not a boolean; "
                "a Checkbox cell is true or false (True or False from older versions), or "
                "empty for no value"
            )
        return text == "true"


class Slider(Component):
    """A number from ``minimum`` to ``maximum``, picked on a slider (as Gradio's ``Slider``).

    ``fn`` gets (and may return) an int or a float within the range; a value outside it
    is refused at the call, an input and an output alike. With ``precision`` the value is
    rounded as Gradio rounds it (``0``: to an int), and the rounded value is what ``fn``
    gets, what is stored and what :func:`~asyncflag.load_flagged` returns. The cell is the
    number, as Gradio writes it; ``None`` (no value) is an empty cell.

    :param minimum: the smallest value
    :param maximum: the largest value (more than ``minimum``)
    :param value: where the page's slider starts (``minimum`` if ``None``)
    :param step: the slider's increment on the page; by default a hundredth of the range
        rounded down to a power of ten, as in Gradio
    :param precision: the decimals to round to, or ``None`` not to round
    """

    type_name = "slider"
    shortcuts = ("slider",)
    #: Gradio's ``randomize`` (a random start) has no effect here
    gradio_keywords = frozenset({"randomize"})
    page_style = """
.slider { display: flex; align-items: center; gap: .6rem; }
.slider input[type=range] { flex: 1; }
.slider output { min-width: 3rem; font-variant-numeric: tabular-nums; text-align: right; }
"""
    page_script = """asyncflag.register("slider", {
  setup(el) {
    const shown = el.parentElement.querySelector("output");
    const update = () => { shown.textContent = el.value; };
    el.addEventListener("input", update);
    update();
  },
  read: el => Number(el.value),
  show(el, value) {
    const box = document.createElement("div");
    box.className = "slider";
    const range = document.createElement("input");
    range.type = "range";
    range.disabled = true;
    range.min = el.dataset.minimum; range.max = el.dataset.maximum; range.step = "any";
    range.value = String(value);
    const shown = document.createElement("output");
    shown.textContent = String(value);
    box.append(range, shown);
    el.append(box);
  },
});"""

    class Spec(ComponentSpec):
        minimum: int | float = 0
        maximum: int | float = 100
        value: int | float | None = None
        step: int | float | None = None
        precision: int | None = None

    def __init__(
        self,
        minimum: float = 0,
        maximum: float = 100,
        value: float | None = None,
        *,
        step: float | None = None,
        precision: int | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(label)
        for name, bound in (("minimum", minimum), ("maximum", maximum)):
            if not _is_real(bound) or not math.isfinite(bound):
                raise FlagValueError(f"Slider {name} must be a finite number, got {bound!r}")
        if not minimum < maximum:
            raise FlagValueError(
                f"Slider minimum must be less than maximum, got minimum={minimum!r} and "
                f"maximum={maximum!r}"
            )
        if precision is not None and (
            not isinstance(precision, int) or isinstance(precision, bool)
        ):
            raise FlagValueError(f"Slider precision must be an int or None, got {precision!r}")
        if step is None:
            step = 10 ** math.floor(math.log10(maximum - minimum) - 2)
        elif not _is_real(step) or not math.isfinite(step) or step <= 0:
            raise FlagValueError(f"Slider step must be a positive number, got {step!r}")
        self.minimum = minimum
        self.maximum = maximum
        self.step = step
        self.precision = precision
        self.value = None if value is None else self.check(value)

    def check(self, value: Any) -> int | float | None:
        if value is None:
            return None
        if isinstance(value, bool) or is_numpy_bool(value) or isinstance(value, str | bytes):
            raise self._reject(value, f"a number from {self.minimum} to {self.maximum}")
        number: int | float
        if isinstance(value, int | float):
            number = value
        elif hasattr(value, "__index__"):  # numpy ints
            number = int(value.__index__())
        elif hasattr(value, "__float__"):  # numpy floats, Decimal, Fraction
            try:
                number = float(value)
            except (ValueError, OverflowError, TypeError) as exc:
                raise FlagValueError(
                    f"Slider {self.label!r} cannot store {short_repr(value)}: {exc}"
                ) from None
        else:
            raise self._reject(value, f"a number from {self.minimum} to {self.maximum}")
        if not self.minimum <= number <= self.maximum:  # NaN too
            raise FlagValueError(
                f"Slider {self.label!r}: {short_repr(number)} is outside its range "
                f"{self.minimum} to {self.maximum}; give a value within it (or widen the "
                "Slider's minimum and maximum)"
            )
        if self.precision is None:
            return number
        if self.precision == 0:
            return round(number)
        return round(number, self.precision)

    def to_cell(self, value: Any) -> Cell:
        return "" if value is None else value

    # a slider's value is a number: stored, read back and typed as a Number's
    arrow_type = Number.arrow_type
    to_arrow_value = Number.to_arrow_value
    from_cell = Number.from_cell

    def control_html(self, attributes: str) -> str:
        start = self.minimum if self.value is None else self.value
        return (
            f'<div class="slider"><input type="range" min="{self.minimum}" '
            f'max="{self.maximum}" step="{self.step}" value="{start}" {attributes}>'
            "<output></output></div>"
        )

    def output_html(self, index: int) -> str:
        bounds = f'data-minimum="{self.minimum}" data-maximum="{self.maximum}" '
        return (
            super()
            .output_html(index)
            .replace('<div class="output" ', f'<div class="output" {bounds}', 1)
        )

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "minimum": self.minimum,
            "maximum": self.maximum,
            "step": self.step,
            "value": self.value,
            "precision": self.precision,
        }


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
