"""A real full disk: a file-size limit (RLIMIT_FSIZE, no root needed) in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

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

    anyio.run(main, sys.argv[1])
    """
)


def test_file_size_limit(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
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
