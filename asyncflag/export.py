"""Getting flagged data out: an Arrow table, a pandas DataFrame, Parquet, JSONL and a
Hugging Face ``datasets`` folder.

Every column is typed by the component that wrote it (each component class states its
own column type with :meth:`~asyncflag.components.Component.arrow_type` and
:meth:`~asyncflag.components.Component.to_arrow_value`): numbers as numbers, a checkbox
as a bool, a chat as a list of ``{role, content}`` structs, JSON values as their JSON
text, files as paths. Then ``comment`` (when a file has one), ``flag`` and ``username``
as strings, ``timestamp`` as a UTC timestamp, and ``dataset`` (the file a row came
from) when the dataset files read have different columns.

Needs ``pip install 'asyncflag[export]'`` (pyarrow and pandas).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from .checks import one_of
from .components import Audio, Component, Image, component_from
from .errors import FlagValueError
from .read import COMMENT_LABEL, CORRECTION_SUFFIX, FlaggedRow, iter_flagged, value_labels
from .sinks.datasets import METADATA_COLUMNS, SIMPLE_LOG_NAME, dataset_files
from .sinks.sql import table_components
from .sinks.sqlite import chosen_tables, iter_sqlite, sqlite_path, table_root
from .sinks.targets import database_tables, is_postgres_target, shown_source

if TYPE_CHECKING:
    import pandas
    import pyarrow

__all__ = [
    "BATCH_ROWS",
    "DATASET_COLUMN",
    "EXPORT_FORMATS",
    "HF_DATA",
    "HF_METADATA",
    "INSTALL_HINT",
    "ExportResult",
    "export",
    "to_arrow",
    "to_pandas",
]

#: the formats :func:`export` writes
EXPORT_FORMATS = ("parquet", "jsonl", "hf")
#: what to do when pyarrow or pandas is missing
INSTALL_HINT = "exporting needs pyarrow and pandas: pip install 'asyncflag[export]'"
#: the column naming the dataset file of each row, when the files differ in columns
DATASET_COLUMN = "dataset"
#: rows converted and written at a time (what an export holds in memory, besides a row)
BATCH_ROWS = 8192
#: the metadata file of a ``to="hf"`` folder (read by ``datasets``' image/audio folders)
HF_METADATA = "metadata.parquet"
#: the data file of a ``to="hf"`` folder without image or audio columns
HF_DATA = "data/train-00000-of-00001.parquet"

_PLAIN = Component()  # how a column without a component is held: text, or JSON text


class ExportResult(msgspec.Struct, frozen=True):
    """What :func:`export` wrote."""

    #: the rows written
    rows: int
    #: the file (``parquet``, ``jsonl``) or folder (``hf``) written
    path: str
    #: the column names, in order
    columns: tuple[str, ...]


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return pyarrow


class _Column(msgspec.Struct):
    name: str
    #: the component whose values the column holds (``None``: plain text)
    component: Component | None
    #: where a row's value comes from: "value", "correction", "comment" or a metadata name
    kind: str


class _Plan:
    """The columns of an export, gathered file by file (labels, then corrections and
    the comment, then the metadata columns)."""

    def __init__(self, components: Sequence[Component] | None) -> None:
        self.components = list(components) if components is not None else None
        self.columns: dict[str, _Column] = {}
        self.file_labels: dict[str, tuple[str, ...]] = {}
        self._corrected = {
            f"{c.label}{CORRECTION_SUFFIX}": c for c in self.components or () if c.label
        }

    def add_file(self, file: str, labels: Sequence[str]) -> None:
        """Take the value labels (corrections and comment included) of one file."""
        self.file_labels[file] = tuple(labels)
        if len(set(labels)) != len(labels):
            twice = sorted({label for label in labels if labels.count(label) > 1})
            raise FlagValueError(
                f"{Path(file).name} has two columns labelled {twice[0]!r}: an export needs "
                "one name per column; give the components different labels"
            )
        for index, label in enumerate(labels):
            component: Component | None = None
            kind = "value"
            if self.components is not None and index < len(self.components):
                component = self.components[index]
            elif label in self._corrected:
                component, kind = self._corrected[label], "correction"
            elif label == COMMENT_LABEL:
                kind = "comment"
            self._add(_Column(label, component, kind), file)

    def _add(self, column: _Column, file: str) -> None:
        if column.name in (*METADATA_COLUMNS, DATASET_COLUMN):
            raise FlagValueError(
                f"{Path(file).name} has a value column labelled {column.name!r}, the name of "
                "a column every export adds: give that component another label"
            )
        known = self.columns.get(column.name)
        if known is None:
            self.columns[column.name] = column
            return
        if _arrow_type(known.component) != _arrow_type(column.component):
            raise FlagValueError(
                f"the column {column.name!r} holds {_arrow_type(known.component)} in one dataset "
                f"file and {_arrow_type(column.component)} in {Path(file).name}: export one "
                "dataset at a time (dataset=..., --dataset)"
            )

    @property
    def several_schemas(self) -> bool:
        return len(set(self.file_labels.values())) > 1

    def names(self) -> list[str]:
        extra = [DATASET_COLUMN] if self.several_schemas else []
        return [*self.columns, *METADATA_COLUMNS, *extra]

    def schema(self) -> Any:
        pa = _pyarrow()
        fields = [pa.field(c.name, _arrow_type(c.component)) for c in self.columns.values()]
        fields += [pa.field(name, pa.string()) for name in METADATA_COLUMNS[:2]]
        fields.append(pa.field("timestamp", pa.timestamp("us", tz="UTC")))
        if self.several_schemas:
            fields.append(pa.field(DATASET_COLUMN, pa.string()))
        return pa.schema(fields)


def _arrow_type(component: Component | None) -> Any:
    return (component or _PLAIN).arrow_type()


def _row_cells(row: FlaggedRow, naive: tzinfo) -> dict[str, Any]:
    """A row's values by column name (decoded values, not yet Arrow's form)."""
    cells: dict[str, Any] = dict(zip(row.labels, row.values, strict=False))
    if row.correction is not None:
        outputs = row.labels[len(row.labels) - len(row.correction) :]
        for label, value in zip(outputs, row.correction, strict=True):
            cells[f"{label}{CORRECTION_SUFFIX}"] = value
    if row.comment is not None and COMMENT_LABEL not in cells:
        cells[COMMENT_LABEL] = row.comment
    cells["flag"] = row.flag
    cells["username"] = row.username
    cells["timestamp"] = _utc(row.timestamp, naive)
    cells[DATASET_COLUMN] = Path(row.file).name
    return cells


def _utc(stamp: datetime | None, naive: tzinfo) -> datetime | None:
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=naive)
    return stamp.astimezone(UTC)


def _batch(plan: _Plan, rows: Sequence[dict[str, Any]], schema: Any) -> Any:
    """One Arrow record batch of rows (as :func:`_row_cells` gives them)."""
    pa = _pyarrow()
    arrays = []
    for field in schema:
        column = plan.columns.get(field.name)
        if column is not None:
            convert = (column.component or _PLAIN).to_arrow_value
            values = [convert(row.get(field.name)) for row in rows]
        else:
            values = [row.get(field.name) for row in rows]
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            raise _unfit(field, values, rows) from None
    return pa.record_batch(arrays, schema=schema)


def _unfit(field: Any, values: list[Any], rows: Sequence[dict[str, Any]]) -> FlagValueError:
    """The error for the first value of a column that its Arrow type cannot hold."""
    pa = _pyarrow()
    for value, row in zip(values, rows, strict=True):
        try:
            pa.array([value], type=field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
            return FlagValueError(
                f"{row.get(DATASET_COLUMN)}, column {field.name!r}: {shown} does not fit "
                f"the column's type {field.type} ({exc}); export that column as text (give "
                "components=None, or a Textbox in its place)"
            )
    return FlagValueError(f"column {field.name!r}: a value does not fit {field.type}")


def _plan_rows(rows: Sequence[FlaggedRow], components: Sequence[Component] | None) -> _Plan:
    plan = _Plan(components)
    for row in rows:
        if row.file in plan.file_labels:
            continue
        labels = list(row.labels)
        plan.add_file(row.file, labels)
    for row in rows:  # corrections and comments seen in the rows
        for label in _row_names(row):
            if label not in plan.columns:
                kind = "comment" if label == COMMENT_LABEL else "correction"
                plan._add(_Column(label, plan._corrected.get(label), kind), row.file)
    return plan


def to_arrow(
    rows: Iterable[FlaggedRow],
    components: Sequence[Component | str] | None = None,
    *,
    naive_timezone: tzinfo = UTC,
) -> pyarrow.Table:
    """The rows :func:`~asyncflag.load_flagged` read as an Arrow table.

    A column per value label, typed by ``components`` (the ones the rows were read
    with; without them every value column is text), the correction and comment columns
    when rows have them, ``flag`` and ``username`` (strings), ``timestamp`` (UTC; a
    naive one, as Gradio writes, is taken to be in ``naive_timezone``), and ``dataset``
    (the file's name) when rows come from dataset files with different columns.

    :raises ImportError: without pyarrow (``pip install 'asyncflag[export]'``)
    :raises FlagValueError: for two files giving one column different types, or a
        label that is also the name of a metadata column
    """
    pa = _pyarrow()
    listed = list(rows)
    decoders = [component_from(c) for c in components] if components is not None else None
    plan = _plan_rows(listed, decoders)
    schema = plan.schema()
    batches = [
        _batch(plan, [_row_cells(r, naive_timezone) for r in listed[i : i + BATCH_ROWS]], schema)
        for i in range(0, len(listed), BATCH_ROWS)
    ]
    return pa.Table.from_batches(batches, schema=schema)


def to_pandas(
    rows: Iterable[FlaggedRow],
    components: Sequence[Component | str] | None = None,
    *,
    naive_timezone: tzinfo = UTC,
) -> pandas.DataFrame:
    """The rows as a pandas DataFrame: :func:`to_arrow`'s table, with pandas' nullable
    ``Int64`` and ``boolean`` for int and bool columns (an empty cell is ``<NA>``),
    ``datetime64[us, UTC]`` timestamps, and lists, structs and text as Python objects
    and strings.

    :raises ImportError: without pyarrow and pandas (``pip install 'asyncflag[export]'``)
    """
    pa = _pyarrow()
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    table = to_arrow(rows, components, naive_timezone=naive_timezone)
    mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    return table.to_pandas(types_mapper=mapping.get)


# -- export: streaming files ---------------------------------------------------------------


def _file_labels(path: Path, decoders: list[Component] | None) -> list[str] | None:
    """The value labels of a dataset file (``None``: no whole header), as the reader
    reads it."""
    labels = value_labels(path, decoders)
    return None if labels is None else list(labels)


def _dataset_names(root: Path) -> list[str]:
    names = [path.name for _, path in dataset_files(root)]
    log = root / SIMPLE_LOG_NAME
    if log.is_file() and not log.is_symlink():
        names.append(SIMPLE_LOG_NAME)
    return names


def _chosen(root: Path, dataset: str | int | Sequence[str | int] | None) -> list[str]:
    names = _dataset_names(root)
    if dataset is None:
        return names
    wanted = [dataset] if isinstance(dataset, str | int) else list(dataset)
    chosen = []
    for item in wanted:
        name = f"dataset{item}.csv" if isinstance(item, int) else str(item)
        if not name.endswith(".csv"):
            name += ".csv"
        if name not in names:
            raise FlagValueError(
                f"dataset {item!r} is not in {root}: it has "
                f"{', '.join(names) or 'no dataset files'}"
            )
        chosen.append(name)
    return chosen


def _since(since: datetime | str | None, naive: tzinfo) -> datetime | None:
    if since is None or isinstance(since, datetime):
        return _utc(since, naive)
    try:
        return _utc(datetime.fromisoformat(since), naive)
    except ValueError:
        raise FlagValueError(
            f"since={since!r} is not a date or time: use ISO 8601, e.g. 2026-01-31 or "
            "2026-01-31T12:00:00+00:00"
        ) from None


def _flagged_rows(
    root: Path,
    decoders: list[Component] | None,
    unsafe_paths: Literal["raise", "skip"],
    history: bool,
    plan: _Plan,
    chosen: set[str],
) -> Iterator[FlaggedRow]:
    """The rows of the ``chosen`` files of a flagging directory, file by file, one at a
    time; the first row of each file is checked against the columns planned from the
    file's header."""
    checked: set[str] = set()
    for row in iter_flagged(root, decoders, unsafe_paths=unsafe_paths, history=history):
        if Path(row.file).name not in chosen:
            continue
        if row.file not in checked:
            checked.add(row.file)
            missing = [name for name in _row_names(row) if name not in plan.columns]
            if missing:
                raise FlagValueError(
                    f"{Path(row.file).name}: its rows have the column {missing[0]!r}, which "
                    "its header did not announce; export it apart with dataset=... "
                    "(--dataset) or without components"
                )
        yield row


def _row_names(row: FlaggedRow) -> list[str]:
    """The value, correction and comment column names a row fills."""
    names = list(row.labels)
    if row.correction is not None:
        outputs = row.labels[len(row.labels) - len(row.correction) :]
        names += [f"{label}{CORRECTION_SUFFIX}" for label in outputs]
    if row.comment is not None and COMMENT_LABEL not in names:
        names.append(COMMENT_LABEL)
    return names


def export(
    flagging_dir: str | Path,
    to: Literal["parquet", "jsonl", "hf"],
    out: str | Path,
    *,
    components: Sequence[Component | str] | None = None,
    option: str | Sequence[str] | None = None,
    since: datetime | str | None = None,
    dataset: str | int | Sequence[str | int] | None = None,
    naive_timezone: tzinfo = UTC,
    unsafe_paths: Literal["raise", "skip"] = "raise",
    history: bool = False,
    progress: bool = False,
) -> ExportResult:
    """Write the flagged rows of ``flagging_dir`` to ``out``, typed (see :func:`to_arrow`).

    ``flagging_dir`` may also be a SQLite database :class:`~asyncflag.SQLiteLogger` wrote
    (``.db``, ``.sqlite``, ``.sqlite3``, ``sqlite:///path``) or a PostgreSQL DSN
    (``postgresql://...``) :class:`~asyncflag.PostgresLogger` wrote to: its tables are
    exported, typed by the components recorded with them (``dataset`` chooses tables by
    table or base name).

    - ``to="parquet"``: one Parquet file; ``to="jsonl"``: one JSON object per line
      (numbers, booleans, lists and structs as JSON, timestamps as ISO 8601 in UTC,
      files as absolute paths);
    - ``to="hf"``: a folder that ``datasets.load_dataset(out)`` loads, ready for
      ``huggingface_hub``'s ``upload_folder``: the saved files are copied into it
      (keeping their paths under the flagging directory) and an ``Image`` or ``Audio``
      column becomes a ``datasets.Image()``/``Audio()`` feature (its column is
      ``<label>_file_name`` in ``metadata.parquet``, as ``datasets``' image and audio
      folders read it); other file columns hold the copies' relative paths. A folder
      holds image or audio columns, not both (export them apart with ``components``).

    Rows are read and written a batch of :data:`BATCH_ROWS` at a time; the file is
    written under a temporary name and renamed when complete.

    :param components: decode and type the value columns (``iface.components``);
        without them every value column is text (and files stay the cells' paths)
    :param option: only rows flagged with this option (or one of these)
    :param since: only rows flagged at or after this time (naive: in ``naive_timezone``)
    :param dataset: only these files (``"dataset2.csv"``, ``"dataset2"``, ``2``, ``"log.csv"``)
    :param naive_timezone: the zone of naive timestamps (Gradio writes local time
        without a zone); UTC by default
    :param unsafe_paths: ``"skip"`` leaves out rows whose file cells name paths outside
        ``flagging_dir`` (see :func:`~asyncflag.iter_flagged`) instead of raising
    :param history: every row of a chat dataset, not only the current feedback
    :param progress: show a progress bar (rich) on the terminal
    :raises ImportError: without pyarrow (``pip install 'asyncflag[export]'``)
    :raises FlagValueError: for an unknown format or dataset, an ``out`` that exists
        (a non-empty folder for ``hf``), or columns an export cannot hold (nothing is
        left at ``out`` then)
    :raises ValueError: for a cell its component cannot read (as ``iter_flagged``)
    """
    one_of("to", to, EXPORT_FORMATS)
    one_of("unsafe_paths", unsafe_paths, ("raise", "skip"))
    _pyarrow()  # the install hint before anything is read
    database: str | Path | None = sqlite_path(flagging_dir)
    if is_postgres_target(flagging_dir):
        database = str(flagging_dir)
    root = Path(flagging_dir)
    if database is None and not root.is_dir():
        raise FlagValueError(f"{root} is not a directory: give a flagging directory to export")
    target = Path(out)
    if to == "hf":
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise FlagValueError(f"{target} exists and is not an empty folder: choose a new one")
    elif target.exists():
        raise FlagValueError(f"{target} exists: choose a new file or remove it")
    decoders = [component_from(c) for c in components] if components is not None else None
    if database is not None:
        root, plan, rows = _database_source(database, decoders, dataset, unsafe_paths)
    else:
        chosen = set(_chosen(root, dataset))
        plan = _Plan(decoders)
        for name in _dataset_names(root):
            if name in chosen:
                labels = _file_labels(root / name, decoders)
                if labels is not None:
                    plan.add_file(str(root / name), labels)
        rows = _flagged_rows(root, decoders, unsafe_paths, history, plan, chosen)
    options = None if option is None else {option} if isinstance(option, str) else set(option)
    start = _since(since, naive_timezone)

    def wanted(row: FlaggedRow) -> bool:
        if options is not None and row.flag not in options:
            return False
        if start is not None:
            stamp = _utc(row.timestamp, naive_timezone)
            if stamp is None or stamp < start:
                return False
        return True

    selected = (row for row in rows if wanted(row))
    with _Progress(progress) as bar:
        if to == "hf":
            created = not target.exists()
            try:
                count = _write_hf(root, plan, selected, target, naive_timezone, bar.advance)
            except BaseException:
                # what was copied into the folder so far goes: no half-made dataset
                if created:
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    for child in target.iterdir():
                        if child.is_dir() and not child.is_symlink():
                            shutil.rmtree(child, ignore_errors=True)
                        else:
                            child.unlink(missing_ok=True)
                raise
        else:
            schema = plan.schema()
            write = _write_parquet if to == "parquet" else _write_jsonl
            with _replacing(target) as temp:
                count = write(plan, schema, selected, temp, naive_timezone, bar.advance)
    return ExportResult(rows=count, path=str(target), columns=tuple(plan.names()))


def _database_source(
    database: str | Path,
    decoders: list[Component] | None,
    dataset: str | int | Sequence[str | int] | None,
    unsafe_paths: Literal["raise", "skip"],
) -> tuple[Path, _Plan, Iterator[FlaggedRow]]:
    """The flagging directory, the columns and the rows of a SQLite or PostgreSQL
    database's tables (``dataset``: table or base names). Without ``decoders``, the
    columns are typed by the components recorded with the tables, when every table
    chosen recorded the same ones."""
    tables = None if dataset is None else [str(d) for d in _listed(dataset)]
    name = shown_source(database)
    records = chosen_tables(database_tables(database), tables, name)
    typing = decoders
    if typing is None and records and len({r.components for r in records}) == 1:
        recorded = table_components(records[0])
        if all(c is not None for c in recorded):
            typing = [c for c in recorded if c is not None]
    plan = _Plan(typing)
    for record in records:
        plan.add_file(f"{name}#{record.table}", [c.name for c in record.columns()])
    chosen = [r.table for r in records]
    if is_postgres_target(database):
        from .sinks.postgres import iter_postgres

        root = Path(records[0].flagging_dir) if records else Path.cwd()
        rows = iter_postgres(str(database), decoders, table=chosen, unsafe_paths=unsafe_paths)
        return root, plan, rows
    database = Path(database)
    root = table_root(database, records[0]) if records else database.parent
    rows = iter_sqlite(database, decoders, table=chosen, unsafe_paths=unsafe_paths)
    return root, plan, rows


def _listed(dataset: str | int | Sequence[str | int]) -> list[str | int]:
    return [dataset] if isinstance(dataset, str | int) else list(dataset)


def _batches(
    rows: Iterable[FlaggedRow], naive: tzinfo, advance: Callable[[int], None]
) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(_row_cells(row, naive))
        if len(batch) >= BATCH_ROWS:
            yield batch
            advance(len(batch))
            batch = []
    if batch:
        yield batch
        advance(len(batch))


def _write_parquet(
    plan: _Plan,
    schema: Any,
    rows: Iterable[FlaggedRow],
    path: Path,
    naive: tzinfo,
    advance: Callable[[int], None],
) -> int:
    import pyarrow.parquet as pq

    count = 0
    with pq.ParquetWriter(path, schema) as writer:
        for batch in _batches(rows, naive, advance):
            writer.write_batch(_batch(plan, batch, schema))
            count += len(batch)
    return count


def _write_jsonl(
    plan: _Plan,
    schema: Any,
    rows: Iterable[FlaggedRow],
    path: Path,
    naive: tzinfo,
    advance: Callable[[int], None],
) -> int:
    encoder = msgspec.json.Encoder()
    count = 0
    with path.open("wb") as file:
        for batch in _batches(rows, naive, advance):
            for record in _batch(plan, batch, schema).to_pylist():
                file.write(encoder.encode(record))
                file.write(b"\n")
            count += len(batch)
    return count


def _write_hf(
    root: Path,
    plan: _Plan,
    rows: Iterable[FlaggedRow],
    folder: Path,
    naive: tzinfo,
    advance: Callable[[int], None],
) -> int:
    """The ``to="hf"`` folder: copies of the files, then ``metadata.parquet`` (image or
    audio columns renamed ``<label>_file_name``) or ``data/...parquet``, and a README."""
    import pyarrow.parquet as pq

    media = [
        c.name
        for c in plan.columns.values()
        if isinstance(c.component, Image | Audio) and c.kind == "value"
    ]
    kinds = {type(plan.columns[name].component).__name__ for name in media}
    if len(kinds) > 1:
        raise FlagValueError(
            "a Hugging Face folder holds image columns or audio columns, not both "
            f"(this export has {', '.join(sorted(kinds))}): export with components that "
            "leave one kind out, or export to parquet"
        )
    schema = plan.schema()
    renamed = schema
    for name in media:
        index = renamed.get_field_index(name)
        renamed = renamed.set(index, renamed.field(index).with_name(f"{name}_file_name"))
    files = [
        c for c in plan.columns.values() if c.component is not None and c.component.holds_files
    ]
    resolved = root.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / (HF_METADATA if media else HF_DATA)
    data.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with _replacing(data) as temp, pq.ParquetWriter(temp, renamed) as writer:
        for batch in _batches(rows, naive, advance):
            for column in files:
                component = column.component
                assert component is not None
                for cells in batch:
                    value = cells.get(column.name)
                    copied = [_copy_file(Path(f), resolved, folder) for f in component.files(value)]
                    cells[column.name] = component.with_files(value, copied)
            writer.write_batch(_batch(plan, batch, schema).rename_columns(renamed.names))
            count += len(batch)
    (folder / "README.md").write_text(_hf_card(renamed.names, count), encoding="utf-8")
    return count


def _copy_file(path: Path, root: Path, folder: Path) -> str:
    """Copy a saved file into the export folder at its path under the flagging directory;
    return that relative path."""
    relative = path.resolve().relative_to(root)
    target = folder / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return relative.as_posix()


def _hf_card(columns: Sequence[str], rows: int) -> str:
    listed = "\n".join(f"- `{name}`" for name in columns)
    return (
        "---\npretty_name: Flagged data\n---\n\n# Flagged data\n\n"
        f"Exported by asyncflag: {rows} rows. Load it with "
        '`datasets.load_dataset("path/to/this/folder")`.\n\n'
        f"Columns:\n\n{listed}\n\n"
        "Upload it with `huggingface_hub.HfApi().upload_folder(folder_path=..., "
        'repo_id="you/name", repo_type="dataset")`.\n'
    )


class _replacing:
    """A temporary path beside ``path``, renamed to it when the block succeeds and
    removed when it fails."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        os.close(handle)
        self.temp = Path(name)
        return self.temp

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            os.replace(self.temp, self.path)
        else:
            self.temp.unlink(missing_ok=True)


class _Progress:
    """A rich progress bar of the rows written (nothing when ``shown`` is false)."""

    def __init__(self, shown: bool) -> None:
        self.shown = shown
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> _Progress:
        if self.shown:
            from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

            self.bar = Progress(
                SpinnerColumn(),
                TextColumn("exporting"),
                MofNCompleteColumn(),
                TextColumn("rows"),
                transient=True,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task("export", total=None)
        return self

    def advance(self, rows: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, rows)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
