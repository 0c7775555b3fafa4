from __future__ import annotations

from pathlib import Path

import pytest

from asyncflag import Interface, load_flagged

pytestmark = pytest.mark.anyio


async def test_manual_flag_round_trip(tmp_path: Path) -> None:
    def add(a: float, b: float) -> float:
        return a + b

    iface = Interface(add, ["number", "number"], "number", flagging_dir=tmp_path)
    async with iface:
        prediction = await iface.submit(1, -2)
        assert await iface.flag(prediction) == 1
    rows = load_flagged(tmp_path, iface.components)
    assert [row.values for row in rows] == [(1, -2, -1)]
