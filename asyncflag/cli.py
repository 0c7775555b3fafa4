"""The ``asyncflag`` command: ``demo``, ``serve module:attr``, ``consume URL``, ``show DIR``
and ``export DIR --to parquet|jsonl|hf OUT``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections import Counter
from pathlib import Path

from .chat_interface import ChatInterface
from .checks import require_extra
from .errors import FlagValueError, MissingExtraError
from .interface import Interface, check_flagging_dir
from .read import load_flagged
from .sinks.datasets import SIMPLE_LOG_NAME, dataset_files

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
    consume.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")

    show = commands.add_parser("show", help="summarise a flagging directory")
    show.add_argument("dir", type=Path)
    show.add_argument("--last", type=int, default=5, help="how many of the last rows to print")

    export = commands.add_parser(
        "export",
        help="export a flagging directory, typed: parquet, jsonl or a Hugging Face folder",
    )
    export.add_argument("dir", type=Path, help="the flagging directory")
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
        "--dataset", action="append", help="only this file: dataset2.csv, dataset2 (repeatable)"
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
        uvicorn.run(app, host=args.host, port=args.port)
        return 0
    if args.command == "serve":
        target = _load_interface(args.target, parser)
        if isinstance(target, Interface) and target.flagging_mode != "never":
            check_flagging_dir(target.flagging_dir)
        target.launch(host=args.host, port=args.port)
        return 0
    if args.command == "consume":
        return run_consumer(args)
    if args.command == "export":
        return run_export(args, parser)
    return show_directory(args.dir, args.last)


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
        )
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with consumer:
                print(
                    f"asyncflag consume: {args.stream} -> {args.dir}/ as {consumer.name}",
                    flush=True,
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
    """Print rows per dataset file, counts per flag option, the last rows and the files stored.

    Everything that comes from the data (labels, values, options, usernames, file and
    folder names) is printed with its control characters escaped (``\\x1b``), so a
    flagged row cannot move the terminal's cursor, clear it or change its title.
    """
    if not directory.is_dir():
        print(f"{_shown(directory)} is not a directory", file=sys.stderr)
        return 1
    rows = load_flagged(directory, history=True)  # every row on disk, a chat's too
    per_file = Counter(Path(row.file).name for row in rows)
    files = [path for _, path in dataset_files(directory)]
    if (directory / SIMPLE_LOG_NAME).is_file():
        files.append(directory / SIMPLE_LOG_NAME)
    print(f"{_shown(directory)}: {len(rows)} rows in {len(files)} dataset file(s)")
    for path in files:
        print(f"  {_shown(path.name)}: {per_file.get(path.name, 0)} rows")
    options = Counter(row.flag or "(no option)" for row in rows)
    print("flag options:")
    for option, count in options.most_common():
        print(f"  {_shown(option)}: {count}")
    stored = [
        p
        for p in directory.rglob("*")
        if p.is_file()
        and p.parent != directory
        and not p.relative_to(directory).parts[0].startswith(".")  # .asyncflag/ state
    ]
    folders = Counter(p.parent.relative_to(directory).as_posix() for p in stored)
    print(f"files stored: {len(stored)}, {sum(p.stat().st_size for p in stored):,} bytes")
    for folder, count in sorted(folders.items()):
        print(f"  {_shown(folder)}/: {count}")
    if rows and last > 0:
        print(f"last {min(last, len(rows))} rows:")
        for row in rows[-last:]:
            values = ", ".join(
                f"{_shown(k)}={_shown(repr(v))}"
                for k, v in zip(row.labels, row.values, strict=False)
            )
            who = f" by {_shown(row.username)}" if row.username else ""
            print(f"  [{_shown(row.timestamp)}] {values} flag={_shown(repr(row.flag))}{who}")
    return 0


def _shown(text: object) -> str:
    """``text`` safe for a terminal: each character that is not printable (C0 and C1
    controls such as ESC, DEL, line and paragraph separators, bidi and other format
    characters) written as its Python escape, ``\\x1b``, ``\\u202e``."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
