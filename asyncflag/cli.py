"""The ``asyncflag`` command: ``demo``, ``serve module:attr``, ``consume URL``, ``show DIR``
and ``export DIR --to parquet|jsonl|hf OUT`` (``DIR`` may also be a SQLite database)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
from collections import Counter
from pathlib import Path

from .chat_interface import ChatInterface
from .checks import require_extra
from .errors import FlagValueError, MissingExtraError
from .interface import Interface, check_flagging_dir
from .read import FlaggedRow, load_flagged
from .sinks.datasets import SIMPLE_LOG_NAME, dataset_files, read_schema
from .sinks.sql import mask_dsn
from .sinks.targets import database_tables, is_database_source, shown_source

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="asyncflag", description="Gradio-style flagging, async.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="serve the built-in demos")
    demo.add_argument("--mode", choices=["manual", "auto", "never"], default=None)
    demo.add_argument("--dir", type=Path, default=Path("flagged"), help="flagging directory")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=7860)
    demo.add_argument(
        "--chat",
        action="store_true",
        help="serve the chat demo (a small rule-based bot that streams; feedback in manual mode)",
    )

    serve = commands.add_parser(
        "serve", help="serve an Interface or a ChatInterface: asyncflag serve module:attr"
    )
    serve.add_argument("target", help="module:attribute naming an Interface or a ChatInterface")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument(
        "--review",
        action="store_true",
        help="also serve the review page of the flagged data at /flagged (an Interface's)",
    )

    commands.add_parser(
        "bench",
        help="run the benchmark suite (from a checkout): asyncflag bench --quick",
        add_help=False,
    )

    consume = commands.add_parser(
        "consume",
        help="write the rows replicas publish to a Redis stream into a flagging directory",
    )
    consume.add_argument("url", help="redis://[user:password@]host:port/db (rediss:// for TLS)")
    consume.add_argument("--stream", required=True, help="the stream the replicas publish to")
    consume.add_argument("--dir", type=Path, default=Path("flagged"), help="flagging directory")
    consume.add_argument("--group", default="asyncflag", help="consumer group name")
    consume.add_argument("--name", default=None, help="this consumer's name (host-pid)")
    consume.add_argument("--durability", choices=["flush", "fsync"], default="flush")
    consume.add_argument("--simple", action="store_true", help="write log.csv, no header")
    consume.add_argument(
        "--max-file-size", type=int, default=2**20, help="largest file accepted, in bytes"
    )
    consume.add_argument("--keep", action="store_true", help="keep written entries in the stream")
    consume.add_argument(
        "--secret-file",
        type=Path,
        default=None,
        help="a file holding the secret the replicas sign entries with "
        "(RedisStream(..., secret=...)); unsigned entries are dead-lettered. Without it, "
        "anyone who can XADD to the stream can add rows",
    )
    consume.add_argument(
        "--to",
        default=None,
        metavar="DATABASE",
        help="write the rows into a database table instead of dataset files: "
        "postgresql://user:password@host:port/db or sqlite:///path.db (files stay in --dir)",
    )
    consume.add_argument(
        "--table", default=None, help="the table's name with --to (the stream's by default)"
    )
    consume.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")

    show = commands.add_parser(
        "show",
        help="summarise a flagging directory or a database: a SQLite file (.db) or "
        "postgresql://...",
    )
    show.add_argument(
        "dir",
        help="a flagging directory, a SQLiteLogger database, or postgresql://user:password@host/db",
    )
    show.add_argument("--last", type=int, default=5, help="how many of the last rows to print")

    export = commands.add_parser(
        "export",
        help="export a flagging directory, typed: parquet, jsonl or a Hugging Face folder",
    )
    export.add_argument(
        "dir",
        help="the flagging directory, a SQLiteLogger database (.db), or "
        "postgresql://user:password@host/db",
    )
    export.add_argument("out", type=Path, help="the file (parquet, jsonl) or folder (hf) to write")
    export.add_argument("--to", choices=["parquet", "jsonl", "hf"], required=True)
    export.add_argument(
        "--interface",
        default=None,
        help="module:attribute naming the Interface whose components type the columns "
        "(without it every value column is text)",
    )
    export.add_argument(
        "--option", action="append", help="only rows flagged with this option (repeatable)"
    )
    export.add_argument("--since", help="only rows flagged at or after this ISO 8601 time")
    export.add_argument(
        "--dataset",
        action="append",
        help="only this file: dataset2.csv, dataset2; of a database, this table or base "
        "name: flagged_v2, flagged (repeatable)",
    )
    export.add_argument(
        "--history", action="store_true", help="every row of a chat dataset, not only the current"
    )
    export.add_argument(
        "--naive-timezone",
        default="UTC",
        help="the zone of timestamps written without one (Gradio's local time): UTC by default",
    )

    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["bench"]:
            return run_benchmarks(argv[1:])
        return _run(parser, parser.parse_args(argv))
    except (MissingExtraError, FlagValueError) as exc:  # one line, no traceback
        command = argv[0] if argv else ""
        print(f"asyncflag {command}: {exc}", file=sys.stderr)
        return 2


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "demo":
        require_extra("web", "asyncflag demo", "starlette", "uvicorn")
        import uvicorn

        from .demos import chat_demo_app, demo_app

        if args.mode != "never":
            # a --dir that is a file or read-only: one line now, not a traceback at startup
            check_flagging_dir(args.dir)
        app = chat_demo_app(args.mode, args.dir) if args.chat else demo_app(args.mode, args.dir)
        base = f"http://{args.host}:{args.port}"
        print(f"asyncflag demo on {base}/ - flags go to {args.dir}/")
        for name, path in getattr(app.state, "links", []):
            print(f"  {name}: {base}{path}")
        if not args.chat:  # the chat demo alone has no review page
            print(f"  review the flagged rows: {base}/flagged")
        uvicorn.run(app, host=args.host, port=args.port)
        return 0
    if args.command == "serve":
        served = _load_interface(args.target, parser)
        if args.review and not isinstance(served, Interface):
            parser.error("--review serves an Interface's flagged rows; a ChatInterface has none")
        if isinstance(served, Interface) and served.flagging_mode != "never":
            check_flagging_dir(served.flagging_dir)
        if args.review:
            served.launch(host=args.host, port=args.port, review=True)
        else:
            served.launch(host=args.host, port=args.port)
        return 0
    if args.command == "consume":
        return run_consumer(args)
    if args.command == "export":
        return run_export(args, parser)
    if is_database_source(args.dir):
        return show_database(args.dir, args.last)
    return show_directory(Path(args.dir), args.last)


def run_consumer(args: argparse.Namespace) -> int:
    """Consume until SIGINT or SIGTERM, then finish the batch in hand and exit."""
    import signal

    import anyio

    require_extra("redis", "asyncflag consume", "coredis")
    from .transport import RedisConsumer

    logging.basicConfig(level=logging.INFO, format="asyncflag consume: %(message)s")
    secret: bytes | None = None
    if args.secret_file is not None:
        try:
            secret = read_secret(args.secret_file)
        except ValueError as exc:
            print(f"asyncflag consume: {exc}", file=sys.stderr)
            return 2

    async def consume() -> None:
        consumer = RedisConsumer(
            args.url,
            stream=args.stream,
            flagging_dir=args.dir,
            group=args.group,
            name=args.name,
            durability=args.durability,
            simple=args.simple,
            max_file_size=args.max_file_size,
            trim=not args.keep,
            secret=secret,
            to=args.to,
            table=args.table,
        )
        # the database's password is never printed: shown masked
        target = (
            f"{args.dir}/" if args.to is None else f"{mask_dsn(args.to)} (files in {args.dir}/)"
        )
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with consumer:
                print(
                    f"asyncflag consume: {args.stream} -> {target} as {consumer.name}", flush=True
                )
                async for _ in signals:
                    break
        print(f"asyncflag consume: stopped; {consumer.stats}", flush=True)

    try:
        anyio.run(consume, backend=args.backend)
    except FlagValueError as exc:
        print(f"asyncflag consume: {exc}", file=sys.stderr)
        return 2
    return 0


def run_export(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``asyncflag export``: :func:`asyncflag.export.export`, a progress bar on a terminal."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    components = None
    if args.interface is not None:
        components = _load_interface(args.interface, parser).components
    try:
        zone = ZoneInfo(args.naive_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(
            f"asyncflag export: unknown time zone {args.naive_timezone!r}: use a name such "
            "as UTC or Europe/Paris",
            file=sys.stderr,
        )
        return 2
    try:
        from .export import export

        result = export(
            args.dir,
            args.to,
            args.out,
            components=components,
            option=args.option,
            since=args.since,
            dataset=args.dataset,
            naive_timezone=zone,
            history=args.history,
            progress=sys.stderr.isatty(),
        )
    except (ImportError, ValueError, OSError) as exc:  # FlagValueError, a cell unreadable
        print(f"asyncflag export: {exc}", file=sys.stderr)
        return 2
    print(f"asyncflag export: {result.rows} rows -> {result.path} ({', '.join(result.columns)})")
    return 0


def read_secret(path: Path) -> bytes:
    """The secret a ``--secret-file`` holds: its bytes without a trailing newline.

    :raises ValueError: for a file that cannot be read or holds nothing
    """
    try:
        secret = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the secret file {str(path)!r}: {exc.strerror}") from None
    secret = secret.removesuffix(b"\n").removesuffix(b"\r")
    if not secret:
        raise ValueError(f"the secret file {str(path)!r} is empty: put the shared secret in it")
    return secret


def run_benchmarks(argv: list[str]) -> int:
    """``python -m benchmarks``: the suite lives beside the package in a checkout."""
    checkout = Path(__file__).resolve().parent.parent
    if not (checkout / "benchmarks" / "__main__.py").is_file():
        print(
            "asyncflag bench runs from a source checkout (benchmarks/ is not installed)",
            file=sys.stderr,
        )
        return 2
    require_extra("bench", "asyncflag bench", "rich", "hdrh", "psutil")
    sys.path.insert(0, str(checkout))
    from benchmarks.__main__ import main as bench_main

    return int(bench_main(argv))


def _load_interface(target: str, parser: argparse.ArgumentParser) -> Interface | ChatInterface:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        parser.error("the target must look like module:attribute")
    sys.path.insert(0, str(Path.cwd()))
    try:
        value = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        parser.error(f"cannot load {target}: {exc}")
    if not isinstance(value, Interface | ChatInterface):
        parser.error(
            f"{target} is a {type(value).__name__}, not an asyncflag Interface or ChatInterface"
        )
    return value


def show_directory(directory: Path, last: int = 5) -> int:
    """Print each dataset of a flagging directory on its own: its rows, columns, counts per
    flag option and last rows (numbers as numbers, booleans as booleans), then the files
    stored.

    Datasets are the ``datasetN.csv`` and ``log.csv`` files of the directory and of each
    sub-folder holding such files (the demo's ``image-demo/``, another interface's
    folder); counts are never added across datasets, whose columns may differ. A column
    is typed by the component its schema file names (Number, Slider, Checkbox), or, in a
    dataset without one (Gradio's), as numbers when every cell is a number.

    Everything that comes from the data (labels, values, options, usernames, file and
    folder names) is printed with its control characters escaped (``\\x1b``), so a
    flagged row cannot move the terminal's cursor, clear it or change its title.
    """
    if not directory.is_dir():
        print(f"{_shown(directory)} is not a directory", file=sys.stderr)
        return 1
    folders = _flagging_folders(directory)
    datasets: list[Path] = []
    for folder in folders:
        datasets += [path for _, path in dataset_files(folder)]
        if (folder / SIMPLE_LOG_NAME).is_file() and not (folder / SIMPLE_LOG_NAME).is_symlink():
            datasets.append(folder / SIMPLE_LOG_NAME)
    by_file: dict[str, list[FlaggedRow]] = {}
    for folder in folders:
        for row in load_flagged(folder, history=True):  # every row on disk, a chat's too
            by_file.setdefault(row.file, []).append(row)
    if len(datasets) == 1:
        count = len(by_file.get(str(datasets[0]), []))
        print(f"{_shown(directory)}: {count} rows in 1 dataset file(s)")
    else:  # no total: datasets with different columns are not added up
        print(f"{_shown(directory)}: {len(datasets)} dataset files, each counted on its own")
    for path in datasets:
        _show_dataset(path, path.relative_to(directory), by_file.get(str(path), []), last)
    stored = _stored_files(directory, set(folders))
    places = Counter(p.parent.relative_to(directory).as_posix() for p in stored)
    print(f"files stored: {len(stored)}, {sum(p.stat().st_size for p in stored):,} bytes")
    for place, count in sorted(places.items()):
        print(f"  {_shown(place)}/: {count}")
    return 0


def show_database(source: str, last: int = 5) -> int:
    """Print each flagging table of a database on its own, as :func:`show_directory`
    prints a dataset file: its rows, columns, counts per flag option and last rows
    (typed by the components recorded with the table). A DSN's password is never
    printed."""
    shown = shown_source(source)
    try:
        records = database_tables(source)
        rows = load_flagged(source)
    except (FlagValueError, OSError) as exc:
        print(f"asyncflag show: {exc}", file=sys.stderr)
        return 1
    by_table: dict[str, list[FlaggedRow]] = {}
    for row in rows:
        by_table.setdefault(row.file, []).append(row)
    print(f"{_shown(shown)}: {len(records)} table(s), each counted on its own")
    for record in records:
        name = f"{shown}#{record.table}"
        _show_dataset(Path(name), Path(record.table), by_table.get(name, []), last)
    return 0


def _show_dataset(path: Path, name: Path, rows: list[FlaggedRow], last: int) -> None:
    """One dataset file: its rows, columns, counts per option and its last rows, typed."""
    print(f"{_shown(name.as_posix())}: {len(rows)} row{'' if len(rows) == 1 else 's'}")
    if not rows:
        return
    labels = rows[0].labels
    print(f"  columns: {', '.join(_shown(label) for label in labels)}")
    options = Counter(row.flag or "(no option)" for row in rows)
    print("  flag options:")
    for option, count in options.most_common():
        print(f"    {_shown(option)}: {count}")
    if last <= 0:
        return
    typing = _column_types(path, labels, rows)
    print(f"  last {min(last, len(rows))} row{'' if min(last, len(rows)) == 1 else 's'}:")
    for row in rows[-last:]:
        values = ", ".join(
            f"{_shown(label)}={_shown(repr(_typed(value, kind)))}"
            for label, value, kind in zip(row.labels, row.values, typing, strict=False)
        )
        who = f" by {_shown(row.username)}" if row.username else ""
        print(f"    [{_shown(row.timestamp)}] {values} flag={_shown(repr(row.flag))}{who}")


#: the component types (schema names) whose cells are numbers, and booleans
_NUMBER_TYPES = frozenset({"Number", "Slider"})
_BOOLEAN_TYPES = frozenset({"Checkbox"})


def _column_types(path: Path, labels: tuple[str, ...], rows: list[FlaggedRow]) -> list[str]:
    """``"number"``, ``"bool"`` or ``"text"`` for each column of a dataset: by its schema
    file, else numbers where every non-empty cell of the column is a number."""
    try:
        schema = read_schema(path)
    except ValueError:
        schema = None
    if schema is not None and len(schema.columns) >= len(labels):
        return [
            "number"
            if column.type in _NUMBER_TYPES
            else "bool"
            if column.type in _BOOLEAN_TYPES
            else "text"
            for column in schema.columns[: len(labels)]
        ]
    kinds = []
    for index in range(len(labels)):
        cells = [row.values[index] for row in rows if index < len(row.values)]
        texts = [cell for cell in cells if isinstance(cell, str) and cell != ""]
        numeric = bool(texts) and all(_NUMBER.fullmatch(text) for text in texts)
        kinds.append("number" if numeric else "text")
    return kinds


_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _typed(value: object, kind: str) -> object:
    if not isinstance(value, str) or value == "" or kind == "text":
        return value
    if kind == "bool":
        return value.lower() == "true" if value.lower() in ("true", "false") else value
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def _flagging_folders(directory: Path) -> list[Path]:
    """``directory`` and each folder under it holding dataset files (hidden folders such
    as ``.asyncflag/`` and symlinks not followed), in order."""
    found = [directory]
    for parent, folders, _ in os.walk(directory):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for folder in folders:
            path = Path(parent) / folder
            if dataset_files(path) or (path / SIMPLE_LOG_NAME).is_file():
                found.append(path)
    return found


def _stored_files(directory: Path, folders: set[Path]) -> list[Path]:
    """The files saved under ``directory``: not the files directly in a flagging folder
    (its datasets), not hidden folders' (``.asyncflag/`` state), no symlink."""
    stored = []
    for parent, subfolders, names in os.walk(directory):
        subfolders[:] = [f for f in subfolders if not f.startswith(".")]
        if Path(parent) in folders:
            continue
        for name in names:
            path = Path(parent) / name
            if path.is_file() and not path.is_symlink():
                stored.append(path)
    return stored


def _shown(text: object) -> str:
    """``text`` safe for a terminal: each character that is not printable (C0 and C1
    controls such as ESC, DEL, line and paragraph separators, bidi and other format
    characters) written as its Python escape, ``\\x1b``, ``\\u202e``."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
