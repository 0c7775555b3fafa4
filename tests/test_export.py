"""Typed exports of a flagging directory: Arrow, pandas, Parquet, JSONL, Hugging Face.

Every export is read back with the readers people use (pandas, pyarrow,
``datasets.load_dataset``) and every column's type and every value is checked; images
are opened through the ``datasets.Image`` feature. A hypothesis round trip flags values
through a real ``Interface`` and reads them back from the export.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import wave
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import datasets
import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncflag import FlagValueError, Interface, components, iter_flagged, load_flagged
from asyncflag.cli import main
from asyncflag.components import Component
from asyncflag.export import BATCH_ROWS, INSTALL_HINT, export, to_arrow, to_pandas

datasets.disable_progress_bars()


def calculator_components() -> list[components.Component]:
    return [
        components.Textbox(label="text"),
        components.Number(label="count", precision=0),
        components.Number(label="score"),
        components.Slider(0, 10, label="level"),
        components.Checkbox(label="ok"),
        components.Dropdown(["add", "subtract"], label="operation"),
        components.CheckboxGroup(["a", "b", "c"], label="tags"),
        components.JSON(label="data"),
        components.Image(label="picture"),
        components.Label(label="label"),
        components.Chatbot(label="chat"),
        components.HighlightedText(label="entities"),
        components.Dataframe(label="table", type="array"),
        components.Gallery(label="gallery"),
    ]


def pixels(shade: int) -> np.ndarray[Any, Any]:
    return np.full((3, 2, 3), shade, dtype=np.uint8)


ROWS: list[dict[str, Any]] = [
    {
        "values": [
            "hello",
            3,
            -1.5,
            2.5,
            True,
            "add",
            ["a", "c"],
            {"k": [1, 2]},
            pixels(10),
            {"cat": 0.75, "dog": 0.25},
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
            [("Ada", "PER"), (" lives", None)],
            [[1, 2], [3, 4]],
            [(pixels(20), "first")],
        ],
        "option": "wrong",
        "username": "ada",
        "comment": "=SUM(A1)",
    },
    {
        "values": [
            "",
            None,
            None,
            0,
            False,
            "subtract",
            [],
            None,
            None,
            "bird",
            [],
            [],
            None,
            None,
        ],
        "option": "offensive",
        "username": None,
        "comment": None,
    },
]


async def flag_rows(flagging_dir: Path, rows: list[dict[str, Any]] = ROWS) -> Interface:
    comps = calculator_components()
    iface = Interface(
        lambda *values: values[-1],
        comps[:-1],
        comps[-1],
        flagging_dir=flagging_dir,
        flagging_options=["wrong", "offensive"],
        flagging_comment=True,
    )
    async with iface:
        for row in rows:
            await iface.flag(
                row["values"],
                option=row["option"],
                username=row["username"],
                comment=row["comment"],
            )
    return iface


EXPECTED_TYPES = {
    "text": pa.string(),
    "count": pa.int64(),
    "score": pa.float64(),
    "level": pa.float64(),
    "ok": pa.bool_(),
    "operation": pa.string(),
    "tags": pa.list_(pa.string()),
    "data": pa.string(),
    "picture": pa.string(),
    "label": pa.string(),
    "chat": pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])),
    "entities": pa.string(),
    "table": pa.string(),
    "gallery": pa.list_(pa.struct([("image", pa.string()), ("caption", pa.string())])),
    "comment": pa.string(),
    "flag": pa.string(),
    "username": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def expected_values(flagging_dir: Path, paths: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The rows as an export holds them (``paths``: the picture and gallery cells)."""
    return [
        {
            "text": "hello",
            "count": 3,
            "score": -1.5,
            "level": 2.5,
            "ok": True,
            "operation": "add",
            "tags": ["a", "c"],
            "data": '{"k":[1,2]}',
            "picture": paths["picture"][0],
            "label": '{"cat":0.75,"dog":0.25}',
            "chat": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
            "entities": '[["Ada","PER"],[" lives",null]]',
            "table": '{"headers": ["1", "2"], "data": [[1, 2], [3, 4]], "metadata": null}',
            "gallery": [{"image": paths["gallery"][0], "caption": "first"}],
            "comment": "=SUM(A1)",
            "flag": "wrong",
            "username": "ada",
        },
        {
            "text": "",
            "count": None,
            "score": None,
            "level": 0.0,
            "ok": False,
            "operation": "subtract",
            "tags": [],
            "data": None,
            "picture": None,
            "label": "bird",
            "chat": [],
            "entities": "[]",
            "table": None,
            "gallery": None,
            "comment": None,
            "flag": "offensive",
            "username": None,
        },
    ]


def saved_paths(flagging_dir: Path, iface: Interface) -> dict[str, list[Any]]:
    row = load_flagged(flagging_dir, iface.components)[0]
    return {"picture": [row.values[8]], "gallery": [row.values[13][0][0]]}


def check_rows(records: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(records) == len(expected)
    for record, wanted in zip(records, expected, strict=True):
        stamp = record.pop("timestamp")
        assert isinstance(stamp, datetime) and stamp.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=10)
        assert record == wanted


@pytest.mark.anyio
async def test_parquet_and_pyarrow_every_column_typed(tmp_path: Path) -> None:
    iface = await flag_rows(tmp_path / "flagged")
    out = tmp_path / "flags.parquet"
    result = export(tmp_path / "flagged", "parquet", out, components=iface.components)
    assert result.rows == 2 and result.path == str(out)
    table = pq.read_table(out)
    assert dict(zip(table.schema.names, table.schema.types, strict=True)) == EXPECTED_TYPES
    assert list(table.schema.names) == list(result.columns)
    check_rows(table.to_pylist(), expected_values(out, saved_paths(tmp_path / "flagged", iface)))
    # the picture cell is the absolute path of the saved file
    picture = table.column("picture")[0].as_py()
    assert Path(picture).is_absolute() and Path(picture).is_file()


@pytest.mark.anyio
async def test_pandas_reads_parquet_and_to_pandas_alike(tmp_path: Path) -> None:
    iface = await flag_rows(tmp_path / "flagged")
    export(tmp_path / "flagged", "parquet", tmp_path / "f.parquet", components=iface.components)
    frame = to_pandas(load_flagged(tmp_path / "flagged", iface.components), iface.components)
    read = pd.read_parquet(tmp_path / "f.parquet")
    assert str(frame["count"].dtype) == "Int64"
    assert str(frame["ok"].dtype) == "boolean"
    assert str(frame["score"].dtype) == "float64"
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame["count"].tolist() == [3, pd.NA]
    assert frame["ok"].tolist() == [True, False]
    assert frame["flag"].tolist() == ["wrong", "offensive"]
    assert frame["username"].tolist()[0] == "ada" and pd.isna(frame["username"].tolist()[1])
    assert list(frame.columns) == list(read.columns)
    assert read["count"].tolist()[0] == 3 and read["ok"].tolist() == [True, False]
    assert [list(t) for t in read["tags"]] == [["a", "c"], []]
    assert (read["timestamp"] == frame["timestamp"]).all()


@pytest.mark.anyio
async def test_jsonl_same_types(tmp_path: Path) -> None:
    iface = await flag_rows(tmp_path / "flagged")
    out = tmp_path / "flags.jsonl"
    export(tmp_path / "flagged", "jsonl", out, components=iface.components)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n")[:-1]]
    expected = expected_values(out, saved_paths(tmp_path / "flagged", iface))
    for line in lines:
        stamp = datetime.fromisoformat(line["timestamp"])
        assert stamp.utcoffset() == timedelta(0)
        line["timestamp"] = stamp
    written = [line["timestamp"] for line in lines]
    check_rows(lines, expected)
    # pyarrow's own JSON reader types the same columns the same way
    table = pajson.read_json(out)
    assert table.schema.field("count").type == pa.int64()
    assert table.schema.field("ok").type == pa.bool_()
    assert table.schema.field("score").type == pa.float64()
    stamps = pa.schema([("timestamp", pa.timestamp("us", tz="UTC"))])
    typed = pajson.read_json(out, parse_options=pajson.ParseOptions(explicit_schema=stamps))
    assert typed["timestamp"].to_pylist() == written
    frame = pd.read_json(out, lines=True)
    assert frame["flag"].tolist() == ["wrong", "offensive"]


def wav_bytes(samples: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(8000)
        file.writeframes(np.arange(samples, dtype=np.int16).tobytes())
    return buffer.getvalue()


@pytest.mark.anyio
async def test_hf_folder_loads_with_image_feature(tmp_path: Path) -> None:
    iface = await flag_rows(tmp_path / "flagged")
    out = tmp_path / "hf"
    export(tmp_path / "flagged", "hf", out, components=iface.components)
    assert (out / "README.md").read_text(encoding="utf-8").count("upload_folder") == 1
    loaded = datasets.load_dataset(str(out), split="train")
    features = loaded.features
    assert isinstance(features["picture"], datasets.Image)
    wanted_types = {k: v for k, v in EXPECTED_TYPES.items() if k != "picture"}
    assert {k: f for k, f in features.items() if k != "picture"} == {
        name: datasets.Features.from_arrow_schema(pa.schema([(name, kind)]))[name]
        for name, kind in wanted_types.items()
    }
    assert list(features) == list(EXPECTED_TYPES)
    records = [loaded[0], loaded[1]]
    image = records[0].pop("picture")
    assert np.array_equal(np.asarray(image.convert("RGB")), pixels(10))  # opened by datasets
    assert records[1].pop("picture") is None
    # the files are copied beside the data, their paths relative to the folder
    relative = Path(saved_paths(tmp_path / "flagged", iface)["gallery"][0]).relative_to(
        (tmp_path / "flagged").resolve()
    )
    assert (out / relative).is_file()
    expected = expected_values(out, {"picture": [None], "gallery": [relative.as_posix()]})
    for row in expected:
        del row["picture"]
    check_rows(records, expected)


async def audio_folder(tmp_path: Path) -> tuple[Path, bytes]:
    iface = Interface(
        lambda a: a, components.Audio(label="voice"), "text", flagging_dir=tmp_path / "f"
    )
    data = wav_bytes(800)
    async with iface:
        await iface.flag([data, "said"])
    export(tmp_path / "f", "hf", tmp_path / "hf", components=iface.components)
    return tmp_path / "hf", data


@pytest.mark.anyio
async def test_hf_folder_is_an_audio_folder(tmp_path: Path) -> None:
    out, data = await audio_folder(tmp_path)
    builder = datasets.load_dataset_builder(str(out))
    assert builder.name == "audiofolder"  # datasets reads the voice column as Audio()
    metadata = pq.read_table(out / "metadata.parquet")
    assert metadata.column_names == ["voice_file_name", "output", "flag", "username", "timestamp"]
    copied = out / metadata["voice_file_name"][0].as_py()
    assert copied.read_bytes() == data and copied.parent.parent == out
    assert metadata["output"].to_pylist() == ["said"]


@pytest.mark.anyio
async def test_hf_folder_loads_with_audio_feature(tmp_path: Path) -> None:
    pytest.importorskip("torchcodec", reason="datasets 5 loads audio through torchcodec")
    out, data = await audio_folder(tmp_path)
    loaded = datasets.load_dataset(str(out), split="train")
    assert isinstance(loaded.features["voice"], datasets.Audio)
    raw = loaded.cast_column("voice", datasets.Audio(decode=False))[0]["voice"]
    assert (raw["bytes"] or (out / raw["path"]).read_bytes()) == data
    assert loaded[0]["output"] == "said"


@pytest.mark.anyio
async def test_hf_refuses_image_and_audio_together(tmp_path: Path) -> None:
    comps = [components.Image(label="picture"), components.Audio(label="voice")]
    iface = Interface(lambda *v: None, comps, [], flagging_dir=tmp_path / "f")
    async with iface:
        await iface.flag([pixels(1), wav_bytes(10)])
    with pytest.raises(FlagValueError, match="image columns or audio columns, not both"):
        export(tmp_path / "f", "hf", tmp_path / "hf", components=iface.components)


@pytest.mark.anyio
async def test_filters_option_since_dataset(tmp_path: Path) -> None:
    iface = await flag_rows(tmp_path / "flagged")
    comps = iface.components
    only = export(
        tmp_path / "flagged", "parquet", tmp_path / "o.parquet", components=comps, option="wrong"
    )
    assert only.rows == 1 and pq.read_table(tmp_path / "o.parquet")["flag"].to_pylist() == ["wrong"]
    both = export(
        tmp_path / "flagged",
        "parquet",
        tmp_path / "b.parquet",
        components=comps,
        option=["wrong", "offensive"],
    )
    assert both.rows == 2
    future = datetime.now(UTC) + timedelta(hours=1)
    assert export(tmp_path / "flagged", "jsonl", tmp_path / "s.jsonl", since=future).rows == 0
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert export(tmp_path / "flagged", "jsonl", tmp_path / "p.jsonl", since=past).rows == 2
    assert export(tmp_path / "flagged", "jsonl", tmp_path / "d.jsonl", dataset=1).rows == 2
    with pytest.raises(FlagValueError, match=r"dataset 'dataset7' is not in .*dataset1\.csv"):
        export(tmp_path / "flagged", "jsonl", tmp_path / "x.jsonl", dataset="dataset7")
    with pytest.raises(FlagValueError, match="is not a date or time"):
        export(tmp_path / "flagged", "jsonl", tmp_path / "x.jsonl", since="yesterday")
    with pytest.raises(FlagValueError, match="exists"):
        export(tmp_path / "flagged", "jsonl", tmp_path / "p.jsonl")
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.anyio
async def test_dataset_column_when_files_differ(tmp_path: Path) -> None:
    first = Interface(
        lambda x: x, components.Textbox(label="x"), "text", flagging_dir=tmp_path / "f"
    )
    second = Interface(
        lambda x: x, components.Number(label="y"), "text", flagging_dir=tmp_path / "f"
    )
    async with first:
        await first.flag(["a", "b"])
    async with second:
        await second.flag([2, "c"])
    assert sorted(p.name for p in (tmp_path / "f").glob("dataset*.csv")) == [
        "dataset1.csv",
        "dataset2.csv",
    ]
    export(tmp_path / "f", "parquet", tmp_path / "all.parquet")
    table = pq.read_table(tmp_path / "all.parquet")
    assert table.column_names == ["x", "output", "y", "flag", "username", "timestamp", "dataset"]
    assert table["dataset"].to_pylist() == ["dataset1.csv", "dataset2.csv"]
    assert table["x"].to_pylist() == ["a", None]
    assert table["y"].to_pylist() == [None, "2"]  # no components: text
    # one file: no dataset column
    export(tmp_path / "f", "parquet", tmp_path / "one.parquet", dataset="dataset2.csv")
    assert "dataset" not in pq.read_table(tmp_path / "one.parquet").column_names
    # the same from rows in memory
    assert to_arrow(load_flagged(tmp_path / "f")).column_names == table.column_names


def test_a_label_named_like_a_metadata_column_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dataset1.csv").write_text("flag,flag,username,timestamp\nx,,,\n")
    with pytest.raises(FlagValueError, match="'flag', the name of a column every export adds"):
        export(tmp_path, "parquet", tmp_path / "o.parquet")
    assert not (tmp_path / "o.parquet").exists()


def test_naive_gradio_timestamps_in_a_given_zone(tmp_path: Path) -> None:
    (tmp_path / "dataset1.csv").write_text(
        "x,flag,username,timestamp\na,,,2026-01-02 03:04:05.000006\n"
    )
    export(tmp_path, "parquet", tmp_path / "utc.parquet")
    assert pq.read_table(tmp_path / "utc.parquet")["timestamp"].to_pylist() == [
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    ]
    plus2 = timezone(timedelta(hours=2))
    export(tmp_path, "parquet", tmp_path / "p2.parquet", naive_timezone=plus2)
    assert pq.read_table(tmp_path / "p2.parquet")["timestamp"].to_pylist() == [
        datetime(2026, 1, 2, 1, 4, 5, 6, tzinfo=UTC)
    ]


def test_missing_pyarrow_gives_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dataset1.csv").write_text("x,flag,username,timestamp\na,,,\n")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"pip install 'asyncflag\[export\]'"):
        export(tmp_path, "parquet", tmp_path / "o.parquet")
    assert main(["export", str(tmp_path), "--to", "parquet", str(tmp_path / "o.parquet")]) == 2
    assert capsys.readouterr().err.strip() == f"asyncflag export: {INSTALL_HINT}"


@pytest.mark.anyio
async def test_cli_export_with_filters_and_interface(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    iface = await flag_rows(tmp_path / "flagged")
    module = tmp_path / "flagmod.py"
    module.write_text(
        "from asyncflag import Interface\n"
        "from test_export import calculator_components\n"
        "c = calculator_components()\n"
        "iface = Interface(lambda *v: v[-1], c[:-1], c[-1], flagging_comment=True)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    out = tmp_path / "cli.parquet"
    argv = ["export", str(tmp_path / "flagged"), "--to", "parquet", str(out)]
    argv += ["--interface", "flagmod:iface", "--option", "wrong", "--dataset", "dataset1"]
    assert main([*argv, "--since", "2000-01-01"]) == 0
    assert "1 rows" in capsys.readouterr().out
    table = pq.read_table(out)
    assert table.schema.field("count").type == pa.int64()
    assert table["flag"].to_pylist() == ["wrong"]
    assert main([*argv[:4], str(tmp_path / "x.parquet"), "--dataset", "dataset9"]) == 2
    assert "dataset 'dataset9' is not in" in capsys.readouterr().err
    assert len(iface.components) == 14


# -- hypothesis: flag -> export -> read equals what was flagged -------------------------

texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)


def json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3)


plain_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts,
    json_containers,
    max_leaves=6,
)
flag_values = st.tuples(
    texts,
    st.none() | st.integers(-(2**62), 2**62),
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
    st.none() | st.booleans(),
    plain_json,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(flag_values, min_size=1, max_size=4), backend=st.sampled_from(["asyncio", "trio"])
)
def test_round_trip_flag_export_read(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[Any, ...]], backend: str
) -> None:
    folder = tmp_path_factory.mktemp("roundtrip")
    comps = [
        components.Textbox(label="t"),
        components.Number(label="i", precision=0),
        components.Number(label="f"),
        components.Checkbox(label="b"),
        components.JSON(label="j"),
    ]
    iface = Interface(lambda *v: v[-1], comps[:-1], comps[-1], flagging_dir=folder / "f")

    async def flag_all() -> None:
        async with iface:
            for row in rows:
                await iface.flag(list(row), username="u")

    anyio.run(flag_all, backend=backend)
    export(folder / "f", "parquet", folder / "o.parquet", components=iface.components)
    export(folder / "f", "jsonl", folder / "o.jsonl", components=iface.components)
    parquet = pq.read_table(folder / "o.parquet").to_pylist()
    lines = [json.loads(line) for line in (folder / "o.jsonl").read_text().split("\n")[:-1]]
    for records in (parquet, lines):
        got = [(r["t"], r["i"], r["f"], r["b"], r["j"]) for r in records]
        flagged = [
            (
                t,
                i,
                None if f is None else float(f),
                b,
                None if j is None else json.dumps(j, separators=(",", ":"), ensure_ascii=False),
            )
            for t, i, f, b, j in rows
        ]
        assert got == flagged
        assert [r["username"] for r in records] == ["u"] * len(rows)
    assert [json.loads(r["j"]) if r["j"] else None for r in parquet] == [r[4] for r in rows]


# -- bounded memory --------------------------------------------------------------------


def write_big_dataset(folder: Path, rows: int) -> None:
    folder.mkdir()
    stamp = "2026-01-02T03:04:05.000006+00:00"
    line = f"a flagged text value of some length,12345,0.5,True,wrong,ada,{stamp}\n"
    with (folder / "dataset1.csv").open("w") as file:
        file.write("text,count,score,ok,flag,username,timestamp\n")
        for start in range(0, rows, 10_000):
            file.write(line * min(10_000, rows - start))


def peak_rss_during(work: Any) -> tuple[int, Any]:
    """The peak RSS growth (bytes) while ``work()`` runs, sampled every millisecond."""
    process = psutil.Process()
    base = process.memory_info().rss
    peak = base
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            done.wait(0.001)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        result = work()
    finally:
        done.set()
        thread.join()
    return max(peak, process.memory_info().rss) - base, result


EXPORT_ROWS = 200_000


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("big") / "flagged"
    write_big_dataset(folder, EXPORT_ROWS)
    yield folder


def test_export_streams_in_bounded_memory(big_folder: Path, tmp_path: Path) -> None:
    comps = [
        components.Textbox(label="text"),
        components.Number(label="count", precision=0),
        components.Number(label="score"),
        components.Checkbox(label="ok"),
    ]
    export(big_folder, "parquet", tmp_path / "warm.parquet", components=comps, dataset=1)  # imports
    grown, result = peak_rss_during(
        lambda: export(big_folder, "parquet", tmp_path / "big.parquet", components=comps)
    )
    assert result.rows == EXPORT_ROWS
    assert pq.ParquetFile(tmp_path / "big.parquet").metadata.num_rows == EXPORT_ROWS
    # holding every row (what list(...) does) costs far more than the bound: the test can fail
    held, rows = peak_rss_during(lambda: list(iter_flagged(big_folder, comps)))
    assert len(rows) == EXPORT_ROWS
    del rows
    print(
        f"export of {EXPORT_ROWS} rows: peak RSS +{grown / 2**20:.1f} MiB "
        f"(holding the rows: +{held / 2**20:.1f} MiB; batch {BATCH_ROWS} rows)"
    )
    assert grown < 40 * 2**20
    assert held > 2 * grown


def test_gradio_folder_exports_typed(tmp_path: Path) -> None:
    """A folder Gradio 6.31 flagged itself (with an option and a login): typed columns,
    its naive local timestamps taken as UTC (or the zone given)."""
    fixture = Path(__file__).parent / "fixtures" / "gradio" / "layout_options_login"
    comps = [components.Textbox(label="text"), components.Number(label="number")]
    export(fixture, "parquet", tmp_path / "g.parquet", components=comps)
    table = pq.read_table(tmp_path / "g.parquet")
    assert table.column_names == ["text", "number", "flag", "username", "timestamp"]
    assert table.schema.field("number").type == pa.float64()
    assert table["text"].to_pylist() == ["first", "second"]
    assert table["number"].to_pylist() == [1.0, 2.5]
    assert table["flag"].to_pylist() == ["wrong", "wrong"]
    assert table["username"].to_pylist() == ["alice", "alice"]
    cells = [
        line.rsplit(",", 1)[1] for line in (fixture / "dataset1.csv").read_text().splitlines()[1:]
    ]
    assert table["timestamp"].to_pylist() == [
        datetime.fromisoformat(cell).replace(tzinfo=UTC) for cell in cells
    ]


def test_progress_bar_counts_the_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "flagged"
    write_big_dataset(folder, BATCH_ROWS + 5)
    seen: list[int] = []
    from rich.progress import Progress

    advance = Progress.advance

    def counting(self: Progress, task: Any, rows: float = 1) -> None:
        seen.append(int(rows))
        advance(self, task, rows)

    monkeypatch.setattr(Progress, "advance", counting)
    result = export(folder, "jsonl", tmp_path / "o.jsonl", progress=True)
    assert result.rows == BATCH_ROWS + 5
    assert seen == [BATCH_ROWS, 5]


@pytest.mark.anyio
async def test_corrections_typed_by_their_output(tmp_path: Path) -> None:
    iface = Interface(
        lambda x: x * 2,
        components.Number(label="x", precision=0),
        components.Number(label="y", precision=0),
        flagging_dir=tmp_path / "f",
        flagging_comment=True,
        flagging_correction=True,
    )
    async with iface:
        await iface.flag([1, 2], comment="off by one", correction=[3])
        await iface.flag([4, 8])
    export(tmp_path / "f", "parquet", tmp_path / "o.parquet", components=iface.components)
    table = pq.read_table(tmp_path / "o.parquet")
    assert table.column_names == ["x", "y", "y (correction)", "comment", *METADATA]
    assert table.schema.field("y (correction)").type == pa.int64()
    assert table["y (correction)"].to_pylist() == [3, None]
    assert table["comment"].to_pylist() == ["off by one", None]
    rows = load_flagged(tmp_path / "f", iface.components)
    assert (
        to_arrow(rows, iface.components)
        .select(table.column_names[:4])
        .equals(table.select(table.column_names[:4]))
    )


METADATA = ["flag", "username", "timestamp"]


class Stars(components.Component):
    """A 1-5 rating stored as a number: its own column type through the hook."""

    type_name = "export_stars"

    def check(self, value: Any) -> Any:
        return None if value is None else int(value)

    def to_cell(self, value: Any) -> str:
        return "" if value is None else str(value)

    def from_cell(self, cell: str, flagging_dir: Path) -> Any:
        return int(cell) if cell else None

    def arrow_type(self) -> Any:
        return pa.int8()

    def to_arrow_value(self, value: Any) -> Any:
        return value


class Plain(components.Component):
    """A custom component that says nothing: text, and other values as JSON text."""

    type_name = "export_plain"

    def from_cell(self, cell: str, flagging_dir: Path) -> Any:
        return {"cell": cell} if cell.startswith("{") else cell


def test_custom_component_states_its_column_type(tmp_path: Path) -> None:
    (tmp_path / "dataset1.csv").write_text(
        'stars,plain,flag,username,timestamp\n5,"{x",,,\n,text,,,\n'
    )
    comps = [Stars(label="stars"), Plain(label="plain")]
    export(tmp_path, "parquet", tmp_path / "o.parquet", components=comps)
    table = pq.read_table(tmp_path / "o.parquet")
    assert table.schema.field("stars").type == pa.int8()
    assert table.schema.field("plain").type == pa.string()
    assert table["stars"].to_pylist() == [5, None]
    assert table["plain"].to_pylist() == ['{"cell":"{x"}', "text"]


def test_an_unreadable_cell_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dataset1.csv").write_text("j,flag,username,timestamp\n[1,,,\n")
    argv = ["export", str(tmp_path), "--to", "parquet", str(tmp_path / "o.parquet")]
    module = tmp_path / "jsonmod.py"
    module.write_text(
        "from asyncflag import Interface, components\n"
        "iface = Interface(lambda j: None, components.JSON(label='j'), [])\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        assert main([*argv, "--interface", "jsonmod:iface"]) == 2
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("jsonmod", None)
    err = capsys.readouterr().err
    assert err.startswith("asyncflag export: ") and "Traceback" not in err
    assert not (tmp_path / "o.parquet").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".o.parquet")] == []


@pytest.mark.anyio
async def test_chat_dataset_current_feedback_or_history(tmp_path: Path) -> None:
    from asyncflag import ChatInterface

    async def bot(message: str, history: list[dict[str, str]]) -> str:
        return f"you said {message}"

    chat = ChatInterface(bot, flagging_mode="manual", flagging_dir=tmp_path / "f")
    async with chat:
        conversation = chat.start(username="ada")
        reply = await chat.send(conversation, "hi", username="ada")
        await chat.feedback(reply.message_id, "Like", username="ada")
        await chat.feedback(reply.message_id, "Dislike", username="ada")
    export(tmp_path / "f", "parquet", tmp_path / "now.parquet", components=chat.components)
    export(
        tmp_path / "f",
        "parquet",
        tmp_path / "all.parquet",
        components=chat.components,
        history=True,
    )
    now, every = pq.read_table(tmp_path / "now.parquet"), pq.read_table(tmp_path / "all.parquet")
    assert now["flag"].to_pylist() == ["Dislike"]
    assert every["flag"].to_pylist() == ["Like", "Dislike"]
    assert now.schema.field("conversation").type == EXPECTED_TYPES["chat"]
    assert now["conversation"][0].as_py()[-1] == {"role": "assistant", "content": "you said hi"}
    assert now["username"].to_pylist() == ["ada"]


def test_an_int_too_big_for_int64_names_file_column_and_value(tmp_path: Path) -> None:
    (tmp_path / "dataset1.csv").write_text(
        "n,picture,flag,username,timestamp\n1,,,,\n123456789012345678901234567890,,,,\n"
    )
    comps = [components.Number(label="n", precision=0), components.Image(label="picture")]
    for to, out in (("parquet", tmp_path / "o.parquet"), ("hf", tmp_path / "hf")):
        with pytest.raises(
            FlagValueError,
            match=r"dataset1\.csv, column 'n': 123456789012345678901234567890 does not fit "
            r"the column's type int64",
        ):
            export(tmp_path, to, out, components=comps)  # type: ignore[arg-type]
        assert not out.exists()
    export(tmp_path, "parquet", tmp_path / "text.parquet")
    assert pq.read_table(tmp_path / "text.parquet")["n"].to_pylist()[1] == (
        "123456789012345678901234567890"
    )


@pytest.mark.parametrize(
    "folder",
    [
        "gradio/layout_default",
        "gradio/layout_options",
        "gradio/layout_options_login",
        "gradio/layout_simple",
        "gradio/layout_short_rows",
        "gradio/layout_long_rows",
        "gradio4/log_classic",
    ],
)
def test_every_gradio_layout_exports_what_the_reader_reads(tmp_path: Path, folder: str) -> None:
    """The export plans its columns by the reader's own header rule (``value_labels``), so
    each layout Gradio 4/5/6 writes (fewer metadata columns, short and long rows, a
    values-only log, Gradio 4's log with a header) exports the rows ``load_flagged`` gives."""
    fixture = Path(__file__).parent / "fixtures" / folder
    comps: list[Component] = [components.Textbox(label="text"), components.Number(label="number")]
    if folder.startswith("gradio4"):
        comps.append(components.Checkbox(label="check"))
    rows = load_flagged(fixture, comps)
    assert rows
    export(fixture, "parquet", tmp_path / "g.parquet", components=comps)
    table = pq.read_table(tmp_path / "g.parquet")
    assert table.column_names[: len(comps)] == [c.label for c in comps]
    assert table["text"].to_pylist() == [row.values[0] for row in rows]
    assert table["number"].to_pylist() == [row.values[1] for row in rows]
    assert table.schema.field("number").type == pa.float64()
    if "flag" in table.column_names:
        assert table["flag"].to_pylist() == [row.flag for row in rows]
