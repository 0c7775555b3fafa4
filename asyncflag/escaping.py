"""Reversible CSV-injection escaping.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula.
Such string cells get a leading apostrophe, and so do the cells that start with
a character a spreadsheet skips or folds before it looks for one. Unlike Gradio's
escaping, this one is reversible: a string that already starts with an apostrophe
gets one more, so :func:`unescape` always returns exactly what was escaped. Numbers
are never passed through here, so ``-3`` stays a number.

Which first characters get the apostrophe, and the evidence:

- ``= + - @``, tab, carriage return and line feed: the OWASP CSV Injection page
  (https://owasp.org/www-community/attacks/CSV_Injection; line feed added by
  OWASP/www-community pull request 1116).
- NUL: OWASP ASVS 5.0 requirement 1.2.10 lists ``\\0`` with ``= + - @ \\t``; and
  LibreOffice Calc 7.4.7 (Debian 12), opening a UTF-8 CSV with its default options,
  drops a leading NUL and runs ``"\\x00=1+1"`` as the formula ``=1+1`` (measured:
  ``soffice --headless --infilter=CSV:44,34,76,1 --convert-to ods``, then the
  cell's ``table:formula`` in content.xml).
- The full-width equals, plus, minus and at signs (U+FF1D, U+FF0B, U+FF0D, U+FF20),
  and the other characters whose compatibility form (NFKC) is one of ``= + - @``:
  their small, superscript and subscript forms. A Japanese Excel runs a full-width
  ``=cmd|...`` as a formula (OWASP/www-community issue 1088). The same LibreOffice
  keeps them as text; they are escaped for Excel.
- Not escaped: a leading space, no-break space, ideographic space, zero-width
  space or byte order mark before ``=``. The same LibreOffice measurement keeps
  each of those cells as text (and so it does tab, CR and LF, escaped anyway as
  OWASP asks); the sources above do not name them.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "NEEDS_PREFIX",
    "PREFIX",
    "escape",
    "escape_many",
    "escape_optional",
    "escape_optionals",
    "unescape",
    "unescape_optional",
]

#: the character put before a cell a spreadsheet would run
PREFIX = "'"
#: the first characters that get :data:`PREFIX`
NEEDS_PREFIX = frozenset(
    "=+-@\t\r\n\x00'"
    # NFKC-equivalents of = + - @ (tests/test_escaping.py derives the same set)
    "\uff1d\ufe66\u207c\u208c"  # full-width, small, superscript, subscript =
    "\uff0b\ufe62\u207a\u208a\ufb29"  # the same +, and the Hebrew alternative plus
    "\uff0d\ufe63"  # full-width, small -
    "\uff20\ufe6b"  # full-width, small @
)


def escape(text: str) -> str:
    """Make ``text`` safe to open in a spreadsheet; :func:`unescape` undoes it."""
    if text and text[0] in NEEDS_PREFIX:
        return PREFIX + text
    return text


def escape_many(texts: Iterable[str]) -> list[str]:
    """:func:`escape` each of ``texts``: one tight loop for a column of a batch."""
    return [PREFIX + t if t[:1] in NEEDS_PREFIX else t for t in texts]


def unescape(cell: str) -> str:
    """Return the string that :func:`escape` turned into ``cell``."""
    if cell[:1] == PREFIX:
        return cell[1:]
    return cell


# -- None and "" ------------------------------------------------------------------------
# A cell that may hold "no value" keeps it apart from the empty string: ``None`` is an
# empty cell (as Gradio writes it), and ``""`` is a lone apostrophe (what escape() would
# make of a text that is just the prefix, with that prefix removed: unescape gives "").


def escape_optional(text: str | None) -> str:
    """The cell of a string that may be ``None``: ``None`` is an empty cell, ``""`` a
    lone :data:`PREFIX`, any other text escaped (:func:`escape`)."""
    if text:
        return PREFIX + text if text[0] in NEEDS_PREFIX else text
    return "" if text is None else PREFIX


def escape_optionals(texts: Iterable[str | None]) -> list[str]:
    """:func:`escape_optional` each of ``texts`` (a metadata column of a batch)."""
    return [
        (PREFIX + t if t[0] in NEEDS_PREFIX else t) if t else ("" if t is None else PREFIX)
        for t in texts
    ]


def unescape_optional(cell: str) -> str | None:
    """Return what :func:`escape_optional` turned into ``cell``: an empty cell is ``None``."""
    return unescape(cell) if cell else None
