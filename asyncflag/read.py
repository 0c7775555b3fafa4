"""Reading a flagging directory back: :func:`iter_flagged` (streaming) and
:func:`load_flagged` (a list).

Rows come from every layout asyncflag and Gradio 4/5/6 write (``datasetN.csv`` files
with a header whose metadata columns are read from it, Gradio's short rows, the
``log.csv`` with a header, asyncflag's headerless one, Gradio's of values only, chat
logs), cells unescaped by :mod:`asyncflag.escaping` and decoded by the components given.
"""

from __future__ import annotations

import contextlib
import copy
import csv
from collections.abc import Generator, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

from .checks import one_of
from .components import Cell, Chatbot, Component, component_from
from .components.values import short_repr
from .errors import FlagReadError, UnsafePathError
from .escaping import unescape, unescape_optional
from .sinks.datasets import METADATA_COLUMNS, SIMPLE_LOG_NAME, dataset_files, read_schema
from .sinks.records import iter_records
from .sinks.sqlite import iter_sqlite, sqlite_path
from .sinks.targets import is_postgres_target

__all__ = [
    "CHAT_LOG_HEADER",
    "COMMENT_LABEL",
    "CORRECTION_SUFFIX",
    "FlaggedRow",
    "iter_flagged",
    "load_flagged",
    "value_labels",
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
    #: the timestamp had no zone: Gradio writes its local time without one
    #: (``2026-11-25 15:43:40.151430``); asyncflag writes UTC (``...+00:00``)
    timestamp_naive: bool = False


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
    current state is yielded, that is the last row of each ``feedback_id`` (over the
    folder's dataset files) unless it withdrew the feedback (an empty ``flag``: an
    undo), in the place of that last row; rows without a ``feedback_id`` (``auto``
    mode's exchange rows) are all yielded. To know which row is last, such files are
    read twice: a first pass keeps only where the last row of each ``feedback_id`` is.
    ``history=True`` yields every row as written, in one pass. A chat ``log.csv``
    (:class:`~asyncflag.ChatCSVLogger`'s, or Gradio's own with its four-field rows)
    gives rows with the values ``(conversation, index, value)``.

    The layouts of Gradio's folders (metadata columns read from the header, Gradio's
    short rows, Gradio 4's ``log.csv`` and Gradio's values-only ``log.csv``, how the
    first row of a ``log.csv`` is decided, naive timestamps, Gradio's file cells) are in
    docs/gradio.md.

    A SQLite database written by :class:`~asyncflag.SQLiteLogger` (a path ending
    ``.db``, ``.sqlite`` or ``.sqlite3``, or ``sqlite:///path``) is read too: the rows
    of every table version in order, typed by the components recorded with each table
    (``components`` not needed); see :func:`asyncflag.sinks.sqlite.iter_sqlite`, whose
    ``table=`` chooses tables.

    A PostgreSQL DSN (``postgresql://user:password@host/db``) is read too: the rows of
    every table :class:`~asyncflag.PostgresLogger` wrote there, typed by the components
    recorded with each (see :func:`asyncflag.sinks.postgres.iter_postgres`).

    :param unsafe_paths: ``"skip"`` leaves such rows (and such dataset files) out
        instead of raising
    :param history: every row of a chat dataset, not only the current feedback
    :raises UnsafePathError: for a file cell naming a path outside ``flagging_dir``
    :raises FlagReadError: naming the file, row and column, for a cell a component
        cannot read, a timestamp that is not one, a row with too few or too many cells,
        a header that does not end with ``timestamp``, text that is not UTF-8 CSV, or a
        file with fewer value columns than ``components``
    :raises FlagValueError: for an ``unsafe_paths`` other than ``"raise"``/``"skip"``
    """
    one_of("unsafe_paths", unsafe_paths, ("raise", "skip"))
    if is_postgres_target(flagging_dir):
        from .sinks.postgres import iter_postgres

        return iter_postgres(str(flagging_dir), components, unsafe_paths=unsafe_paths)
    database = sqlite_path(flagging_dir)
    if database is not None:
        return iter_sqlite(database, components, unsafe_paths=unsafe_paths)
    decoders = [component_from(c) for c in components] if components is not None else None
    return _iter_flagged(Path(flagging_dir), decoders, unsafe_paths, history)


def _iter_flagged(
    root: Path, decoders: list[Component] | None, unsafe_paths: str, history: bool
) -> Iterator[FlaggedRow]:
    """:func:`iter_flagged` once its arguments are checked (they are checked at the call,
    not at the first row)."""
    needed = len(decoders) if decoders else 0
    files = [path for _, path in dataset_files(root)]
    last = None if history else _last_feedback_rows(files)
    for index, path in enumerate(files):
        records = _records(path, start=0)
        header_record = next(records, None)
        if header_record is None:
            continue
        layout = _header_layout(path, [unescape(cell) for cell in header_record], needed)
        extras = _extra_columns(layout.labels, decoders)
        if decoders and not _files_where_expected(
            path, decoders + extras.corrections, unsafe_paths
        ):
            records.close()
            continue
        rows = _decode(records, layout, decoders, root, path, unsafe_paths, extras)
        if last is None or FEEDBACK_ID_LABEL not in layout.labels:
            yield from (row for _, row in rows)
        else:
            yield from _current(rows, last, index)
    log = root / SIMPLE_LOG_NAME
    if not log.is_file() or log.is_symlink():
        return
    with contextlib.closing(_records(log, start=1)) as head:
        first = next(head, None)
    if not first:
        return
    if tuple(first) == CHAT_LOG_HEADER:
        records = _records(log, start=0)
        next(records, None)
        yield from _chat_log(records, root, log)
        return
    layout, has_header = _log_layout(log, first, decoders)
    records = _records(log, start=0 if has_header else 1)
    if has_header:
        next(records, None)
    if not decoders or _files_where_expected(log, decoders, unsafe_paths):
        rows = _decode(records, layout, decoders, root, log, unsafe_paths)
        yield from (row for _, row in rows)


def value_labels(
    path: str | Path, components: Sequence[Component | str] | None = None
) -> tuple[str, ...] | None:
    """The labels of the value columns of one dataset file, as :func:`iter_flagged` reads
    it (the header rule of ``datasetN.csv`` and the first-row rule of ``log.csv``, in
    one place): the components' columns, then any correction and comment columns.

    :param components: the components the file is read with (they decide a Gradio
        header's ``flag``/``username`` columns and a headerless ``log.csv``'s labels)
    :return: ``None`` for a file without a whole first record
    :raises FlagReadError: for a dataset header that does not end with ``timestamp``
    """
    path = Path(path)
    decoders = [component_from(c) for c in components] if components is not None else None
    with contextlib.closing(_records(path, start=0)) as records:
        first = next(records, None)
    if not first:
        return None
    if path.name != SIMPLE_LOG_NAME:
        needed = len(decoders) if decoders else 0
        return _header_layout(path, [unescape(cell) for cell in first], needed).labels
    if tuple(first) == CHAT_LOG_HEADER:
        return ("conversation", "index", "value")
    return _log_layout(path, first, decoders)[0].labels


def _records(path: Path, *, start: int) -> Generator[list[str], None, None]:
    """The records of a file, one at a time; ``start``: the row number of the first (0
    for a header).

    :raises FlagReadError: for text that is not UTF-8 or not CSV, naming the row
    """
    number = start - 1  # the row number of the last record given
    try:
        for record in iter_records(path):
            number += 1
            yield record
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FlagReadError(
            f"{path.name}, row {number + 1}: not CSV text in UTF-8 ({exc}); asyncflag and "
            "Gradio write UTF-8: was the file written or edited by another program?",
            file=str(path),
            row=number + 1,
        ) from None


class _Layout(msgspec.Struct, frozen=True):
    """Where the rows of a file keep their values and their metadata."""

    #: the labels of the value columns (with any correction and comment columns)
    labels: tuple[str, ...]
    #: the header has a ``flag`` column
    flag: bool = True
    #: the header has a ``username`` column
    username: bool = True
    #: rows end with a timestamp (``False``: values only, Gradio's ``SimpleCSVLogger``)
    timestamp: bool = True


def _header_layout(path: Path, header: list[str], needed: int) -> _Layout:
    """The layout a dataset header gives: the labels, then the metadata columns.

    asyncflag writes ``flag, username, timestamp`` after the labels; Gradio 5/6's
    ``CSVLogger`` writes ``flag`` only when the first flag had an option and ``username``
    only when it had a username, and always ``timestamp``. So the header ends with
    ``timestamp``; ``flag, username, timestamp`` are always metadata; short of that, a
    ``username`` before ``timestamp`` and a ``flag`` before those are metadata unless
    they are needed as the columns of the ``needed`` components given (in Gradio's
    ``x,flag,timestamp`` read with two components, ``flag`` is the second component's).

    :raises FlagReadError: if the header does not end with ``timestamp``
    """
    if not header or header[-1] != "timestamp":
        raise FlagReadError(
            f"{path.name}, the header: its last column is "
            f"{short_repr(header[-1] if header else '')}, not 'timestamp', so it is not a "
            "dataset file asyncflag or Gradio's CSVLogger wrote (their headers end with "
            "'timestamp'); move it out of the flagging directory, or rename it",
            file=str(path),
            row=0,
            column=header[-1] if header else "",
        )
    if tuple(header[-3:]) == METADATA_COLUMNS:  # asyncflag's, and Gradio's with both
        return _Layout(tuple(header[:-3]))
    end = len(header) - 1
    username = end > needed and header[end - 1] == "username"
    end -= username
    flag = end > needed and header[end - 1] == "flag"
    end -= flag
    return _Layout(tuple(header[:end]), flag=flag, username=username)


def _log_layout(
    path: Path, first: list[str], decoders: list[Component] | None
) -> tuple[_Layout, bool]:
    """The layout of a ``log.csv`` (not a chat log) from its first record, and whether
    that record is a header.

    Three writers leave a ``log.csv``:

    - Gradio 4's ``CSVLogger`` (5/6's ``ClassicCSVLogger``): a header row (the labels,
      then ``flag, username, timestamp``), then values, flag, username, timestamp;
    - asyncflag's :class:`~asyncflag.SimpleCSVLogger`: no header; values, flag,
      username, timestamp (an ISO 8601 timestamp with its zone);
    - Gradio 5/6's ``SimpleCSVLogger``: no header; the values alone.

    The first row decides, in this order: a first row whose last cell is ``timestamp``
    (the word) and which has more cells than the components given is a header (a row of
    values has exactly one cell per component, and asyncflag's last cell is a date);
    a first row with exactly one cell per component given is values alone; a first row
    whose last cell is a date and time (after at least three cells) is asyncflag's;
    anything else is values alone.
    """
    count = len(decoders) if decoders else 0
    if first[-1] == "timestamp" and len(first) > count:
        return _header_layout(path, [unescape(cell) for cell in first], count), True
    if (decoders and len(first) == count) or len(first) < 4 or not _is_timestamp(first[-1]):
        width = len(first)
        timestamp = False
    else:
        width = len(first) - len(METADATA_COLUMNS)
        timestamp = True
    labels = tuple(
        (decoders[i].label if decoders and i < len(decoders) else None) or f"component {i}"
        for i in range(width)
    )
    if timestamp:
        return _Layout(labels), False
    return _Layout(labels, flag=False, username=False, timestamp=False), False


def _is_timestamp(cell: str) -> bool:
    try:
        datetime.fromisoformat(cell)
    except ValueError:
        return False
    return True


def _last_feedback_rows(files: list[Path]) -> dict[str, tuple[int, int]]:
    """Where the last row of each feedback id is, over the chat datasets (files with a
    ``feedback_id`` column) among ``files``: ``(file index, row number)``, rows numbered
    from 1 after the header.

    A first pass over those files only, keeping one place per feedback id (a feedback
    given again after a restart may be in a later file)."""
    last: dict[str, tuple[int, int]] = {}
    for index, path in enumerate(files):
        records = _records(path, start=0)
        header = [unescape(cell) for cell in next(records, [])]
        if FEEDBACK_ID_LABEL not in header:
            records.close()
            continue
        column = header.index(FEEDBACK_ID_LABEL)
        for number, record in enumerate(records, start=1):
            if column < len(record) and (fid := unescape(record[column])):
                last[fid] = (index, number)
    return last


def _current(
    rows: Iterator[_Numbered], last: dict[str, tuple[int, int]], index: int
) -> Iterator[FlaggedRow]:
    """The current state of chat feedback: the last row of each ``feedback_id``, left out
    when it withdrew the feedback (no flag); rows without a ``feedback_id`` as they are."""
    for number, row in rows:
        fid = _feedback_id(row)
        if fid is None or (last.get(fid) == (index, number) and row.flag):
            yield row


def _feedback_id(row: FlaggedRow) -> str | None:
    if FEEDBACK_ID_LABEL not in row.labels:
        return None
    value = row.values[row.labels.index(FEEDBACK_ID_LABEL)]
    return value if isinstance(value, str) and value else None


def _chat_log(records: Iterable[list[str]], root: Path, path: Path) -> Iterator[FlaggedRow]:
    """The rows of a chat ``log.csv``: five fields (conversation, index, value, flag,
    timestamp), or Gradio's four (no value: it is taken from the conversation).

    :raises FlagReadError: for a timestamp that is not one, naming the row
    """
    chatbot = Chatbot("conversation")
    for number, record in enumerate(records, start=1):
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
        timestamp = _timestamp(stamp, path, number)
        yield FlaggedRow(
            values=(conversation, index, value),
            labels=("conversation", "index", "value"),
            flag=unescape_optional(flag),
            username=None,
            timestamp=timestamp,
            file=str(path),
            timestamp_naive=timestamp is not None and timestamp.tzinfo is None,
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
    layout: _Layout,
    decoders: list[Component] | None,
    root: Path,
    path: Path,
    unsafe_paths: str,
    extras: _Extras = _NO_EXTRAS,
) -> Iterator[_Numbered]:
    """The rows of ``records`` decoded, each with its number (from 1, after a header).

    :raises FlagReadError: naming the file, row and column of a cell that cannot be read
    """
    labels = layout.labels
    width = len(labels)
    if decoders is not None and len(decoders) > width:
        raise FlagReadError(
            f"{path.name} has {width} value columns, fewer than the {len(decoders)} "
            "components given: pass the components that wrote it (iface.components)",
            file=str(path),
        )
    # the labels of the values a row gives: without the correction and comment columns
    value_labels = labels[: width - len(extras.corrections) - extras.comment]
    for number, record in enumerate(records, start=1):
        if not record:
            continue  # a blank line (a hand edit): no row
        if len(record) < width:
            raise FlagReadError(
                f"{path.name}, row {number}: {len(record)} cells, fewer than the {width} "
                f"value columns ({', '.join(map(repr, labels))}); was the file cut or edited?",
                file=str(path),
                row=number,
                column=labels[len(record)],
            )
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
                except Exception as exc:  # each component raises its own kind
                    raise _cell_error(path, number, labels[i], exc, decoders[i], cell) from None
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
            except Exception as exc:
                raise _cell_error(path, number, "a correction column", exc) from None
        flag, username, stamp = _metadata(record, layout, path, number)
        timestamp = _timestamp(stamp, path, number)
        yield (
            number,
            FlaggedRow(
                values=values,
                labels=value_labels,
                flag=unescape_optional(flag),
                username=unescape_optional(username),
                timestamp=timestamp,
                file=str(path),
                comment=comment,
                correction=correction,
                timestamp_naive=timestamp is not None and timestamp.tzinfo is None,
            ),
        )


def _cell_error(
    path: Path,
    number: int,
    column: str,
    exc: Exception,
    component: Component | None = None,
    cell: str | None = None,
) -> FlagReadError:
    """The error of a cell that cannot be decoded, saying where it is."""
    what = ""
    if component is not None and cell is not None:
        what = f"a {type(component).__name__} cannot read the cell {short_repr(cell)}: "
    return FlagReadError(
        f"{path.name}, row {number}, column {column!r}: {what}{exc} (was the file edited, "
        "or are these not the components that wrote it?)",
        file=str(path),
        row=number,
        column=column,
    )


def _metadata(record: list[str], layout: _Layout, path: Path, number: int) -> tuple[str, str, str]:
    """The flag, username and timestamp cells of a row (``""`` for none).

    The timestamp is the last cell. Between the values and it, asyncflag writes the flag
    and the username; Gradio 5/6 write the flag only if the flag had an option and the
    username only if it had one, whatever the header holds, so a row can have one cell
    fewer (or more) than its header: two cells are the flag and the username; one cell is
    the flag if the header has a ``flag`` column or lacks a ``username`` one, else the
    username. In a ``log.csv`` of values only (Gradio's ``SimpleCSVLogger``), a row with
    three more cells, the last a date and time, is one asyncflag's ``SimpleCSVLogger``
    appended.

    :raises FlagReadError: for a row with more cells than values, flag, username and
        timestamp
    """
    rest = record[len(layout.labels) :]
    if not layout.timestamp:
        if len(rest) == len(METADATA_COLUMNS) and _is_timestamp(rest[-1]):
            # asyncflag's SimpleCSVLogger appended to Gradio's log of values only
            return rest[0], rest[1], rest[2]
        if rest:
            raise FlagReadError(
                f"{path.name}, row {number}: {len(record)} cells, more than the "
                f"{len(layout.labels)} values of the first row (a log.csv of values only, "
                "as Gradio's SimpleCSVLogger writes it)",
                file=str(path),
                row=number,
            )
        return "", "", ""
    if not rest:
        return "", "", ""
    *middle, stamp = rest
    if len(middle) > 2:
        raise FlagReadError(
            f"{path.name}, row {number}: {len(record)} cells, more than the "
            f"{len(layout.labels)} value columns and the flag, username and timestamp",
            file=str(path),
            row=number,
        )
    if len(middle) == 2:
        return middle[0], middle[1], stamp
    if len(middle) == 1:
        if layout.flag or not layout.username:
            return middle[0], "", stamp
        return "", middle[0], stamp
    return "", "", stamp


def _timestamp(stamp: str, path: Path, number: int) -> datetime | None:
    """A timestamp cell as a datetime: aware for asyncflag's (UTC), naive for Gradio's.

    :raises FlagReadError: for a cell that is not a date and time
    """
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        raise FlagReadError(
            f"{path.name}, row {number}, column 'timestamp': {short_repr(stamp)} is not a "
            "date and time (ISO 8601 as asyncflag writes it, 2026-11-25T15:43:49+00:00, or "
            "Gradio's 2026-11-25 15:43:40.151430)",
            file=str(path),
            row=number,
            column="timestamp",
        ) from None


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
