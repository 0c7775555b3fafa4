"""File saving: relative cells, identical bytes, content addressing, confinement, atomicity."""

from __future__ import annotations

import csv
import errno
import io
import os
import re
import threading
import time
import wave
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from asyncflag import (
    CSVLogger,
    Disk,
    FileData,
    FlaggingError,
    FlagValueError,
    FlagWriteError,
    Interface,
    SimpleCSVLogger,
    components,
    load_flagged,
)
from asyncflag.events import FlagRow
from asyncflag.sinks.storage import FileSaver, FileStore, folder_name, next_lanes

pytestmark = pytest.mark.anyio


def png_bytes(size: tuple[int, int] = (3, 2)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, (200, 100, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = png_bytes()
CELL = re.compile(r"^(?P<folder>[^/]+)/(?P<name>[0-9a-f]{40})(?P<suffix>\.[a-z0-9]+)$")


def data_rows(flagging_dir: Path, name: str = "dataset1.csv") -> list[list[str]]:
    with (flagging_dir / name).open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))[1:]


def snapshot(root: Path, skip: Path) -> dict[str, tuple[str, bytes | None, int]]:
    """Every entry under ``root`` except ``skip`` and what is inside it, with its content."""
    found: dict[str, tuple[str, bytes | None, int]] = {}
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        dirs[:] = [d for d in dirs if here / d != skip]
        for name in [*dirs, *files]:
            path = here / name
            info = path.lstat()
            if path.is_symlink():
                found[str(path)] = ("link", os.readlink(path).encode(), info.st_mtime_ns)
            elif path.is_dir():
                found[str(path)] = ("dir", None, info.st_mtime_ns)
            else:
                found[str(path)] = ("file", path.read_bytes(), info.st_mtime_ns)
    return found


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]


def file_interface(
    flagging_dir: Path, *inputs: components.Component, **kwargs: object
) -> Interface:
    return Interface(
        lambda *values: "ok",
        list(inputs),
        components.Textbox(label="out"),
        flagging_dir=flagging_dir,
        **kwargs,  # type: ignore[arg-type]
    )


# -- saving ---------------------------------------------------------------------------


async def test_saved_files_relative_cells_and_identical_bytes(tmp_path: Path) -> None:
    flagging_dir = tmp_path / "flags"
    source = tmp_path / "upload.wav"
    source.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256)) * 10)
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 report")
    iface = file_interface(
        flagging_dir, components.Image(label="photo"), components.File(label="doc")
    )
    async with iface:
        assert await iface.flag([PNG, source, "ok"]) == 1
        assert await iface.flag([PNG, FileData(b"same bytes", "a.txt"), "ok"]) == 2
        assert await iface.flag([PNG, {"path": str(report)}, "ok"]) == 3
        assert await iface.flag([None, None, "ok"]) == 4

    rows = data_rows(flagging_dir)
    photo_cells = [row[0] for row in rows]
    doc_cells = [row[1] for row in rows]
    for cell, folder, suffix in [
        (photo_cells[0], "photo", ".png"),
        (doc_cells[0], "doc", ".wav"),
        (doc_cells[1], "doc", ".txt"),
        (doc_cells[2], "doc", ".pdf"),
    ]:
        match = CELL.match(cell)
        assert match, cell
        assert (match["folder"], match["suffix"]) == (folder, suffix)
        assert (flagging_dir / cell).is_file()  # relative to flagging_dir
    assert photo_cells[3] == doc_cells[3] == ""

    # the saved bytes are the payload's bytes
    assert (flagging_dir / photo_cells[0]).read_bytes() == PNG
    assert (flagging_dir / doc_cells[0]).read_bytes() == source.read_bytes()
    assert (flagging_dir / doc_cells[1]).read_bytes() == b"same bytes"
    assert (flagging_dir / doc_cells[2]).read_bytes() == report.read_bytes()

    # the same image three times is stored once
    assert len(set(photo_cells[:3])) == 1
    assert [p.name for p in (flagging_dir / "photo").iterdir()] == [Path(photo_cells[0]).name]
    assert len(list((flagging_dir / "doc").iterdir())) == 3

    flagged = load_flagged(flagging_dir, iface.components)
    assert [row.values[2] for row in flagged] == ["ok"] * 4
    for row, cells in zip(flagged, rows, strict=True):
        for value, cell in zip(row.values[:2], cells[:2], strict=True):
            if not cell:
                assert value is None
                continue
            path = Path(value)
            assert path.is_absolute() and path.is_file()
            assert path == (flagging_dir / cell).absolute()
    assert Path(flagged[0].values[1]).read_bytes() == source.read_bytes()
    assert temp_files(flagging_dir) == []


async def test_identical_payloads_are_stored_once(tmp_path: Path) -> None:
    source = tmp_path / "copy.bin"
    source.write_bytes(b"shared content")
    iface = file_interface(tmp_path / "flags", components.File(label="f"))
    async with iface:
        for value in (
            b"shared content",
            bytearray(b"shared content"),
            FileData(b"shared content", "x.bin"),
            source,
            str(source),
            {"path": str(source)},
            b"shared content",
        ):
            await iface.flag([value, "ok"])
        await iface.flag([b"other content", "ok"])
    cells = [row[0] for row in data_rows(tmp_path / "flags")]
    assert len(set(cells[:7])) == 1  # same bytes, same suffix: the same file
    assert cells[7] != cells[0]
    saved = sorted((tmp_path / "flags" / "f").iterdir())
    assert len(saved) == 2
    assert {p.read_bytes() for p in saved} == {b"shared content", b"other content"}


async def test_a_saved_path_is_a_copy(tmp_path: Path) -> None:
    source = tmp_path / "draft.txt"
    source.write_bytes(b"version 1")
    iface = file_interface(tmp_path / "flags", components.File(label="f"))
    async with iface:
        await iface.flag([source, "ok"])
    source.write_bytes(b"version 2, longer")
    (saved,) = load_flagged(tmp_path / "flags", iface.components)
    assert Path(saved.values[0]).read_bytes() == b"version 1"
    assert source.read_bytes() == b"version 2, longer"  # the source is left where it was
    assert not Path(saved.values[0]).samefile(source)


async def test_in_memory_images_and_audio_are_saved(tmp_path: Path) -> None:
    flagging_dir = tmp_path / "flags"
    iface = file_interface(
        flagging_dir, components.Image(label="picture"), components.Audio(label="voice")
    )
    picture = PILImage.new("RGB", (5, 2), (1, 2, 3))
    array = np.arange(30, dtype=np.uint8).reshape(2, 5, 3)
    samples = np.array([0, 100, -100, 32767], dtype=np.int16)
    async with iface:
        await iface.flag([picture, (16000, samples), "ok"])
        await iface.flag([array, (16000, samples), "ok"])
        await iface.flag([PILImage.new("RGB", (5, 2), (1, 2, 3)), None, "ok"])
    flagged = load_flagged(flagging_dir, iface.components)
    paths = [Path(row.values[0]) for row in flagged]
    assert all(p.suffix == ".png" and p.parent.name == "picture" for p in paths)
    with PILImage.open(paths[0]) as image:
        assert np.asarray(image).tolist() == np.asarray(picture).tolist()
    with PILImage.open(paths[1]) as image:
        assert np.array_equal(np.asarray(image), array)
    assert paths[2] == paths[0]  # an identical picture is stored once
    assert len(list((flagging_dir / "picture").iterdir())) == 2

    sound = Path(flagged[0].values[1])
    assert sound.suffix == ".wav" and sound.parent.name == "voice"
    with wave.open(io.BytesIO(sound.read_bytes()), "rb") as wav:
        assert wav.getframerate() == 16000
        assert wav.readframes(wav.getnframes()) == samples.astype("<i2").tobytes()
    assert flagged[1].values[1] == flagged[0].values[1]
    assert flagged[2].values[1] is None


async def test_folders_are_named_by_the_sanitized_label(tmp_path: Path) -> None:
    flagging_dir = tmp_path / "flags"

    def fn(scan: bytes, other: bytes) -> str:
        return "ok"

    iface = Interface(
        fn,
        [components.Image(label="My Photo/2"), "file"],  # the second is labelled "other"
        components.File(),  # the only output: labelled "output"
        flagging_dir=flagging_dir,
    )
    async with iface:
        await iface.flag([PNG, b"a", b"b"])
    (cells,) = data_rows(flagging_dir)
    assert [cell.split("/")[0] for cell in cells[:3]] == ["My Photo_2", "other", "output"]
    assert folder_name("My Photo/2") == "My Photo_2"
    assert sorted(p.name for p in flagging_dir.iterdir()) == [
        ".asyncflag",  # the dataset's schema file
        "My Photo_2",
        "dataset1.csv",
        "other",
        "output",
    ]


@pytest.mark.parametrize("logger", [CSVLogger, SimpleCSVLogger])
async def test_fsync_durability_saves_the_same_bytes(
    tmp_path: Path, logger: type[CSVLogger]
) -> None:
    iface = file_interface(
        tmp_path, components.File(label="f"), flagging_callback=logger(durability="fsync")
    )
    async with iface:
        assert await iface.flag([b"data", "ok"]) == 1
        assert await iface.flag([b"data", "ok"]) == 2
    (saved,) = list((tmp_path / "f").iterdir())
    assert saved.read_bytes() == b"data"
    assert temp_files(tmp_path) == []


# -- failures leave nothing half-written ----------------------------------------------


class FailingSaves(Disk):
    """Fails every file save after its first chunk, as a full disk would; CSV writes work."""

    def __init__(self) -> None:
        self.failures = 0

    def write_file(self, path: Path, chunks: Iterable[bytes], *, fsync: bool) -> None:
        if path.parent.name == ".asyncflag":  # the dataset's schema file: not a file save
            return super().write_file(path, chunks, fsync=fsync)

        def first_then_fail() -> Iterable[bytes]:
            for chunk in chunks:
                yield chunk[: len(chunk) // 2]
                self.failures += 1
                raise OSError(errno.ENOSPC, "No space left on device")

        super().write_file(path, first_then_fail(), fsync=fsync)


class FailingRenames(Disk):
    def replace(self, source: Path, target: Path) -> None:
        if target.parent.name == ".asyncflag":  # the dataset's schema file: not a file save
            return super().replace(source, target)
        raise OSError(errno.EIO, "I/O error")


@pytest.mark.parametrize("disk", [FailingSaves, FailingRenames])
async def test_a_failed_save_writes_no_row_and_leaves_no_file(
    tmp_path: Path, disk: type[Disk]
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * 100_000)
    flagging_dir = tmp_path / "flags"
    iface = file_interface(
        flagging_dir, components.File(label="f"), flagging_callback=CSVLogger(disk=disk())
    )
    async with iface:
        for payload in (b"in memory payload", source):
            with pytest.raises(FlagWriteError) as info:
                await iface.flag([payload, "lost"])
            assert info.value.os_error is not None
            assert info.value.os_error.errno in (errno.ENOSPC, errno.EIO)
        assert await iface.flag([None, "kept"]) == 1
        assert iface.stats.failed == 2
    assert temp_files(flagging_dir) == []
    assert list((flagging_dir / "f").iterdir()) == []  # no partial file under a final name
    assert [row.values for row in load_flagged(flagging_dir, iface.components)] == [(None, "kept")]


# -- confinement ----------------------------------------------------------------------

HOSTILE_LABELS = [
    "../../etc",
    "../..",
    "a/../../b",
    "a\\..\\..\\b",
    " ../x ",
    "con",
    "CON.txt",
    "nul\x00byte",
    "new\nline",
    "..",
    ".",
    "...",
    "",
    "~",
    "-rm -rf",
    "\u202eevil",
    "x" * 300,
]


@pytest.mark.parametrize("label", [*HOSTILE_LABELS, "ABSOLUTE"])
async def test_hostile_labels_stay_inside(tmp_path: Path, label: str) -> None:
    flagging_dir = tmp_path / "a" / "b" / "flags"
    flagging_dir.mkdir(parents=True)
    for decoy in ("etc", "a/etc", "a/b/etc", "b", "x", "victim"):
        (tmp_path / decoy).mkdir(parents=True, exist_ok=True)
        (tmp_path / decoy / "keep.txt").write_text(decoy)
    if label == "ABSOLUTE":
        label = str(tmp_path / "victim")
    before = snapshot(tmp_path, skip=flagging_dir)

    iface = file_interface(flagging_dir, components.File(label=label))
    async with iface:
        assert await iface.flag([b"payload", "ok"]) == 1
        assert await iface.flag([FileData(b"more", "../../../escape.txt"), "ok"]) == 2

    assert snapshot(tmp_path, skip=flagging_dir) == before
    folders = [p for p in flagging_dir.iterdir() if p.is_dir() and p.name != ".asyncflag"]
    assert len(folders) == 1 and folders[0].parent == flagging_dir
    assert folders[0].name == folder_name(label or "component 0")
    saved = [Path(row.values[0]) for row in load_flagged(flagging_dir, iface.components)]
    assert [p.read_bytes() for p in saved] == [b"payload", b"more"]
    for path in saved:
        assert path.resolve().is_relative_to(flagging_dir.resolve())
        assert path.resolve().parent == folders[0].resolve()
    assert saved[1].suffix == ".txt"


async def test_a_planted_symlink_folder_is_refused(tmp_path: Path) -> None:
    flagging_dir = tmp_path / "flags"
    outside = tmp_path / "outside"
    flagging_dir.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    label = "../upload"
    (flagging_dir / folder_name(label)).symlink_to(outside, target_is_directory=True)
    source = tmp_path / "source.bin"
    source.write_bytes(b"from a path")
    before = snapshot(tmp_path, skip=flagging_dir)

    iface = file_interface(flagging_dir, components.File(label=label))
    async with iface:
        for payload in (b"payload", source, FileData(b"data", "f.txt")):
            with pytest.raises(FlaggingError, match="not a real directory") as info:
                await iface.flag([payload, "x"])
            assert isinstance(info.value, FlagValueError)
        assert await iface.flag([None, "still works"]) == 1
        stats = iface.stats
    assert (stats.written, stats.failed, stats.pending) == (1, 3, 0)
    assert snapshot(tmp_path, skip=flagging_dir) == before
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert (flagging_dir / folder_name(label)).is_symlink()  # left as it was
    assert [row.values for row in load_flagged(flagging_dir, iface.components)] == [
        (None, "still works")
    ]


@pytest.mark.parametrize("kind", ["dangling", "file"])
async def test_other_planted_symlinks_are_refused(tmp_path: Path, kind: str) -> None:
    flagging_dir = tmp_path / "flags"
    flagging_dir.mkdir()
    target = tmp_path / "target"
    if kind == "file":
        target.write_bytes(b"original")
    (flagging_dir / "f").symlink_to(target)
    iface = file_interface(flagging_dir, components.File(label="f"))
    async with iface:
        with pytest.raises(FlagValueError, match="not a real directory"):
            await iface.flag([b"payload", "x"])
    if kind == "dangling":
        assert not target.exists() and not target.is_symlink()  # mkdir did not follow it
    else:
        assert target.read_bytes() == b"original"
    expected = {"flags", "target"} if kind == "file" else {"flags"}
    assert {p.name for p in tmp_path.iterdir()} == expected
    assert [p.name for p in flagging_dir.iterdir()] == ["f"]  # no row, no dataset file


async def test_a_regular_file_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    flagging_dir = tmp_path / "flags"
    flagging_dir.mkdir()
    (flagging_dir / "f").write_bytes(b"not a folder")
    iface = file_interface(flagging_dir, components.File(label="f"))
    async with iface:
        with pytest.raises(FlagValueError, match="not a real directory"):
            await iface.flag([b"payload", "x"])
    assert (flagging_dir / "f").read_bytes() == b"not a folder"


@pytest.mark.parametrize(
    ("label", "logger", "dataset"),
    [("dataset1.csv", CSVLogger, "dataset1.csv"), ("log.csv", SimpleCSVLogger, "log.csv")],
)
async def test_a_label_named_like_the_dataset_file(
    tmp_path: Path, label: str, logger: type[CSVLogger], dataset: str
) -> None:
    iface = file_interface(tmp_path, components.File(label=label), flagging_callback=logger())
    counts: list[int | str] = []
    async with iface:
        for payload in (b"payload", None):
            try:
                counts.append(await iface.flag([payload, "x"]))
            except FlaggingError as exc:
                counts.append(type(exc).__name__)
    assert counts == [1, 2]
    assert (tmp_path / dataset).is_file()


# -- folder_name ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("image", "image"),
        ("My Photo", "My Photo"),
        ("snake_case-and.dots", "snake_case-and.dots"),
        ("日本語", "日本語"),
        ("../../etc", "_.._etc"),
        ("a/b", "a_b"),
        ("a\\b", "a_b"),
        ("/abs", "_abs"),
        ("..", "_"),
        (".", "_"),
        ("", "_"),
        ("  padded  ", "padded"),
        ("trailing dot.", "trailing dot"),
        ("nul\x00byte", "nul_byte"),
        ("new\nline", "new_line"),
        ("a:b*c?d", "a_b_c_d"),
        ("CON", "_CON"),
        ("con", "_con"),
        ("nul.txt", "_nul.txt"),
        ("com1.txt", "_com1.txt"),
        ("LPT9", "_LPT9"),
        ("console", "console"),
        ("-rm", "_-rm"),
        ("=cmd", "_cmd"),
        ("@x", "_x"),
        ("x" * 300, "x" * 100),
    ],
)
def test_folder_name(label: str, expected: str) -> None:
    assert folder_name(label) == expected


@settings(max_examples=300)
@given(st.text(max_size=150))
def test_folder_name_is_one_safe_path_component(label: str) -> None:
    name = folder_name(label)
    assert name and name not in (".", "..")
    assert not set(name) & set("/\\\x00\n\r:")
    assert name == name.strip() and not name.endswith(".")
    assert name[0] not in "-+=@. "
    assert len(name) <= 101
    root = Path("/flags")
    assert (root / name).parent == root and (root / name).name == name
    assert name.split(".")[0].lower() not in {"con", "prn", "aux", "nul", "com1", "lpt1"}


async def test_a_long_non_ascii_label_can_be_saved(tmp_path: Path) -> None:
    label = "界" * 100
    iface = file_interface(tmp_path, components.File(label=label))
    async with iface:
        try:
            outcome: int | str = await iface.flag([b"payload", "x"])
        except FlagWriteError as exc:
            outcome = repr(exc.os_error)
    assert outcome == 1
    assert len(folder_name(label).encode()) <= 255


@pytest.mark.parametrize("label", ["data.csv", "DATASET2.CSV", "log.csv.torn"])
def test_a_folder_never_ends_like_a_dataset_file(label: str) -> None:
    name = folder_name(label)
    assert not name.lower().endswith((".csv", ".torn"))
    assert name == label + "_"


async def test_a_dataset_file_replaced_by_a_symlink_is_not_followed(tmp_path: Path) -> None:
    flagging_dir, outside = tmp_path / "flags", tmp_path / "outside.csv"
    flagging_dir.mkdir()
    outside.write_bytes(b"")
    (flagging_dir / "dataset1.csv").symlink_to(outside)
    iface = Interface(lambda t: t, "text", "text", flagging_dir=flagging_dir)
    async with iface:
        assert await iface.flag(["a", "b"]) == 1  # in the next dataset file instead
    assert outside.read_bytes() == b""
    assert (flagging_dir / "dataset1.csv").is_symlink()  # left as it was
    assert data_rows(flagging_dir, "dataset2.csv")[0][:2] == ["a", "b"]
    # reading back never follows it either
    outside.write_text("t,output,flag,username,timestamp\r\nsecret,x,,,\r\n")
    assert [row.values for row in load_flagged(flagging_dir)] == [("a", "b")]


async def test_image_arrays_are_copied_when_flagged(tmp_path: Path) -> None:
    array = np.zeros((2, 3), dtype=np.uint8)
    iface = file_interface(tmp_path, components.Image(label="img"))
    async with iface:
        receipt = iface.flag_nowait([array, "x"])
        array[:] = 255  # after the call: must not change what is saved
        await receipt.wait()
    [row] = load_flagged(tmp_path, iface.components)
    with PILImage.open(row.values[0]) as image:
        saved = np.asarray(image)
    assert saved.shape == (2, 3) and not saved.any()


async def test_image_and_audio_files_are_named_by_their_content(tmp_path: Path) -> None:
    html = b"<html><script>alert(document.cookie)</script></html>"
    wav = b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(64)
    iface = file_interface(
        tmp_path, components.Image(label="photo"), components.Audio(label="voice")
    )
    async with iface:
        # the client's names say HTML; the content says PNG and WAV
        assert await iface.flag([FileData(PNG, "x.html"), FileData(wav, "y.html"), "ok"]) == 1
        # an "image" holding HTML is refused at the call, whatever its name
        for name in ("cat.png", "x.html", "x.svg"):
            with pytest.raises(FlagValueError, match="Image 'photo': the content is not"):
                iface.flag_nowait([FileData(html, name), None, "ok"])
        # audio holding HTML is kept, under a name no browser runs
        assert await iface.flag([None, FileData(html, "z.html"), "ok"]) == 2
    rows = data_rows(tmp_path)
    assert CELL.match(rows[0][0])["suffix"] == ".png"  # type: ignore[index]
    assert CELL.match(rows[0][1])["suffix"] == ".wav"  # type: ignore[index]
    assert CELL.match(rows[1][1])["suffix"] == ".bin"  # type: ignore[index]
    saved = [p.suffix for p in tmp_path.rglob("*") if p.is_file()]
    assert not {".html", ".svg", ".js"} & set(saved)
    assert len(data_rows(tmp_path)) == 2


async def test_a_planted_state_folder_symlink_is_refused(tmp_path: Path) -> None:
    flagging_dir, outside = tmp_path / "flags", tmp_path / "outside"
    flagging_dir.mkdir()
    outside.mkdir()
    (flagging_dir / ".asyncflag").symlink_to(outside, target_is_directory=True)
    iface = Interface(lambda t: t, "text", "text", flagging_dir=flagging_dir)
    async with iface:
        with pytest.raises(FlagValueError, match="not a real directory"):
            await iface.flag(["a", "b"])
    assert list(outside.iterdir()) == []  # the schema file was not written through it


@pytest.mark.parametrize(
    ("cpu", "wall", "lanes", "cores", "cap", "expected"),
    [
        (0.0, 1.0, 4, 8, 4, 4),  # a cap below the cores is the cap
        (1.6, 1.0, 2, 2, 8, 2),  # two busy cores: no more lanes than cores
        (1.9, 1.0, 8, 2, 8, 2),  # eight lanes keeping two cores busy: back to the cores
        (0.1, 1.0, 2, 2, 8, 8),  # the lanes mostly waited (storage): up to the cap
        (0.9, 1.0, 8, 2, 8, 8),  # still waiting at the cap: stay there
        (0.0, 0.0, 2, 2, 8, 2),  # nothing measured: the cores
    ],
)
def test_next_lanes_follows_what_the_last_saves_kept_busy(
    cpu: float, wall: float, lanes: int, cores: int, cap: int, expected: int
) -> None:
    assert next_lanes(cpu, wall, lanes, cores, cap) == expected


class _WatchedDisk(Disk):
    """A disk whose file writes wait (``wait``) or keep a core busy (``work``), counting
    how many run at once."""

    def __init__(self, *, wait: float = 0.0, work: float = 0.0) -> None:
        self.wait, self.work = wait, work
        self.running = self.most = 0
        self._lock = threading.Lock()

    def write_file(self, path: Path, chunks: Iterable[bytes], *, fsync: bool) -> None:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.wait)
            deadline = time.thread_time() + self.work
            while time.thread_time() < deadline:
                pass
            super().write_file(path, chunks, fsync=fsync)
        finally:
            with self._lock:
                self.running -= 1


def _file_rows(start: int, count: int) -> list[FlagRow]:
    stamp = datetime.now(UTC)
    return [
        FlagRow((f"payload {i}".encode(),), None, None, stamp) for i in range(start, start + count)
    ]


async def test_saves_that_wait_on_storage_get_more_lanes_than_cores(tmp_path: Path) -> None:
    disk = _WatchedDisk(wait=0.02)
    saver = FileSaver(
        FileStore(tmp_path, disk=disk), [components.File(label="doc")], ["doc"], 6, cores=2
    )
    assert saver.lanes == 2  # the cores, to start with
    saved, failed = await saver.save_batch(_file_rows(0, 12))
    assert (len(saved), failed, disk.most) == (12, {}, 2)
    assert saver.lanes == 6  # the lanes mostly slept: more of them overlap the waits
    disk.most = 0
    saved, failed = await saver.save_batch(_file_rows(12, 12))
    assert (len(saved), failed, disk.most) == (12, {}, 6)
    assert len(list((tmp_path / "doc").iterdir())) == 24


async def test_saves_that_keep_the_cpu_busy_stay_at_the_core_count(tmp_path: Path) -> None:
    disk = _WatchedDisk(work=0.01)
    saver = FileSaver(
        FileStore(tmp_path, disk=disk), [components.File(label="doc")], ["doc"], 4, cores=1
    )
    for start in (0, 4):
        saved, failed = await saver.save_batch(_file_rows(start, 4))
        assert (len(saved), failed, disk.most, saver.lanes) == (4, {}, 1, 1)
