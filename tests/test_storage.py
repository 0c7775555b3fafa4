"""File saving: relative paths, content addressing, atomic saves, confinement."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from asyncflag import FileData, FlaggingError, Interface, components, load_flagged
from asyncflag.storage import folder_name

pytestmark = pytest.mark.anyio


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


async def test_saved_files_and_relative_cells(tmp_path: Path) -> None:
    flagging_dir = tmp_path / "flags"
    source = tmp_path / "upload.wav"
    source.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    iface = Interface(
        lambda img, doc: "ok",
        [components.Image(label="photo"), components.File(label="doc")],
        "text",
        flagging_dir=flagging_dir,
    )
    png = b"\x89PNG\r\n\x1a\n" + b"pixels"
    async with iface:
        assert await iface.flag([png, source, "ok"]) == 1
        assert await iface.flag([png, FileData(b"same bytes", "a.txt"), "ok"]) == 2
        assert await iface.flag([png, None, "ok"]) == 3
    rows = (flagging_dir / "dataset1.csv").read_text().splitlines()[1:]
    first_cells = [row.split(",")[:2] for row in rows]
    assert first_cells[0][0].startswith("photo/") and first_cells[0][0].endswith(".png")
    assert first_cells[0][1].startswith("doc/") and first_cells[0][1].endswith(".wav")
    assert first_cells[2][1] == ""
    # the same image three times is stored once
    assert len(list((flagging_dir / "photo").iterdir())) == 1
    flagged = load_flagged(flagging_dir, iface.components)
    photo, doc, _ = flagged[0].values
    assert Path(photo).is_absolute() and Path(photo).read_bytes() == png
    assert Path(doc).read_bytes() == source.read_bytes()
    assert Path(flagged[1].values[1]).read_bytes() == b"same bytes"
    assert flagged[2].values[1] is None
    assert not [p for p in flagging_dir.rglob(".*.tmp")]


@pytest.mark.parametrize(
    "label", ["../../etc", "/abs/path", "a/../../b", "con", "nul\x00byte", "new\nline", "..", ""]
)
async def test_hostile_labels_stay_inside(tmp_path: Path, label: str) -> None:
    flagging_dir = tmp_path / "inner" / "flags"
    flagging_dir.mkdir(parents=True)
    before = tree(tmp_path)
    iface = Interface(
        lambda f: "x", components.File(label=label), "text", flagging_dir=flagging_dir
    )
    async with iface:
        await iface.flag([b"payload", "x"])
    created = tree(tmp_path) - before
    assert created and all(name.startswith(os.path.join("inner", "flags")) for name in created)
    saved = load_flagged(flagging_dir, iface.components)[0].values[0]
    assert Path(saved).resolve().is_relative_to(flagging_dir.resolve())


async def test_a_planted_symlink_is_refused(tmp_path: Path) -> None:
    flagging_dir = tmp_path / "flags"
    outside = tmp_path / "outside"
    flagging_dir.mkdir()
    outside.mkdir()
    (flagging_dir / "upload").symlink_to(outside, target_is_directory=True)
    iface = Interface(
        lambda f: "x", components.File(label="upload"), "text", flagging_dir=flagging_dir
    )
    async with iface:
        with pytest.raises(FlaggingError, match="not a real directory"):
            await iface.flag([b"payload", "x"])
        assert await iface.flag([None, "still works"]) == 1
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("image", "image"),
        ("My Photo", "My Photo"),
        ("../../etc", "_.._etc"),
        ("a/b", "a_b"),
        ("..", "_"),
        ("", "_"),
        ("CON", "_CON"),
        ("com1.txt", "_com1.txt"),
        ("-rm", "_-rm"),
        ("x" * 300, "x" * 100),
    ],
)
def test_folder_name(label: str, expected: str) -> None:
    assert folder_name(label) == expected
    assert "/" not in folder_name(label) and folder_name(label) not in (".", "..")
