"""Reading a flagging directory back: :func:`load_flagged`.

Rows come from every layout asyncflag writes (``datasetN.csv`` files with a header,
the headerless ``log.csv``), cells unescaped by :mod:`asyncflag.escaping` and decoded
by the components given.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

from .checks import one_of
from .components import Cell, Chatbot, Component, component_from
from .errors import FlagValueError, UnsafePathError
from .escaping import unescape, unescape_optional
from .sinks.datasets import METADATA_COLUMNS, SIMPLE_LOG_NAME, dataset_files, read_schema
from .sinks.records import iter_records, read_header

__all__ = [
    "CHAT_LOG_HEADER",
    "COMMENT_LABEL",
    "CORRECTION_SUFFIX",
    "FlaggedRow",
    "iter_flagged",
    "load_flagged",
]


#: what the label of an output's correction column adds to the output's label
CORRECTION_SUFFIX = " (correction)"
#: the label of the comment column
COMMENT_LABEL = "comment"
#: the header of the chat ``log.csv`` (Gradio's ``ChatCSVLogger``, asyncflag's too)
CHAT_LOG_HEADER = ("conversation", "index", "value", "flag", "timestamp")
#: the column of a chat dataset's feedback ids (see :mod:`asyncflag.chat_interface`)
FEEDBACK_ID_LABEL = "feedback_id"


class FlaggedRow(msgspec.Struct, frozen=True):
    """One row read back from a flagging directory by :func:`load_flagged`."""

    #: the component values, decoded (inputs then outputs)
    values: tuple[Any, ...]
    #: the column labels of those values
    labels: tuple[str, ...]
    flag: str | None
    username: str | None
    timestamp: datetime | None
    #: the dataset file the row is in
    file: str
    #: the flag's comment (``Interface(flagging_comment=True)``), or ``None`` for none
    #: (an empty cell) or when the file has no comment column or was read without
    #: components
    comment: str | None = None
    #: the flag's correction of the outputs (``Interface(flagging_correction=True)``):
    #: one value per correction column, that is per output, in the order of the last
    #: ``len(correction)`` values, ``None`` for an output not corrected; ``None`` as a
    #: whole when no output was corrected, or the file has no correction columns
    correction: tuple[Any, ...] | None = None


#: a row with its number in its file (from 1, after the header)
_Numbered = tuple[int, FlaggedRow]


def load_flagged(
    flagging_dir: str | Path,
    components: Sequence[Component | str] | None = None,
    *,
    unsafe_paths: Literal["raise", "skip"] = "raise",
    history: bool = False,
) -> list[FlaggedRow]:
    """Read back the rows of a flagging directory: ``list(iter_flagged(...))``.

    See :func:`iter_flagged` for what is read and how; this holds every row at once.
    """
    return list(iter_flagged(flagging_dir, components, unsafe_paths=unsafe_paths, history=history))


def iter_flagged(
    flagging_dir: str | Path,
    components: Sequence[Component | str] | None = None,
    *,
    unsafe_paths: Literal["raise", "skip"] = "raise",
    history: bool = False,
) -> Iterator[FlaggedRow]:
    """Yield the rows of a flagging directory, file by file, one row at a time.

    Rows come from ``dataset1.csv``, ``dataset2.csv``... in order, then from the
    ``log.csv`` of :class:`~asyncflag.SimpleCSVLogger`. No file's rows are held at
    once (only the record being decoded), so a folder of any size streams in bounded
    memory; :func:`load_flagged` is ``list(iter_flagged(...))``. With ``components``,
    the first ``len(components)`` values of each row are decoded by them (numbers,
    booleans, JSON, absolute paths of saved files); other values stay strings.

    Comments and corrections (``Interface(..., flagging_comment=True,
    flagging_correction=True)``): a dataset file whose header has, after the columns of
    ``components``, a ``"<label> (correction)"`` column for each of the last components
    (the outputs, when ``components`` is ``iface.components``) and/or a last
    ``comment`` column, gives them as :attr:`FlaggedRow.correction` (decoded by those
    components) and :attr:`FlaggedRow.comment`, and its ``values`` hold only the
    components' values, as a plain file's do. Read without components, or from a
    headerless ``log.csv``, those columns are plain values.

    A file column only ever yields paths inside ``flagging_dir``: a cell that is
    absolute, climbs out with ``..``, holds a NUL byte or leads out through a symlink
    (an edited dataset, or text appended under the same labels by an older version)
    raises :class:`~asyncflag.errors.UnsafePathError` naming the file, row and column.
    So does a dataset file whose schema file (``.asyncflag/<dataset>.schema.json``)
    shows that a column decoded here as files was written by another component (a
    Textbox under the same label): its cells are not saved files.

    A chat dataset (a ``feedback_id`` column, written by
    :class:`~asyncflag.ChatInterface`) holds every feedback event: by default only the
    current state is yielded, that is the last row of each ``feedback_id`` in its file
    unless it withdrew the feedback (an empty ``flag``: an undo), in the place of that
    last row; rows without a ``feedback_id`` (``auto`` mode's exchange rows) are all
    yielded. To know which row is last, such a file is read twice: a first pass keeps
    only the last row number of each ``feedback_id``. ``history=True`` yields every row
    as written, in one pass. A chat ``log.csv`` (:class:`~asyncflag.ChatCSVLogger`'s, or
    Gradio's own with its four-field rows) gives rows with the values
    ``(conversation, index, value)``.

    :param unsafe_paths: ``"skip"`` leaves such rows (and such dataset files) out
        instead of raising
    :param history: every row of a chat dataset, not only the current feedback
    :raises UnsafePathError: for a file cell naming a path outside ``flagging_dir``
    :raises FlagValueError: if a file has fewer value columns than ``components``,
        or ``log.csv`` is read without components
    """
    one_of("unsafe_paths", unsafe_paths, ("raise", "skip"))
    decoders = [component_from(c) for c in components] if components is not None else None
    return _iter_flagged(Path(flagging_dir), decoders, unsafe_paths, history)


def _iter_flagged(
    root: Path, decoders: list[Component] | None, unsafe_paths: str, history: bool
) -> Iterator[FlaggedRow]:
    """:func:`iter_flagged` once its arguments are checked (they are checked at the call,
    not at the first row)."""
    for _, path in dataset_files(root):
        records = iter_records(path)
        header_record = next(records, None)
        if header_record is None:
            continue
        header = [unescape(cell) for cell in header_record]
        labels = tuple(header[: len(header) - len(METADATA_COLUMNS)])
        extras = _extra_columns(labels, decoders)
        if decoders and not _files_where_expected(
            path, decoders + extras.corrections, unsafe_paths
        ):
            records.close()
            continue
        last = None if history else _last_feedback_rows(path, labels)
        rows = _decode(records, labels, decoders, root, path, unsafe_paths, extras)
        if last is None:
            yield from (row for _, row in rows)
        else:
            yield from _current(rows, last)
    log = root / SIMPLE_LOG_NAME
    first = read_header(log) if log.is_file() and not log.is_symlink() else None
    if first is None:
        return
    records = iter_records(log)
    if tuple(first) == CHAT_LOG_HEADER:
        next(records, None)
        yield from _chat_log(records, root, log)
    elif not decoders or _files_where_expected(log, decoders, unsafe_paths):
        width = len(first) - len(METADATA_COLUMNS)
        labels = tuple(
            (decoders[i].label if decoders and i < len(decoders) else None) or f"component {i}"
            for i in range(width)
        )
        yield from (row for _, row in _decode(records, labels, decoders, root, log, unsafe_paths))


def _last_feedback_rows(path: Path, labels: tuple[str, ...]) -> dict[str, int] | None:
    """For a chat dataset (a ``feedback_id`` column), the number of the last row of each
    feedback id (rows numbered from 1 after the header); ``None`` for any other file.

    A first pass over the file that keeps only one number per feedback id."""
    if FEEDBACK_ID_LABEL not in labels:
        return None
    column = labels.index(FEEDBACK_ID_LABEL)
    last: dict[str, int] = {}
    records = iter_records(path)
    next(records, None)  # the header
    for number, record in enumerate(records, start=1):
        if column < len(record) and (fid := unescape(record[column])):
            last[fid] = number
    return last


def _current(rows: Iterator[_Numbered], last: dict[str, int]) -> Iterator[FlaggedRow]:
    """The current state of chat feedback: the last row of each ``feedback_id``, left out
    when it withdrew the feedback (no flag); rows without a ``feedback_id`` as they are."""
    for number, row in rows:
        fid = _feedback_id(row)
        if fid is None or (last.get(fid) == number and row.flag):
            yield row


def _feedback_id(row: FlaggedRow) -> str | None:
    if FEEDBACK_ID_LABEL not in row.labels:
        return None
    value = row.values[row.labels.index(FEEDBACK_ID_LABEL)]
    return value if isinstance(value, str) and value else None


def _chat_log(records: Iterable[list[str]], root: Path, path: Path) -> Iterator[FlaggedRow]:
    """The rows of a chat ``log.csv``: five fields (conversation, index, value, flag,
    timestamp), or Gradio's four (no value: it is taken from the conversation)."""
    chatbot = Chatbot("conversation")
    for record in records:
        if len(record) >= 5:
            conversation_cell, index_cell, value, flag, stamp = record[:5]
        else:
            conversation_cell, index_cell, flag, stamp = (record + [""] * 4)[:4]
            value = None
        conversation: Any
        try:
            conversation = chatbot.from_cell(conversation_cell, root)
        except ValueError:  # a message Gradio wrote that is not text: keep the JSON
            conversation = unescape(conversation_cell)
        index: Any = int(index_cell) if index_cell.isdigit() else unescape(index_cell)
        if value is None:
            if isinstance(conversation, list) and isinstance(index, int):
                value = conversation[index]["content"] if index < len(conversation) else ""
        else:
            value = unescape(value)
        try:
            timestamp = datetime.fromisoformat(stamp) if stamp else None
        except ValueError:
            timestamp = None
        yield FlaggedRow(
            values=(conversation, index, value),
            labels=("conversation", "index", "value"),
            flag=unescape_optional(flag),
            username=None,
            timestamp=timestamp,
            file=str(path),
        )


def _files_where_expected(path: Path, decoders: list[Component], unsafe_paths: str) -> bool:
    """Whether the columns to decode as files were written by file components, as far as
    the dataset's schema file tells (a file without one, or with an unreadable one, is
    read: its cells are still confined to the flagging directory).

    :raises UnsafePathError: if not, unless ``unsafe_paths`` is ``"skip"`` (then False)
    """
    try:
        schema = read_schema(path)
    except ValueError:
        return True
    if schema is None:
        return True
    for decoder, column in zip(decoders, schema.columns, strict=False):
        if decoder.holds_files and not column.file:
            if unsafe_paths == "skip":
                return False
            raise UnsafePathError(
                f"{path.name}, column {column.label!r}: the column was written by a "
                f"{column.type} component, not by a file component like the "
                f"{type(decoder).__name__} given, so its cells are not saved files; pass "
                "unsafe_paths='skip' to leave such files out",
                file=str(path),
                column=column.label,
            )
    return True


class _Extras(msgspec.Struct, frozen=True):
    """The correction and comment columns a header has after the components' columns."""

    #: the components decoding the correction columns (copies of the last components)
    corrections: list[Component] = msgspec.field(default_factory=list)
    #: each correction column's "no correction" cell: its component's cell of ``None``
    #: (``None`` for a file component: its empty cell)
    empty_cells: list[Cell | None] = msgspec.field(default_factory=list)
    comment: bool = False


_NO_EXTRAS = _Extras()


def _extra_columns(labels: tuple[str, ...], decoders: list[Component] | None) -> _Extras:
    """The correction and comment columns after the decoders' columns, if exactly those
    follow them (nothing else: the extra columns of a file read with fewer components
    than it has stay plain values)."""
    if not decoders or len(labels) <= len(decoders):
        return _NO_EXTRAS
    extra = list(labels[len(decoders) :])
    comment = extra[-1] == COMMENT_LABEL
    if comment:
        extra.pop()
    count = len(extra)
    if count > len(decoders):
        return _NO_EXTRAS
    corrected = decoders[len(decoders) - count :]
    expected = [f"{c.label}{CORRECTION_SUFFIX}" for c in corrected]
    if extra != expected:
        return _NO_EXTRAS
    corrections = []
    empty_cells: list[Cell | None] = []
    for component, label in zip(corrected, expected, strict=True):
        copied = copy.copy(component)
        copied.label = label
        corrections.append(copied)
        empty_cells.append(None if copied.holds_files else copied.to_cell(copied.check(None)))
    return _Extras(corrections, empty_cells, comment)


def _decode(
    records: Iterable[list[str]],
    labels: tuple[str, ...],
    decoders: list[Component] | None,
    root: Path,
    path: Path,
    unsafe_paths: str,
    extras: _Extras = _NO_EXTRAS,
) -> Iterator[_Numbered]:
    """The rows of ``records`` decoded, each with its number (from 1, after a header)."""
    width = len(labels)
    if decoders is not None and len(decoders) > width:
        raise FlagValueError(
            f"{path.name} has {width} value columns, "
            f"fewer than the {len(decoders)} components given"
        )
    # the labels of the values a row gives: without the correction and comment columns
    value_labels = labels[: width - len(extras.corrections) - extras.comment]
    for number, record in enumerate(records, start=1):
        cells = record[:width]
        if decoders is None:
            values = tuple(unescape(cell) for cell in cells)
        else:
            decoded: list[Any] = []
            for i, cell in enumerate(cells):
                if i >= len(decoders):
                    decoded.append(unescape(cell))
                    continue
                try:
                    decoded.append(decoders[i].from_cell(cell, root))
                except UnsafePathError as exc:
                    if unsafe_paths == "skip":
                        break
                    raise UnsafePathError(
                        f"{path.name}, row {number}, column {labels[i]!r}: {exc}; pass "
                        "unsafe_paths='skip' to leave such rows out",
                        file=str(path),
                        row=number,
                        column=labels[i],
                    ) from None
            if len(decoded) < len(cells):
                continue  # skipped: a file cell outside the flagging directory
            values = tuple(decoded)
        comment = correction = None
        if extras is not _NO_EXTRAS:
            try:
                values, correction, comment = _split_extras(
                    values, cells, len(value_labels), extras, root
                )
            except UnsafePathError as exc:
                if unsafe_paths == "skip":
                    continue
                raise UnsafePathError(
                    f"{path.name}, row {number}, a correction column: {exc}; pass "
                    "unsafe_paths='skip' to leave such rows out",
                    file=str(path),
                    row=number,
                ) from None
        meta = record[width : width + 3]
        flag, username, stamp = meta + [""] * (3 - len(meta))
        yield (
            number,
            FlaggedRow(
                values=values,
                labels=value_labels,
                flag=unescape_optional(flag),
                username=unescape_optional(username),
                timestamp=datetime.fromisoformat(stamp) if stamp else None,
                file=str(path),
                comment=comment,
                correction=correction,
            ),
        )


def _split_extras(
    values: tuple[Any, ...], cells: list[str], count: int, extras: _Extras, root: Path
) -> tuple[tuple[Any, ...], tuple[Any, ...] | None, str | None]:
    """The components' values (the first ``count``), the correction (decoded) and the
    comment of a row whose extra columns were read as plain text."""
    start = count
    corrected: list[Any] = []
    for component, empty in zip(extras.corrections, extras.empty_cells, strict=True):
        cell = cells[start] if start < len(cells) else ""
        start += 1
        if cell == "" or cell == empty:
            corrected.append(None)
        else:
            corrected.append(component.from_cell(cell, root))
    comment = None
    if extras.comment and start < len(cells):
        comment = unescape(cells[start]) or None
    correction = tuple(corrected) if any(v is not None for v in corrected) else None
    return values[:count], correction, comment
