"""A real full disk: a file-size limit (RLIMIT_FSIZE, no root needed) in a child process,
and a small tmpfs where the tests run as root."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from asyncflag import CSVLogger, FlagWriteError, Interface, components, load_flagged
from asyncflag.sinks.records import scan_records

CHILD = textwrap.dedent(
    """
    import json, resource, signal, sys
    import anyio
    from asyncflag import FlagWriteError, Interface

    async def main(directory):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        iface = Interface(lambda t: t, "text", "text", flagging_dir=directory)
        report = {"ok": [], "failed": [], "errno": None, "served": 0}
        async with iface:
            await iface.flag(["warm", "up"])  # opens the file before the limit
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
            for i in range(200):
                try:
                    report["ok"].append(await iface.flag([f"row {i:04d} " + "x" * 40, "y"]))
                except FlagWriteError as error:
                    report["failed"].append(i)
                    report["errno"] = error.os_error.errno if error.os_error else None
                report["served"] += len((await iface.submit("still")).outputs)
            resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space is back
            report["after"] = await iface.flag(["after", "freed"])
        print(json.dumps(report))

    anyio.run(main, sys.argv[1], backend=sys.argv[2])
    """
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_file_size_limit(tmp_path: Path, backend: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), backend],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report = json.loads(result.stdout)
    assert report["failed"], "the limit was never reached"
    assert report["errno"] == 27  # EFBIG
    assert report["served"] == 200  # predictions kept coming
    assert report["ok"] == list(range(2, 2 + len(report["ok"])))
    assert report["after"] == len(report["ok"]) + 2
    data = (tmp_path / "dataset1.csv").read_bytes()
    assert data.endswith(b"\r\n")
    lines = data.decode().splitlines()
    assert len(lines) == 1 + 1 + len(report["ok"]) + 1  # header, warm-up, rows, after
    assert all(line.count(",") == 4 for line in lines)


@contextmanager
def small_tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``mountpoint``; skips where mounting is not allowed."""
    mountpoint.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=True)


@pytest.mark.anyio
async def test_a_full_tmpfs(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "mnt", "256k") as disk:
        ballast = disk / "ballast"
        ballast.write_bytes(b"\0" * 64 * 1024)
        flagging_dir = disk / "flags"
        iface = Interface(
            lambda doc, text: text,
            [components.File(label="doc"), "text"],
            "text",
            flagging_dir=flagging_dir,
            flagging_callback=CSVLogger(durability="fsync"),
        )
        ok: list[int] = []
        failed: list[int] = []
        errnos: set[int | None] = set()
        served = 0
        async with iface:
            i = 0
            while len(failed) < 20:
                assert i < 2_000, "the disk never filled up"
                doc = f"file {i} ".encode() * 100 if i % 3 == 0 else None
                try:
                    ok.append(await iface.flag([doc, f"row {i:05d} " + "x" * 500, "y"]))
                except FlagWriteError as error:
                    failed.append(i)
                    errnos.add(error.os_error.errno if error.os_error else None)
                served += len((await iface.submit(None, "still serving")).outputs)
                i += 1
            assert iface.stats.failed == len(failed)
            ballast.unlink()  # space is back
            after = await iface.flag([b"after", "freed", "y"])
        assert errnos == {errno.ENOSPC}
        assert served == i  # predictions kept coming throughout
        assert ok == list(range(1, len(ok) + 1)) and after == len(ok) + 1
        data = (flagging_dir / "dataset1.csv").read_bytes()
        assert scan_records(data)[1] == len(data), "a partial row was left in the file"
        rows = load_flagged(flagging_dir, iface.components)
        assert len(rows) == after and rows[-1].values[1] == "freed"
        for row in rows:  # every file a row points at is whole
            if row.values[0] is not None:
                content = Path(row.values[0]).read_bytes()
                assert content == b"after" or content.startswith(b"file ")
        print(f"tmpfs full: {len(ok)} rows written, {len(failed)} failed with ENOSPC, "
              f"{served} predictions served, a row landed after space was freed")  # fmt: skip
