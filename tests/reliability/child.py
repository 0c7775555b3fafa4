"""Child processes for the reliability tests: ``python child.py BACKEND flagger|crasher DIR ...``.

BACKEND is ``asyncio`` or ``trio``: the guarantees are checked on both."""

from __future__ import annotations

import json
import sys

import anyio

from asyncflag import CSVLogger, Interface, components


def interface(directory: str, durability: str) -> Interface:
    return Interface(
        lambda doc, seq, who: seq,
        [components.File(label="doc"), components.Number(label="seq"), "text"],
        components.Number(label="echo"),
        flagging_dir=directory,
        flagging_callback=CSVLogger(durability=durability),  # type: ignore[arg-type]
    )


async def flagger(directory: str, name: str, rows: int, out: str) -> None:
    """Flag ``rows`` rows with 16 concurrent callers; write the counts flag() returned."""
    counts: list[int] = []
    iface = interface(directory, "flush")

    async def worker(start: int) -> None:
        for seq in range(start, rows, 16):
            count = await iface.flag([None, seq, name, seq])
            counts.append(count)

    async with iface, anyio.create_task_group() as tg:
        for start in range(16):
            tg.start_soon(worker, start)
    with open(out, "w") as file:
        json.dump(counts, file)


async def crasher(directory: str, first: int) -> None:
    """Flag rows forever in fsync mode, printing each sequence number once it is acknowledged."""
    iface = interface(directory, "fsync")

    async def worker(start: int) -> None:
        seq = first + start
        while True:
            doc = f"file for row {seq}".encode() * 50 if seq % 5 == 0 else None
            await iface.flag([doc, seq, "crasher", seq])
            print(seq, flush=True)
            seq += 8

    async with iface, anyio.create_task_group() as tg:
        for start in range(8):
            tg.start_soon(worker, start)


if __name__ == "__main__":
    backend, role, *args = sys.argv[1:]
    if role == "flagger":
        anyio.run(flagger, args[0], args[1], int(args[2]), args[3], backend=backend)
    else:
        anyio.run(crasher, args[0], int(args[1]), backend=backend)
