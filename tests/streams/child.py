"""Child processes for the Redis tests: ``python child.py BACKEND producer|consumer ...``."""

from __future__ import annotations

import json
import sys

import anyio

from asyncflag import Interface, RedisConsumer, RedisStream, components


def producer_interface(url: str, stream: str) -> Interface:
    return Interface(
        lambda who, seq: seq,
        [components.Textbox(label="who"), components.Number(label="seq")],
        components.Number(label="echo"),
        transport=RedisStream(url, stream=stream),
        max_pending=100_000,
    )


async def producer(url: str, stream: str, name: str, rows: int, out: str) -> None:
    """Flag ``rows`` rows in order, 64 in flight at a time; write the counts flag() returned."""
    iface = producer_interface(url, stream)
    counts: list[int] = []
    async with iface:
        for start in range(0, rows, 64):
            receipts = [
                iface.flag_nowait([name, seq, seq]) for seq in range(start, min(start + 64, rows))
            ]
            counts += [await receipt.wait() for receipt in receipts]
    with open(out, "w") as file:
        json.dump(counts, file)


async def consumer(url: str, stream: str, directory: str) -> None:
    """Consume until killed or SIGTERM; print a line once it holds the directory."""
    import signal

    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        async with RedisConsumer(url, stream=stream, flagging_dir=directory, batch_size=64):
            print("started", flush=True)
            async for _ in signals:
                break


if __name__ == "__main__":
    backend, role, *args = sys.argv[1:]
    if role == "producer":
        anyio.run(producer, args[0], args[1], args[2], int(args[3]), args[4], backend=backend)
    else:
        anyio.run(consumer, args[0], args[1], args[2], backend=backend)
