"""Gradio's keywords on every component (issue 13, last round).

A Gradio demo passes ``info=``, ``show_label=``, ``scale=``, ``value=``... to its
components: each is accepted, those with a meaning here have it (on the page, in
``/api/config``), the layout ones have no effect, none travels in a stream's schema, and
an unknown keyword is a ``TypeError`` that names the component and a close match.
``type="index"`` on the choice components hands ``fn`` indices while the cell keeps the
value, and an output's ``value=`` is shown before the first prediction.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CHROMIUM, chromium_page, served_in_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import asyncflag
from asyncflag import FlagValueError, Interface, load_flagged
from asyncflag.components import (
    GRADIO_LAYOUT_KEYWORDS,
    Component,
    accepted_keywords,
    component_types,
)
from asyncflag.transport.wire import components_from_schema, schema_of
from asyncflag.web import render_page

#: Gradio 6's ``__init__`` keywords of each component (gradio-app/gradio at 375335e60e,
#: ``gradio/components/<name>.py``), less those asyncflag refuses on purpose (see
#: ``REFUSED``) and ``label``/``value`` (every component takes them)
GRADIO_SIGNATURES: dict[str, str] = {
    "audio": "sources type show_label container scale min_width interactive visible elem_id elem_classes render key preserved_by_key format autoplay editable buttons waveform_options loop recording subtitles playback_position",  # noqa: E501
    "chatbot": "show_label container scale min_width visible elem_id elem_classes autoscroll render key preserved_by_key height resizable max_height min_height editable latex_delimiters rtl buttons watermark avatar_images sanitize_html render_markdown feedback_options feedback_value line_breaks layout placeholder examples allow_file_downloads group_consecutive_messages allow_tags reasoning_tags like_user_message",  # noqa: E501
    "checkbox": "info show_label container scale min_width interactive visible elem_id elem_classes render key preserved_by_key buttons",  # noqa: E501
    "code": "language lines max_lines interactive show_label container scale min_width visible elem_id elem_classes render key preserved_by_key wrap_lines show_line_numbers autocomplete buttons",  # noqa: E501
    "colorpicker": "info show_label container scale min_width interactive visible elem_id elem_classes render key preserved_by_key",  # noqa: E501
    "dataframe": "headers row_count row_limits col_count column_count column_limits datatype type latex_delimiters show_label max_height scale min_width interactive visible elem_id elem_classes render key preserved_by_key wrap line_breaks column_widths buttons show_row_numbers max_chars show_search pinned_columns static_columns",  # noqa: E501
    "dropdown": "choices type multiselect allow_custom_value filterable info show_label container scale min_width interactive visible elem_id elem_classes render key preserved_by_key buttons",  # noqa: E501
    "file": "type show_label container scale min_width height interactive visible elem_id elem_classes render key preserved_by_key allow_reordering buttons",  # noqa: E501
    "highlightedtext": "color_map show_legend show_inline_category combine_adjacent adjacent_separator show_whitespaces show_label container scale min_width visible elem_id elem_classes render key preserved_by_key interactive rtl buttons",  # noqa: E501
    "html": "show_label scale min_width visible elem_id elem_classes render key preserved_by_key min_height max_height container padding autoscroll buttons",  # noqa: E501
    "gallery": "format label every inputs show_label container scale min_width visible elem_id elem_classes render key preserved_by_key columns rows height allow_preview preview selected_index object_fit buttons interactive type fit_columns sources",  # noqa: E501
    "image": "format height width image_mode sources type show_label buttons container scale min_width interactive visible elem_id elem_classes render key preserved_by_key webcam_options placeholder watermark",  # noqa: E501
    "json": "show_label container scale min_width visible elem_id elem_classes render key preserved_by_key open show_indices height max_height min_height buttons",  # noqa: E501
    "label": "num_top_classes show_label container scale min_width visible elem_id elem_classes render key preserved_by_key color show_heading buttons",  # noqa: E501
    "markdown": "show_label scale min_width rtl latex_delimiters visible elem_id elem_classes render key preserved_by_key sanitize_html line_breaks header_links height max_height min_height buttons container padding",  # noqa: E501
    "number": "placeholder info show_label container scale min_width interactive visible elem_id elem_classes render key preserved_by_key buttons precision minimum maximum step",  # noqa: E501
    "radio": "choices type info show_label container scale min_width interactive visible elem_id elem_classes render key preserved_by_key rtl buttons",  # noqa: E501
    "checkboxgroup": "choices type info show_label show_select_all container scale min_width interactive visible elem_id elem_classes render key preserved_by_key buttons",  # noqa: E501
    "slider": "minimum maximum step precision info show_label container scale min_width interactive visible elem_id elem_classes render key preserved_by_key randomize buttons",  # noqa: E501
    "textbox": "type lines max_lines placeholder info show_label container scale min_width interactive visible elem_id autofocus autoscroll elem_classes render key preserved_by_key text_align rtl buttons max_length submit_btn stop_btn html_attributes",  # noqa: E501
    "video": "format sources height width show_label container scale min_width interactive visible elem_id elem_classes render key preserved_by_key webcam_options include_audio autoplay buttons loop watermark subtitles playback_position",  # noqa: E501
}
#: Gradio keywords that would change what is stored or run, refused with TypeError
#: rather than silently ignored: events (``every``/``inputs`` are accepted: no effect),
#: streaming, several files in a File, file type filters, HTML templates run on the page
REFUSED = {"streaming", "file_count", "file_types", "max_choices", "html_template"}


#: the keywords below are taken at run time; a static checker sees each class's own
#: ``__init__`` (see docs/components.md), hence the module through ``Any``
gr: Any = asyncflag


def accepts(cls: type[Component], name: str) -> bool:
    init = getattr(cls.__init__, "__wrapped__", cls.__init__)
    return name in init.__code__.co_varnames or name in accepted_keywords(cls)


@pytest.mark.parametrize("type_name", sorted(GRADIO_SIGNATURES))
def test_every_gradio_keyword_of_each_component_is_accepted(type_name: str) -> None:
    cls = component_types()[type_name]
    missing = [k for k in GRADIO_SIGNATURES[type_name].split() if not accepts(cls, k)]
    assert missing == []
    layout = {name: None for name in GRADIO_LAYOUT_KEYWORDS}
    component = cls(label="x", info="help", show_label=False, visible=False, **layout)
    assert (component.label, component.info, component.show_label) == ("x", "help", False)
    assert component.visible is False


def test_every_registered_component_has_its_gradio_keywords_listed() -> None:
    built_in = {
        name for name, cls in component_types().items() if cls.__module__.startswith("asyncflag.")
    }
    assert built_in <= set(GRADIO_SIGNATURES)


def test_an_unknown_keyword_is_a_type_error_with_a_close_match() -> None:
    with pytest.raises(TypeError, match=r"Textbox\(\) .* 'lable'; did you mean 'label'\?"):
        gr.Textbox(lable="x")
    with pytest.raises(TypeError, match=r"Checkbox\(\) .* 'infoo'; did you mean 'info'\?"):
        gr.Checkbox(infoo="x")  # a class without an __init__ of its own
    with pytest.raises(TypeError, match=r"Radio\(\) .* 'choises'; did you mean 'choices'\?"):
        gr.Radio(choises=["a"])
    with pytest.raises(TypeError, match=r"Image\(\) got an unexpected keyword argument 'zzz'$"):
        gr.Image(zzz=1)
    for refused in REFUSED:  # what would change what is stored is not silently ignored
        with pytest.raises(TypeError, match=refused):
            gr.File(**{refused: 1})


def test_value_is_checked_and_kept() -> None:
    assert gr.Textbox(value="hi").value == "hi"
    assert gr.Number(value=2, precision=0).value == 2
    assert gr.Dropdown(["a", "b"], value="b").value == "b"
    assert gr.Checkbox(value=True).value is True
    with pytest.raises(FlagValueError, match="Textbox None stores a string"):
        gr.Textbox(value=5)
    with pytest.raises(FlagValueError, match="is not one of the choices"):
        gr.Dropdown(["a"], value="z")
    with pytest.raises(FlagValueError, match="value= is a function"):
        gr.Textbox(value=lambda: "now")
    for bad in ({"info": 3}, {"show_label": "no"}, {"interactive": 1}, {"visible": "maybe"}):
        with pytest.raises(FlagValueError, match="must be"):
            gr.Textbox(**bad)
    with pytest.raises(FlagValueError, match="is over the limit"):
        gr.Textbox(info="x" * 1001)
    assert gr.Textbox(visible="hidden").visible is False  # Gradio 6's "hidden"


def test_the_page_and_config_show_what_the_keywords_say() -> None:
    box = gr.Textbox("name", info="your <full> name", value="Ada", interactive=False)
    field = box.input_html(0)
    assert field.startswith('<fieldset class="field" disabled>')
    assert '<div class="info">your &lt;full&gt; name</div>' in field
    assert 'data-value="&quot;Ada&quot;"' in field
    assert 'class="hidden-label"' in gr.Textbox(show_label=False).input_html(0)
    assert " hidden>" in gr.Textbox(visible=False).input_html(0)
    assert " hidden>" in gr.Label(visible=False).output_html(0)
    assert '<input type="password"' in gr.Textbox(type="password", lines=3).input_html(0)
    assert '<input type="email"' in gr.Textbox(type="email").input_html(0)
    number = gr.Number(step=0.5, placeholder="how many").input_html(0)
    assert 'step="0.5"' in number and 'placeholder="how many"' in number
    with pytest.raises(FlagValueError, match="step must be a positive number"):
        gr.Number(step=0)
    assert box.config() == {
        "type": "textbox", "label": "name", "info": "your <full> name", "interactive": False,
        "value": "Ada", "lines": 1, "placeholder": None, "max_length": None, "text_type": "text",
    }  # fmt: skip
    assert gr.Textbox("plain").config() == {
        "type": "textbox", "label": "plain", "lines": 1, "placeholder": None,
        "max_length": None, "text_type": "text",
    }  # fmt: skip
    # a class taking value= itself renders it itself: no second data-value
    assert "data-value" not in gr.Radio(["a"], value="a").input_html(0)


def test_the_keywords_do_not_travel_in_a_schema() -> None:
    plain = [gr.Textbox("t"), gr.Number("n"), gr.Radio(["a", "b"], label="r")]
    dressed = [
        gr.Textbox("t", info="i", scale=2, value="x", type="password", max_lines=9),
        gr.Number("n", step=2, elem_id="e", visible=False),
        gr.Radio(["a", "b"], label="r", type="index", rtl=True),
    ]
    assert schema_of(dressed) == schema_of(plain)
    assert [c.config() for c in components_from_schema(schema_of(dressed))] == [
        c.config() for c in plain
    ]


#: a 1x1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000200a5f6"
    "1d8d0000000049454e44ae426082"
)


# -- type="index" ---------------------------------------------------------------------------


CHOICES = ["cat", "dog", ("A bird", "bird")]


def indexed(flagging_dir: Path) -> Interface:
    def fn(radio: Any, boxes: Any, picks: Any, single: Any) -> str:
        return json.dumps([radio, boxes, picks, single])

    return Interface(
        fn,
        [
            gr.Radio(CHOICES, type="index", label="radio"),
            gr.CheckboxGroup(CHOICES, type="index", label="boxes"),
            gr.Dropdown(CHOICES, multiselect=True, type="index", label="picks"),
            gr.Dropdown(CHOICES, type="index", allow_custom_value=True, label="single"),
        ],
        "text",
        flagging_dir=flagging_dir,
    )


@pytest.mark.anyio
async def test_type_index_gives_fn_indices_and_flags_values(tmp_path: Path) -> None:
    iface = indexed(tmp_path)
    async with iface:
        prediction = await iface.submit("bird", ["dog", "cat"], ["bird"], "custom")
        assert json.loads(prediction.outputs[0]) == [2, [1, 0], [2], None]  # Gradio's preprocess
        assert await iface.flag(prediction) == 1
        nothing = await iface.submit(None, None, None, None)
        assert json.loads(nothing.outputs[0]) == [None, [], [], None]
    with (tmp_path / "dataset1.csv").open(newline="", encoding="utf-8") as file:
        row = list(csv.reader(file))[1]
    assert row[:4] == ["bird", '["dog", "cat"]', '["bird"]', "custom"]  # the values, as Gradio
    flagged = load_flagged(tmp_path, iface.components)
    assert flagged[0].values[:4] == ("bird", ["dog", "cat"], ["bird"], "custom")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(picked=st.lists(st.sampled_from(["cat", "dog", "bird"]), unique=True))
def test_index_round_trip(picked: list[str], tmp_path_factory: pytest.TempPathFactory) -> None:
    import anyio

    folder = tmp_path_factory.mktemp("index")
    values = ["cat", "dog", "bird"]

    async def run() -> Any:
        iface = indexed(folder)
        async with iface:
            first = picked[0] if picked else None
            prediction = await iface.submit(first, picked, picked, first)
            await iface.flag(prediction)
            return json.loads(prediction.outputs[0]), iface.components

    for backend in ("asyncio", "trio"):
        shown, used = anyio.run(run, backend=backend)
        indices = [values.index(v) for v in picked]
        first_index = indices[0] if indices else None
        assert shown == [first_index, indices, indices, first_index]
    assert [row.values[1] for row in load_flagged(folder, used)] == [picked, picked]


# -- the page: value=, info=, interactive=, visible=, type="password", and outputs' value= --


def keyword_demo(flagging_dir: Path) -> Interface:
    def fn(name: str, secret: str, count: float, agree: bool, pet: str, hidden: str) -> Any:
        return f"{name}|{secret}|{count}|{agree}|{pet}|{hidden}", {"done": 1.0}

    return Interface(
        fn,
        [
            gr.Textbox("name", value="Ada", info="as on your passport", scale=2),
            gr.Textbox("secret", type="password", placeholder="a secret"),
            gr.Number("count", value=2, step=0.5, min_width=80),
            gr.Checkbox(label="agree", value=True, interactive=False),
            gr.Dropdown(["cat", "dog"], label="pet", value="dog", elem_id="pet"),
            gr.Textbox("hidden", value="kept", visible=False),
        ],
        [
            gr.Textbox("echo", value="nothing yet", show_label=False),
            gr.Label(label="verdict", value={"cat": 0.7, "dog": 0.3}),
        ],
        flagging_dir=flagging_dir,
        flagging_options=["good"],
    )


@pytest.mark.anyio
async def test_outputs_value_on_the_page_and_in_config(tmp_path: Path) -> None:
    iface = keyword_demo(tmp_path)
    transport = httpx.ASGITransport(app=iface.app())
    async with iface, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        config = (await client.get("/api/config")).json()
        page = (await client.get("/")).text
    assert [c.get("value") for c in config["inputs"]] == ["Ada", None, 2, True, "dog", "kept"]
    assert config["outputs"][1]["value"] == {"cat": 0.7, "dog": 0.3}
    start = page.index('id="initial-outputs">') + len('id="initial-outputs">')
    shown = json.loads(page[start : page.index("</script>", start)])
    assert shown[0] == "nothing yet"
    assert shown[1]["label"] == "cat"  # Label's value as the page shows it (Gradio's form)
    # a value cannot close the script element it travels in
    hostile = render_page(iface, initial_outputs=["</script><script>alert(1)</script>"])
    assert "</script><script>alert(1)" not in hostile


@pytest.mark.anyio
async def test_a_file_value_is_an_outputs_only_and_its_path_stays_on_the_server(
    tmp_path: Path,
) -> None:
    picture = tmp_path / "secret-folder" / "cat.png"
    picture.parent.mkdir()
    picture.write_bytes(PNG)
    iface = Interface(
        lambda image: image,
        gr.Image(value=str(picture), type="filepath"),
        gr.Image(value=str(picture)),
        flagging_dir=tmp_path / "flags",
    )
    transport = httpx.ASGITransport(app=iface.app())
    async with iface, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        config = (await client.get("/api/config")).json()
        page = (await client.get("/")).text
    assert "secret-folder" not in json.dumps(config) and "secret-folder" not in page
    assert "value" not in config["inputs"][0] and 'data-value="' not in page
    assert '"data:image/png;base64,' in page  # the output's value, shown as an image


ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    flagging_dir = tmp_path / "flags"
    with served_in_thread(keyword_demo(flagging_dir).app()) as url:
        yield url, flagging_dir


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_keywords_in_the_browser(served: tuple[str, Path]) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    url, flagging_dir = served
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(1000, 800) as p:
        p.goto(url + "/")
        # outputs' value= before the first prediction
        outputs = p.locator(".output")
        expect(outputs.nth(0)).to_have_text("nothing yet")
        expect(outputs.nth(1).locator(".label-top")).to_have_text("cat")
        expect(p.get_by_text("as on your passport")).to_be_visible()
        expect(p.locator("#in0")).to_have_value("Ada")
        expect(p.locator("#in1")).to_have_attribute("type", "password")
        expect(p.locator("#in2")).to_have_value("2")
        expect(p.locator("#in2")).to_have_attribute("step", "0.5")
        expect(p.locator("#in3")).to_be_checked()
        expect(p.locator("#in3")).to_be_disabled()  # interactive=False
        expect(p.locator("#in4")).to_have_value('"dog"')
        expect(p.locator("#in5")).to_be_hidden()  # visible=False
        # show_label=False: the label takes no room (screen readers still read it)
        box = p.locator("label", has_text="echo").bounding_box()
        assert box is not None and box["width"] <= 1 and box["height"] <= 1
        assert p.locator("label", has_text="secret").bounding_box()["width"] > 1  # type: ignore[index]
        p.screenshot(path=str(ARTIFACTS / "gradio-keywords-start.png"))
        p.fill("#in1", "s3cret")
        p.click("#submit")
        expect(outputs.nth(0)).to_have_text("Ada|s3cret|2|True|dog|kept")
        expect(outputs.nth(1).locator(".label-top")).to_have_text("done")
        p.click("text=good")
        expect(p.locator("#flag-status")).to_contain_text("1 flagged")
        p.screenshot(path=str(ARTIFACTS / "gradio-keywords.png"))
    with (flagging_dir / "dataset1.csv").open(newline="", encoding="utf-8") as file:
        row = list(csv.reader(file))[1]
    assert row[:6] == ["Ada", "s3cret", "2", "true", "dog", "kept"]


@pytest.mark.anyio
async def test_type_index_through_the_redis_transport(redis_url: str, tmp_path: Path) -> None:
    from asyncflag import RedisConsumer, RedisStream

    replica = Interface(
        lambda radio, boxes: f"{radio} {boxes}",
        [
            gr.Radio(CHOICES, type="index", label="radio", info="pick one", scale=2),
            gr.CheckboxGroup(CHOICES, type="index", label="boxes"),
        ],
        "text",
        transport=RedisStream(redis_url, stream="indexed"),
    )
    consumer = RedisConsumer(redis_url, stream="indexed", flagging_dir=tmp_path)
    async with consumer, replica:
        prediction = await replica.submit("dog", ["bird"])
        assert prediction.outputs[0] == "1 [2]"
        assert await replica.flag(prediction) == 1
    (row,) = load_flagged(tmp_path, replica.components)
    assert row.values == ("dog", ["bird"], "1 [2]")  # the consumer stores the values


MESSAGES = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_structured_input_values_read_back_unchanged(tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    iface = Interface(
        lambda data, chat: (data, chat),
        [gr.JSON(value={"a": [1, 2], "b": "x"}), gr.Chatbot(value=MESSAGES)],
        ["json", "chatbot"],
        flagging_dir=tmp_path,
        flagging_mode="auto",
    )
    with served_in_thread(iface.app()) as url, chromium_page(1000, 700) as p:
        p.goto(url + "/")
        p.click("#submit")  # the initial values, as the page holds them
        expect(p.locator(".output").nth(0)).to_contain_text('"b": "x"')
        expect(p.locator(".output").nth(1)).to_contain_text("hello")
        p.screenshot(path=str(ARTIFACTS / "gradio-keywords-structured.png"))
    (row,) = load_flagged(tmp_path, iface.components)
    assert row.values[:2] == ({"a": [1, 2], "b": "x"}, MESSAGES)
