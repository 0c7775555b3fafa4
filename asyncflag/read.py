"""Reading a flagging directory back: :func:`load_flagged`.

Rows come from every layout asyncflag writes (``datasetN.csv`` files with a header,
the headerless ``log.csv``), cells unescaped by :mod:`asyncflag.escaping` and decoded
by the components given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

from .checks import one_of
from .components import Chatbot, Component, FileComponent, component_from
from .errors import FlagValueError, UnsafePathError
from .escaping import unescape, unescape_optional
from .sinks.datasets import METADATA_COLUMNS, SIMPLE_LOG_NAME, dataset_files, read_schema
from .sinks.records import read_records

__all__ = ["CHAT_LOG_HEADER", "FlaggedRow", "load_flagged"]

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


def load_flagged(
    flagging_dir: str | Path,
    components: Sequence[Component | str] | None = None,
    *,
    unsafe_paths: Literal["raise", "skip"] = "raise",
    history: bool = False,
) -> list[FlaggedRow]:
    """Read back the rows of a flagging directory.

    Rows come from ``dataset1.csv``, ``dataset2.csv``... in order, then from the
    ``log.csv`` of :class:`~asyncflag.SimpleCSVLogger`. With ``components``, the
    first ``len(components)`` values of each row are decoded by them (numbers,
    booleans, JSON, absolute paths of saved files); other values stay strings.

    A file column only ever yields paths inside ``flagging_dir``: a cell that is
    absolute, climbs out with ``..``, holds a NUL byte or leads out through a symlink
    (an edited dataset, or text appended under the same labels by an older version)
    raises :class:`~asyncflag.errors.UnsafePathError` naming the file, row and column.
    So does a dataset file whose schema file (``.asyncflag/<dataset>.schema.json``)
    shows that a column decoded here as files was written by another component (a
    Textbox under the same label): its cells are not saved files.

    A chat dataset (a ``feedback_id`` column, written by
    :class:`~asyncflag.ChatInterface`) holds every feedback event: by default only the
    current state is returned, that is the last row of each ``feedback_id`` unless it
    withdrew the feedback (an empty ``flag``: an undo), in the place of that last row;
    rows without a ``feedback_id`` (``auto`` mode's exchange rows) are all returned.
    ``history=True`` returns every row as written. A chat ``log.csv``
    (:class:`~asyncflag.ChatCSVLogger`'s, or Gradio's own with its four-field rows)
    gives rows with the values ``(conversation, index, value)``.

    :param unsafe_paths: ``"skip"`` leaves such rows (and such dataset files) out
        instead of raising
    :param history: every row of a chat dataset, not only the current feedback
    :raises UnsafePathError: for a file cell naming a path outside ``flagging_dir``
    :raises FlagValueError: if a file has fewer value columns than ``components``,
        or ``log.csv`` is read without components
    """
    one_of("unsafe_paths", unsafe_paths, ("raise", "skip"))
    root = Path(flagging_dir)
    decoders = [component_from(c) for c in components] if components is not None else None
    rows: list[FlaggedRow] = []
    for _, path in dataset_files(root):
        if decoders and not _files_where_expected(path, decoders, unsafe_paths):
            continue
        records = read_records(path)
        if not records:
            continue
        header = [unescape(cell) for cell in records[0]]
        labels = tuple(header[: len(header) - len(METADATA_COLUMNS)])
        rows.extend(_decode(records[1:], labels, decoders, root, path, unsafe_paths))
    log = root / SIMPLE_LOG_NAME
    records = read_records(log) if log.is_file() and not log.is_symlink() else []
    if records and tuple(records[0]) == CHAT_LOG_HEADER:
        rows.extend(_chat_log(records[1:], root, log))
    elif records and (not decoders or _files_where_expected(log, decoders, unsafe_paths)):
        width = len(records[0]) - len(METADATA_COLUMNS)
        labels = tuple(
            (decoders[i].label if decoders and i < len(decoders) else None) or f"component {i}"
            for i in range(width)
        )
        rows.extend(_decode(records, labels, decoders, root, log, unsafe_paths))
    return rows if history else _current(rows)


def _feedback_id(row: FlaggedRow) -> str | None:
    if FEEDBACK_ID_LABEL not in row.labels:
        return None
    value = row.values[row.labels.index(FEEDBACK_ID_LABEL)]
    return value if isinstance(value, str) and value else None


def _current(rows: list[FlaggedRow]) -> list[FlaggedRow]:
    """The current state of chat feedback: the last row of each ``feedback_id``, left out
    when it withdrew the feedback (no flag); rows without a ``feedback_id`` as they are."""
    ids = [_feedback_id(row) for row in rows]
    if not any(ids):
        return rows
    last = {fid: number for number, fid in enumerate(ids) if fid is not None}
    return [
        row
        for number, (row, fid) in enumerate(zip(rows, ids, strict=True))
        if fid is None or (last[fid] == number and row.flag)
    ]


def _chat_log(records: list[list[str]], root: Path, path: Path) -> list[FlaggedRow]:
    """The rows of a chat ``log.csv``: five fields (conversation, index, value, flag,
    timestamp), or Gradio's four (no value: it is taken from the conversation)."""
    chatbot = Chatbot("conversation")
    rows = []
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
        rows.append(
            FlaggedRow(
                values=(conversation, index, value),
                labels=("conversation", "index", "value"),
                flag=unescape_optional(flag),
                username=None,
                timestamp=timestamp,
                file=str(path),
            )
        )
    return rows


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
        if isinstance(decoder, FileComponent) and not column.file:
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


def _decode(
    records: list[list[str]],
    labels: tuple[str, ...],
    decoders: list[Component] | None,
    root: Path,
    path: Path,
    unsafe_paths: str,
) -> list[FlaggedRow]:
    width = len(labels)
    if decoders is not None and len(decoders) > width:
        raise FlagValueError(
            f"{path.name} has {width} value columns, "
            f"fewer than the {len(decoders)} components given"
        )
    rows = []
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
        meta = record[width : width + 3]
        flag, username, stamp = meta + [""] * (3 - len(meta))
        rows.append(
            FlaggedRow(
                values=values,
                labels=labels,
                flag=unescape_optional(flag),
                username=unescape_optional(username),
                timestamp=datetime.fromisoformat(stamp) if stamp else None,
                file=str(path),
            )
        )
    return rows
