"""The :class:`Component` base class and the shortcut lookup :func:`component_from`.

A component knows three things about its values: whether a value can be stored
(:meth:`Component.check`, called at the call so that bad input fails there and not
in the writer), how it becomes a CSV cell (:meth:`Component.to_cell`) and how a cell
becomes a value again (:meth:`Component.from_cell`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..errors import FlagValueError
from ..escaping import escape, unescape
from .values import refuse_unwritable, short_repr

__all__ = ["Cell", "Component", "component_from", "component_type", "component_types", "register"]

Cell = str | int | float


class Component:
    """Base class of the components: a label and the rules for storing one value."""

    #: the name of this component type: its ``"type"`` in ``/api/config``, in a stream's
    #: schema and in the page's scripts. A subclass that sets its own is registered
    #: (see :func:`register`); one that does not is a variant of its parent
    type_name: ClassVar[str] = ""
    #: the shortcut strings that stand for this component in ``Interface(inputs="...")``
    shortcuts: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type_name" in cls.__dict__:
            register(cls)

    def __init__(self, label: str | None = None) -> None:
        if label is not None and not isinstance(label, str):
            raise FlagValueError(f"a component label must be a string, got {label!r}")
        if label is not None:
            refuse_unwritable(label, "the label")
        self.label = label

    def check(self, value: Any) -> Any:
        """Return ``value`` in the form this component stores.

        :raises FlagValueError: if the value cannot be stored by this component
        """
        return value

    def to_cell(self, value: Any) -> Cell:
        """Turn a checked value into a CSV cell; strings come back escaped."""
        return escape(str(value))

    def to_cells(self, values: Sequence[Any]) -> list[Cell]:
        """:meth:`to_cell` for a whole column of a batch; subclasses inline it where it is hot."""
        return list(map(self.to_cell, values))

    def from_cell(self, cell: str, flagging_dir: Path) -> Any:
        """Turn a CSV cell read from ``flagging_dir`` back into a value."""
        return unescape(cell)

    def config(self) -> dict[str, Any]:
        """Describe the component for a client (the web page, ``/api/config``)."""
        return {"type": type(self).type_name or type(self).__name__.lower(), "label": self.label}

    def _reject(self, value: Any, expected: str) -> FlagValueError:
        return FlagValueError(
            f"{type(self).__name__} {self.label!r} stores {expected}, "
            f"got {type(value).__name__} {short_repr(value)}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(label={self.label!r})"


_REGISTRY: dict[str, type[Component]] = {}
_SHORTCUTS: dict[str, type[Component]] = {}


def register(cls: type[Component]) -> None:
    """Make ``cls`` known by its :attr:`~Component.type_name` and its shortcuts.

    Called for every subclass that sets its own ``type_name``; a user's component is
    registered the same way as the built-in ones, wherever it is defined. Registering
    the same class again (a module imported twice, under the same module and qualified
    name) replaces the earlier registration.

    :raises FlagValueError: for a type name or shortcut that another class holds
    """
    name = cls.type_name
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise FlagValueError(
            f"{cls.__qualname__}.type_name must be a lower-case identifier such as 'rating', "
            f"got {name!r}"
        )
    shortcuts = cls.shortcuts
    if isinstance(shortcuts, str) or not all(isinstance(s, str) and s for s in shortcuts):
        raise FlagValueError(
            f"{cls.__qualname__}.shortcuts must be a tuple of non-empty strings, got {shortcuts!r}"
        )
    for key, table, what in [(name, _REGISTRY, "type name")] + [
        (shortcut.lower(), _SHORTCUTS, "shortcut") for shortcut in shortcuts
    ]:
        holder = table.get(key)
        if holder is not None and not _same_class(holder, cls):
            raise FlagValueError(
                f"the component {what} {key!r} of {_class_path(cls)} is already taken by "
                f"{_class_path(holder)}: choose another type_name or shortcut"
            )
    _REGISTRY[name] = cls
    for shortcut in shortcuts:
        _SHORTCUTS[shortcut.lower()] = cls


def component_types() -> dict[str, type[Component]]:
    """The registered component classes by type name (a copy)."""
    return dict(_REGISTRY)


def component_type(name: str) -> type[Component] | None:
    """The registered component class of a type name, or ``None``."""
    return _REGISTRY.get(name)


def _same_class(a: type[Component], b: type[Component]) -> bool:
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def _class_path(cls: type[Component]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def component_from(spec: Component | str) -> Component:
    """Return the component a shortcut string (``"text"``, ``"image"``...) stands for.

    :raises FlagValueError: for an unknown shortcut or an object that is not a component
    """
    if isinstance(spec, Component):
        return spec
    if isinstance(spec, str):
        try:
            return _SHORTCUTS[spec.lower()]()
        except KeyError:
            raise FlagValueError(
                f"unknown component shortcut {spec!r}; use one of {sorted(_SHORTCUTS)}"
            ) from None
    raise FlagValueError(f"expected a component or a shortcut string, got {spec!r}")
