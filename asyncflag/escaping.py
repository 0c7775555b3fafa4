"""Reversible CSV-injection escaping.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage
return as a formula. Such string cells get a leading apostrophe. Unlike Gradio's
escaping, this one is reversible: a string that already starts with an apostrophe
gets one more, so :func:`unescape` always returns exactly what was escaped. Numbers
are never passed through here, so ``-3`` stays a number.
"""

from __future__ import annotations

__all__ = ["escape", "unescape"]

#: shared with the components that inline :func:`escape` in their hot loops
_PREFIX = "'"
_NEEDS_PREFIX = frozenset("=+-@\t\r'")


def escape(text: str) -> str:
    """Make ``text`` safe to open in a spreadsheet; :func:`unescape` undoes it."""
    if text and text[0] in _NEEDS_PREFIX:
        return _PREFIX + text
    return text


def unescape(cell: str) -> str:
    """Return the string that :func:`escape` turned into ``cell``."""
    if cell[:1] == _PREFIX:
        return cell[1:]
    return cell
