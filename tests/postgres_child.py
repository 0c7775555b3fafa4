"""A writer process of test_postgres_sink.test_four_processes_exact_counts:
``python postgres_child.py DSN DIR NAME ROWS OUT BACKEND`` flags ROWS rows into the table
``many`` and writes the counts flag() returned to OUT (JSON)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio

from asyncflag import Interface, PostgresLogger, components


def writer_interface(dsn: str, directory: Path, max_pending: int) -> Interface:
    return Interface(
        lambda who, seq: seq,
        [components.Textbox(label="who"), components.Number(label="seq", precision=0)],
        components.Number(label="echo", precision=0),
        flagging_dir=directory,
        flagging_callback=PostgresLogger(dsn, table="many"),
        max_pending=max_pending,
        max_batch=256,  # many batches, so that the four writers take turns often
    )


async def write(dsn: str, directory: str, name: str, rows: int, out: str) -> None:
    iface = writer_interface(dsn, Path(directory), rows + 1)
    async with iface:
        receipts = [iface.flag_nowait([name, seq, seq]) for seq in range(rows)]
        counts = [await receipt.wait() for receipt in receipts]
    Path(out).write_text(json.dumps(counts))


if __name__ == "__main__":
    dsn, directory, name, rows, out, backend = sys.argv[1:]
    anyio.run(write, dsn, directory, name, int(rows), out, backend=backend)
