"""The review page (``app(review=True)``: ``/flagged``), on asyncio and trio, through
httpx's ASGI transport: a flagging folder holding every component type, hostile labels,
options, usernames and file names, planted symlinks; and ``asyncflag show``."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import sys
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from PIL import Image as PILImage

from asyncflag import Interface, components
from asyncflag.cli import main
from asyncflag.components import FileData
from asyncflag.review import Review

pytestmark = pytest.mark.anyio

HOSTILE_OPTION = "<script>alert(1)</script>"
RTL_OPTION = "\u202eevil\x1b[2J"
HOSTILE_USER = '"><img src=x onerror=alert(2)>'
HOSTILE_LABEL = "<b>label</b>\u202e"
#: the first bytes of an MP4 (an ftyp box), then filler: what a Video checks
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 40


def png(color: str = "red") -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (4, 3), color).save(buffer, format="PNG")
    return buffer.getvalue()


def wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * 80)
    return buffer.getvalue()


def every_component(flagging_dir: Path, **kwargs: Any) -> Interface:
    """An interface whose inputs are every component type (values flagged as lists)."""
    inputs = [
        components.Textbox(label=HOSTILE_LABEL),
        components.Number(label="number"),
        components.Checkbox(label="checkbox"),
        components.Slider(0, 10, label="slider"),
        components.Dropdown(["a", "b"], label="dropdown"),
        components.Radio(["x", "y"], label="radio"),
        components.CheckboxGroup(["p", "q"], label="group"),
        components.JSON(label="json"),
        components.ColorPicker(label="color"),
        components.Code(label="code"),
        components.Markdown(label="markdown"),
        components.HTML(label="html"),
        components.Dataframe(label="table"),
        components.HighlightedText(label="highlighted"),
        components.Image(label="image"),
        components.Audio(label="audio"),
        components.Video(label="video"),
        components.File(label="file"),
        components.Gallery(label="gallery"),
    ]
    return Interface(
        lambda *values: {"cat": 0.75, "dog": 0.25},
        inputs,
        components.Label(label="label"),
        flagging_dir=flagging_dir,
        flagging_mode="manual",
        flagging_options=["wrong", HOSTILE_OPTION, RTL_OPTION],
        **kwargs,
    )


def values(text: str = "hello", number: float = 3.5) -> list[Any]:
    return [
        text,
        number,
        True,
        4,
        "a",
        "y",
        ["p"],
        {"k": [1, 2]},
        "#ff0000",
        "print(1)",
        "**bold** <script>alert(3)</script>",
        "<p onclick='x()'>hi</p><script>alert(4)</script>",
        {"headers": ["c1", "c2"], "data": [[1, 2], [3, 4]]},
        [("good", "POS"), (" day", None)],
        png(),
        wav(),
        MP4,
        FileData(b"<html><script>alert(5)</script></html>", "page.html"),
        [(png("blue"), "a caption")],
        {"cat": 0.75, "dog": 0.25},
    ]


async def flag_rows(iface: Interface) -> None:
    async with iface:
        await iface.flag(values("first", 1), option="wrong", username="alice")
        await iface.flag(values("second", 2), option=HOSTILE_OPTION, username=HOSTILE_USER)
        await iface.flag(values("third", 3), option=RTL_OPTION, username="alice")
        await iface.flag(values("fourth", 4), option="wrong", username="bob")


@pytest.fixture
async def flagged(tmp_path: Path) -> AsyncIterator[tuple[Interface, Path]]:
    iface = every_component(tmp_path / "flagged")
    await flag_rows(iface)
    yield iface, tmp_path / "flagged"


async def client_of(iface: Interface, **app_kwargs: Any) -> httpx.AsyncClient:
    # the review routes read the folder: the interface need not run
    transport = httpx.ASGITransport(app=iface.app(**app_kwargs))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def page_rows(body: str) -> list[dict[str, Any]]:
    found = re.search(r'<script type="application/json" id="review-rows">(.*?)</script>', body)
    assert found is not None
    rows: list[dict[str, Any]] = json.loads(found[1], parse_constant=not_json)
    return rows


def not_json(constant: str) -> None:
    """JSON.parse in a browser refuses NaN and Infinity: so do the tests."""
    raise ValueError(f"{constant} is not JSON")


async def test_off_unless_asked(flagged: tuple[Interface, Path]) -> None:
    iface, _ = flagged
    async with await client_of(iface) as client:
        for path in ("/flagged", "/flagged/csv", "/flagged/file?path=x"):
            assert (await client.get(path)).status_code == 404


async def test_rows_newest_first_each_value_for_its_component(
    flagged: tuple[Interface, Path],
) -> None:
    iface, folder = flagged
    async with await client_of(iface, review=True) as client:
        response = await client.get("/flagged")
    assert response.status_code == 200
    rows = page_rows(response.text)
    assert [row["values"][0] for row in rows] == ["fourth", "third", "second", "first"]
    first = rows[-1]
    assert first["flag"] == "wrong" and first["username"] == "alice"
    by_label = dict(zip([c.label for c in iface.components], first["values"], strict=True))
    assert by_label["number"] == 1 and by_label["checkbox"] is True  # typed, not text
    assert by_label["table"] == {"headers": ["c1", "c2"], "data": [[1, 2], [3, 4]]}
    assert by_label["label"]["label"] == "cat"  # the Label's page form (bars)
    assert "<script>" not in by_label["html"] and "onclick" not in by_label["html"]
    assert "<script>" not in by_label["markdown"]
    # files: URLs of the file route, named by the folder, each listed with the row
    for label in ("image", "audio", "video", "file"):
        assert by_label[label].startswith("/flagged/file?path=")
    assert by_label["gallery"][0]["caption"] == "a caption"
    names = [name for name, _ in first["files"]]
    assert len(names) == 5 and all((folder / name).is_file() for name in names)
    # the page's own headers: nothing it shows runs
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'nonce-" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    nonce = re.search(r"script-src 'nonce-([^']+)'", csp)
    assert nonce is not None
    scripts = re.findall(r"<script([^>]*)>", response.text)
    assert all(f'nonce="{nonce[1]}"' in s or 'type="application/json"' in s for s in scripts)


async def test_hostile_labels_options_users_stay_text(flagged: tuple[Interface, Path]) -> None:
    iface, _ = flagged
    async with await client_of(iface, review=True) as client:
        body = (await client.get("/flagged")).text
    for hostile in (HOSTILE_OPTION, HOSTILE_USER, HOSTILE_LABEL, "alert(3)</script>"):
        assert hostile not in body
    assert html_escaped(HOSTILE_OPTION) in body  # in the counts and the option filter
    assert {row["flag"] for row in page_rows(body)} == {"wrong", HOSTILE_OPTION, RTL_OPTION}


def html_escaped(text: str) -> str:
    import html

    return html.escape(text)


async def test_file_route_types_by_content_and_downloads_the_rest(
    flagged: tuple[Interface, Path],
) -> None:
    iface, folder = flagged
    async with await client_of(iface, review=True) as client:
        rows = page_rows((await client.get("/flagged")).text)
        by_label = dict(zip([c.label for c in iface.components], rows[-1]["values"], strict=True))
        expected = {
            "image": "image/png",
            "audio": "audio/wav",
            "video": "video/mp4",
            "file": "application/octet-stream",
        }
        for label, media in expected.items():
            response = await client.get(by_label[label])
            assert response.status_code == 200
            assert response.headers["content-type"] == media
            assert response.headers["x-content-type-options"] == "nosniff"
            attachment = response.headers.get("content-disposition", "")
            assert attachment.startswith("attachment") == (label == "file")
        html_file = await client.get(by_label["file"])
        assert html_file.content == b"<html><script>alert(5)</script></html>"
        gallery = await client.get(by_label["gallery"][0]["image"])
        assert gallery.headers["content-type"] == "image/png"
        # names not named by a row, or out of the folder: 404, whatever exists
        (folder / "secret.txt").write_text("not flagged")
        for key in ("secret.txt", "../secret.txt", "/etc/passwd", "dataset1.csv", "image/"):
            response = await client.get("/flagged/file", params={"path": key})
            assert response.status_code == 404, key
        assert (await client.post("/flagged")).status_code == 405


async def test_planted_symlinks_are_never_followed(flagged: tuple[Interface, Path]) -> None:
    iface, folder = flagged
    outside = folder.parent / "outside.png"
    outside.write_bytes(png("green"))
    async with await client_of(iface, review=True) as client:
        rows = page_rows((await client.get("/flagged")).text)
        image_url = rows[0]["values"][14]
        key = image_url.split("path=", 1)[1]
        target = folder / key.replace("%2F", "/")
        assert target.is_file()
        # a named file replaced by a symlink to a file outside the folder, then to one inside
        target.unlink()
        target.symlink_to(outside)
        review = Review(iface, refresh=0)
        index = await review.index()
        assert all(row.values[0] != "fourth" for row in index.rows)  # the row left out
        assert key not in index.files
        inside = folder / "inside.png"
        inside.write_bytes(png("green"))
        target.unlink()
        target.symlink_to(inside)
        response = await client.get(image_url)  # the app's index still names it
        assert response.status_code == 404
        assert "symlink" in response.json()["error"]


async def test_filters_counts_and_pages(flagged: tuple[Interface, Path]) -> None:
    iface, _ = flagged
    today = datetime.now(UTC).date().isoformat()  # the rows' timestamps are in UTC
    async with await client_of(iface, review=True) as client:

        async def shown(**params: Any) -> list[str]:
            response = await client.get("/flagged", params=params)
            assert response.status_code == 200, response.text
            return [row["values"][0] for row in page_rows(response.text)]

        assert await shown(option="wrong") == ["fourth", "first"]
        assert await shown(option=HOSTILE_OPTION) == ["second"]
        assert await shown(none="1") == []
        assert await shown(user="alice") == ["third", "first"]
        assert await shown(user=HOSTILE_USER) == ["second"]
        assert await shown(since=today, until=today) == ["fourth", "third", "second", "first"]
        assert await shown(since="2000-01-01", until="2000-12-31") == []
        assert await shown(per_page="1", page="2") == ["third"]
        assert await shown(per_page="3", page="2") == ["first"]
        body = (await client.get("/flagged", params={"user": "alice"})).text
        counts = re.search(r'<ul id="counts"[^>]*>(.*?)</ul>', body)
        assert counts is not None
        assert "wrong</bdi></a>: 1" in counts[1] and "evil" in counts[1]
        for params, message in (
            ({"since": "yesterday"}, "YYYY-MM-DD"),
            ({"page": "0"}, "from 1"),
            ({"per_page": "100000"}, "from 1 to 500"),
            ({"page": "-1"}, "whole number"),
            ({"page": "000000000001" + "0" * 5000}, "whole number"),  # no 500 from int()
            ({"page": "\u0661"}, "whole number"),  # an Arabic-Indic digit
        ):
            response = await client.get("/flagged", params=params)
            assert response.status_code == 400
            assert message in response.json()["error"]


async def test_csv_of_the_filtered_rows(flagged: tuple[Interface, Path]) -> None:
    iface, _ = flagged
    async with await client_of(iface, review=True) as client:
        response = await client.get("/flagged/csv", params={"user": "alice"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment")
    table = list(csv.reader(io.StringIO(response.text)))
    header = table[0]
    assert header[0] == HOSTILE_LABEL and header[-4:] == [
        "flag",
        "username",
        "timestamp",
        "comment",
    ]
    assert [row[0] for row in table[1:]] == ["third", "first"]
    assert [row[-4] for row in table[1:]] == [RTL_OPTION, "wrong"]
    first = dict(zip(header, table[2], strict=True))
    assert first["number"] == "1" and first["checkbox"] == "True"
    assert first["image"].startswith("image") and not first["image"].startswith("/")
    # a value a spreadsheet would run is escaped as in the datasets
    async with await client_of(iface, review=True) as client:
        hostile = await client.get("/flagged/csv", params={"option": HOSTILE_OPTION})
    table = list(csv.reader(io.StringIO(hostile.text)))
    assert table[1][header.index("username")] == HOSTILE_USER


async def test_formula_cells_are_escaped(tmp_path: Path) -> None:
    iface = Interface(lambda x: x, "text", "text", flagging_dir=tmp_path, flagging_mode="manual")
    async with iface:
        await iface.flag(["=HYPERLINK(1)", "-2"], username="@me")
    async with await client_of(iface, review=True) as client:
        table = list(csv.reader(io.StringIO((await client.get("/flagged/csv")).text)))
    assert table[1][:2] == ["'=HYPERLINK(1)", "'-2"]
    assert table[1][3] == "'@me"
    async with await client_of(iface, review=True) as client:
        body = (await client.get("/flagged", params={"none": "1"})).text
    assert [row["flag"] for row in page_rows(body)] == [None]


async def test_behind_the_apps_auth(flagged: tuple[Interface, Path]) -> None:
    iface, _ = flagged
    async with await client_of(iface, review=True, auth=("ann", "pw")) as client:
        for path in ("/flagged", "/flagged/csv", "/flagged/file?path=x"):
            assert (await client.get(path)).status_code == 401
        token = base64.b64encode(b"ann:pw").decode()
        response = await client.get("/flagged", headers={"Authorization": f"Basic {token}"})
        assert response.status_code == 200


async def test_rows_read_once_per_change(
    flagged: tuple[Interface, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded work: the folder is read again only after a dataset file changed."""
    from asyncflag import load_flagged

    iface, _ = flagged
    reads: list[int] = []
    real = load_flagged

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr("asyncflag.review.load_flagged", counted)
    review = Review(iface, refresh=0)
    for _ in range(3):
        assert len((await review.index()).rows) == 4
    assert len(reads) == 1
    async with iface:
        await iface.flag(values("fifth", 5), option="wrong")
    assert (await review.index()).rows[0].values[0] == "fifth"
    assert len(reads) == 2


async def test_unrelated_columns_shown_as_text(tmp_path: Path) -> None:
    """A folder whose dataset has other columns than the interface's: rows as text."""
    (tmp_path / "dataset1.csv").write_text(
        "a,flag,username,timestamp\n<i>x</i>,wrong,,2026-01-01T00:00:00\n", encoding="utf-8"
    )
    iface = every_component(tmp_path)
    async with await client_of(iface, review=True) as client:
        response = await client.get("/flagged")
    assert response.status_code == 200
    rows = page_rows(response.text)
    assert rows[0]["values"] == ["<i>x</i>"] and rows[0]["typed"] is False
    async with await client_of(iface, review=True) as client:
        table = list(csv.reader(io.StringIO((await client.get("/flagged/csv")).text)))
    assert table == [["a", "flag", "username", "timestamp", "comment"],
                     ["<i>x</i>", "wrong", "", "2026-01-01T00:00:00", ""]]  # fmt: skip


async def test_on_in_the_demo(tmp_path: Path) -> None:
    from asyncflag.demos import demo_app

    transport = httpx.ASGITransport(app=demo_app("manual", tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ("/flagged", "/image/flagged"):
            response = await client.get(path)
            assert response.status_code == 200, path
            assert page_rows(response.text) == []
            assert f'action="{path}"' in response.text  # links under the mount


def test_show_prints_per_dataset_with_typed_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dataset1.csv").write_text(
        "num,op,flag,username,timestamp\n1.5,add,wrong,,2026-01-01T00:00:00\n"
        "2,sub,,,2026-01-02T00:00:00\n",
        encoding="utf-8",
    )
    (tmp_path / "dataset2.csv").write_text(
        "text,flag,username,timestamp\nhi,wrong,,2026-01-03T00:00:00\n", encoding="utf-8"
    )
    (tmp_path / "image-demo").mkdir()
    (tmp_path / "image-demo" / "dataset1.csv").write_text(
        "image,flag,username,timestamp\nimage/a.png,,,2026-01-04T00:00:00\n", encoding="utf-8"
    )
    (tmp_path / "image-demo" / "image").mkdir()
    (tmp_path / "image-demo" / "image" / "a.png").write_bytes(png())
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    # each dataset on its own, with its columns; no total across different columns
    assert lines[0].endswith(": 3 dataset files, each counted on its own")
    assert "dataset1.csv: 2 rows" in lines and "dataset2.csv: 1 row" in lines
    assert "image-demo/dataset1.csv: 1 row" in lines  # a dataset, not a stored file
    assert "  columns: num, op" in lines
    assert "3 rows" not in out and "4 rows" not in out
    assert out.count("    wrong: 1") == 2  # per dataset
    # numbers as numbers (repr: no quotes), text as text
    assert "    [2026-01-01 00:00:00] num=1.5, op='add' flag='wrong'" in lines
    assert "    [2026-01-02 00:00:00] num=2, op='sub' flag=None" in lines
    assert "files stored: 1, " in out and "  image-demo/image/: 1" in lines


def test_show_types_columns_by_their_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Textbox column of digits stays text; a Number and a Checkbox column are typed."""
    iface = Interface(
        lambda *values: "ok",
        [components.Textbox(label="code"), components.Number(label="n"), "checkbox"],
        "text",
        flagging_dir=tmp_path,
        flagging_mode="manual",
    )

    async def flag() -> None:
        async with iface:
            await iface.flag(["007", 7, True, "ok"])

    anyio.run(flag)
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "] code='007', n=7, component 2=True, output='ok' flag=None" in out


async def test_hostile_file_names_in_a_dataset(tmp_path: Path) -> None:
    """Cells naming ``../``, absolute paths, RTL and control characters: only files inside
    the folder are served, under their own (quoted) names; the other rows are left out."""
    iface = Interface(
        lambda image, file: "ok",
        [components.Image(label="image"), components.File(label="file")],
        "text",
        flagging_dir=tmp_path / "flagged",
        flagging_mode="manual",
    )
    async with iface:
        await iface.flag([png(), FileData(b"plain", "a.txt"), "ok"])
    folder = tmp_path / "flagged"
    (tmp_path / "outside.png").write_bytes(png("green"))
    odd = "\u202egnp.txt\x1b[2J"
    (folder / "file" / odd).write_bytes(b"odd name")
    with (folder / "dataset1.csv").open("a", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        stamp = "2026-01-01T00:00:00+00:00"
        writer.writerow(["../outside.png", "", "ok", "", "", stamp])
        writer.writerow([str(tmp_path / "outside.png"), "", "ok", "", "", stamp])
        writer.writerow(["", f"file/{odd}", "ok", "", "", stamp])
    async with await client_of(iface, review=True) as client:
        rows = page_rows((await client.get("/flagged")).text)
        assert len(rows) == 2  # the two rows naming files outside are left out
        odd_row = next(row for row in rows if row["values"][0] is None)
        assert odd_row["files"][0][0] == f"file/{odd}"
        response = await client.get(odd_row["values"][1])
        assert response.status_code == 200 and response.content == b"odd name"
        disposition = response.headers["content-disposition"]
        assert disposition.isascii() and "\x1b" not in disposition
        assert disposition.startswith("attachment; filename*=UTF-8''%E2%80%AEgnp.txt%1B")
        for key in ("../outside.png", str(tmp_path / "outside.png")):
            response = await client.get("/flagged/file", params={"path": key})
            assert response.status_code == 404


def test_serve_review_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``asyncflag serve --review`` launches with the review page; refused for a chat."""
    launched: list[dict[str, Any]] = []
    monkeypatch.setattr(Interface, "launch", lambda self, **kwargs: launched.append(kwargs))
    (tmp_path / "review_target.py").write_text(
        "from asyncflag import ChatInterface, Interface\n"
        "iface = Interface(lambda text: text, 'text', 'text')\n"
        "chat = ChatInterface(lambda message, history: message)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # serve adds the working directory
    monkeypatch.delitem(sys.modules, "review_target", raising=False)
    assert main(["serve", "review_target:iface", "--review", "--port", "7999"]) == 0
    assert launched == [{"host": "127.0.0.1", "port": 7999, "review": True}]
    assert main(["serve", "review_target:iface"]) == 0
    assert launched[-1] == {"host": "127.0.0.1", "port": 7860}
    with pytest.raises(SystemExit) as exited:
        main(["serve", "review_target:chat", "--review"])
    assert exited.value.code == 2
    assert "a ChatInterface has none" in capsys.readouterr().err


async def test_an_unreadable_folder_is_a_503_naming_it(
    flagged: tuple[Interface, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    iface, folder = flagged

    def denied(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied", str(folder / "dataset1.csv"))

    monkeypatch.setattr("asyncflag.review.load_flagged", denied)
    async with await client_of(iface, review=True) as client:
        for path in ("/flagged", "/flagged/csv", "/flagged/file?path=x"):
            response = await client.get(path)
            assert response.status_code == 503
            assert "Permission denied" in response.json()["error"]
            assert "dataset1.csv" in response.json()["error"]


async def test_parquet_without_export_says_what_to_install(
    flagged: tuple[Interface, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without asyncflag.export or pyarrow: a 501 naming the extra, and no Parquet link."""
    iface, _ = flagged
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # an import of it fails
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    monkeypatch.setattr("asyncflag.review._parquet_available", lambda: False)
    async with await client_of(iface, review=True) as client:
        response = await client.get("/flagged/parquet")
        assert response.status_code == 501
        assert "pip install 'asyncflag[export]'" in response.json()["error"]
        assert 'id="parquet"' not in (await client.get("/flagged")).text


async def test_parquet_of_the_filtered_rows(flagged: tuple[Interface, Path]) -> None:
    """Runs where asyncflag.export (issue 15) and pyarrow are installed."""
    pytest.importorskip("asyncflag.export")
    parquet = pytest.importorskip("pyarrow.parquet")
    iface, _ = flagged
    async with await client_of(iface, review=True) as client:
        page = (await client.get("/flagged", params={"user": "alice"})).text
        assert 'id="parquet" href="/flagged/parquet?user=alice"' in page
        response = await client.get("/flagged/parquet", params={"user": "alice"})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="flagged.parquet"'
    table = parquet.read_table(io.BytesIO(response.content))
    assert table.column(HOSTILE_LABEL).to_pylist() == ["third", "first"]  # newest first
    assert table.column("number").to_pylist() == [3, 1]  # typed by its component
    assert table.column("flag").to_pylist() == [RTL_OPTION, "wrong"]
