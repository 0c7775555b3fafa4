"""The page in a real browser (Debian's chromium): the running indicator, errors beside
the outputs, Clear, Enter, the examples table, previews, the phone-width layout and the
demos' links. Screenshots go to ``test-artifacts/`` for a person to look at."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import CHROMIUM, DemoServer, chromium_page, served_in_thread

import asyncflag
from asyncflag import FlaggingCallback, Interface, components

if TYPE_CHECKING:
    from playwright.sync_api import FilePayload, Page

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TINY_PNG = Path(__file__).resolve().parent / "fixtures" / "gradio" / "media" / "tiny.png"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="needs Debian's chromium (.ci/run installs it)"
)
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture
def page() -> Iterator[Page]:
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(1000, 760) as page:
        yield page


def greeter(gate: threading.Event, tmp_path: Path) -> Interface:
    def greet(times: float | None, name: str, loud: bool) -> str:
        if name == "error":
            raise asyncflag.Error("the name <b>error</b> is not allowed")
        if name == "boom":
            raise RuntimeError("a secret detail")
        gate.wait(timeout=60)
        text = " ".join([f"hello {name}"] * int(times or 1))
        return text.upper() if loud else text

    return Interface(
        greet,
        [components.Number(label="times"), components.Textbox(label="name"), "checkbox"],
        components.Textbox(label="greeting"),
        examples=[[2, "ann", True], [1, "bob", False]],
        flagging_dir=tmp_path,
        title="Greeter",
    )


def test_running_errors_clear_enter_examples(tmp_path: Path, page: Page) -> None:
    gate = threading.Event()
    with served_in_thread(greeter(gate, tmp_path).app()) as url:
        p = page
        p.goto(url + "/")
        # the examples table fills the inputs
        rows = p.locator("#examples tbody tr")
        expect(rows).to_have_count(2)
        rows.first.click()
        expect(p.locator("#in0")).to_have_value("2")
        expect(p.locator("#in1")).to_have_value("ann")
        expect(p.locator("#in2")).to_be_checked()
        # Enter in the one-line text box submits; while fn runs: indicator, Submit disabled
        p.press("#in1", "Enter")
        expect(p.locator("#progress")).to_be_visible()
        expect(p.locator("#submit")).to_be_disabled()
        p.screenshot(path=str(ARTIFACTS / "page-running.png"))
        gate.set()
        output = p.locator(".output").first
        expect(output).to_have_text("HELLO ANN HELLO ANN")
        expect(p.locator("#progress")).to_be_hidden()
        expect(p.locator("#submit")).to_be_enabled()
        # Enter in a number input submits too; an asyncflag.Error is shown verbatim,
        # in the outputs' column, and the last output is gone
        rows.nth(1).click()
        p.fill("#in1", "error")
        p.press("#in0", "Enter")
        error = p.locator("#results #error")
        expect(error).to_have_text("the name <b>error</b> is not allowed")
        expect(output).to_have_text("")
        expect(p.locator("button.flag").first).to_be_disabled()
        p.screenshot(path=str(ARTIFACTS / "page-error.png"))
        # any other exception: a generic message with a request id, not its text
        p.fill("#in1", "boom")
        p.click("#submit")
        expect(error).to_contain_text("request id")
        assert "secret" not in error.inner_text()
        # Clear: inputs back to their first state, no error, no output
        p.click("#clear")
        expect(p.locator("#in0")).to_have_value("")
        expect(p.locator("#in1")).to_have_value("")
        expect(p.locator("#in2")).not_to_be_checked()
        expect(error).to_have_text("")
        # the checkbox sits at the left of its field, under its label
        box = p.locator("#in2").bounding_box()
        label = p.locator("label[for=in2]").bounding_box()
        assert box is not None and label is not None
        assert abs(box["x"] - label["x"]) <= 2 and box["width"] <= 24


def test_phone_width_stacks(tmp_path: Path) -> None:
    gate = threading.Event()
    gate.set()
    with (
        served_in_thread(greeter(gate, tmp_path).app()) as url,
        chromium_page(390, 844) as p,
    ):
        ARTIFACTS.mkdir(exist_ok=True)
        p.goto(url + "/")
        p.fill("#in1", "a rather long name to show the layout")
        p.click("#submit")
        expect(p.locator(".output").first).to_contain_text("hello a rather")
        p.screenshot(path=str(ARTIFACTS / "page-390.png"), full_page=True)
        # one column: the outputs come under the inputs, and nothing is wider than the screen
        form = p.locator("#inputs").bounding_box()
        results = p.locator("#results").bounding_box()
        assert form is not None and results is not None
        assert results["y"] >= form["y"] + form["height"]
        assert p.evaluate("document.documentElement.scrollWidth") <= 390


def test_audio_and_video_inputs_preview_the_chosen_file(tmp_path: Path, page: Page) -> None:
    def describe(sound: object, film: object) -> str:
        return "ok"  # pragma: no cover - not submitted here

    iface = Interface(
        describe, [components.Audio(), components.Video()], "text", flagging_dir=tmp_path
    )
    with served_in_thread(iface.app()) as url:
        page.goto(url + "/")
        for index, kind, mime in ((0, "audio", "audio/wav"), (1, "video", "video/mp4")):
            preview = page.locator(f"#in{index} + {kind}.preview")
            expect(preview).to_be_hidden()
            payload: FilePayload = {"name": f"x.{kind}", "mimeType": mime, "buffer": b"0"}
            page.set_input_files(f"#in{index}", files=[payload])
            expect(preview).to_be_visible()
            assert (preview.get_attribute("src") or "").startswith("blob:")
            page.click("#clear")
            expect(preview).to_be_hidden()


def test_demo_pages_link_to_each_other(demo_server: DemoServer, page: Page) -> None:
    with demo_server("manual") as (url, _):
        page.goto(url + "/")
        nav = page.locator("nav.demos a")
        expect(nav).to_have_text(["Calculator", "Sepia image", "Chat"])
        page.click("nav.demos >> text=Sepia image")
        expect(page.locator("h1")).to_have_text("Sepia")
        page.click("nav.demos >> text=Chat")
        expect(page).to_have_url(url + "/chat/")
        expect(page.locator("h1")).to_have_text("Rule-based chat")


class FullDisk(FlaggingCallback):
    """Every row fails, as on a full disk."""

    def setup(self, components: Sequence[Any], flagging_dir: str) -> None:
        pass

    def flag(
        self, flag_data: Sequence[Any], flag_option: str | None = None, username: str | None = None
    ) -> int:
        raise OSError(28, "No space left on device")


def test_auto_mode_write_failures_show_on_the_page(page: Page) -> None:
    iface = Interface(
        lambda text: text, "text", "text", flagging_mode="auto", flagging_callback=FullDisk()
    )
    with served_in_thread(iface.app()) as url:
        page.goto(url + "/")
        notice = page.locator("#health-notice")
        expect(notice).to_be_hidden()
        page.fill("#in0", "hello")
        page.click("#submit")
        expect(page.locator(".output").first).to_have_text("hello")
        # the row fails after the answer: the next health check (load, submit) shows it
        while iface.stats.failed < 1:
            time.sleep(0.01)
        page.reload()
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("Flagged data is not being saved")
        expect(notice).to_contain_text("No space left on device")
        page.screenshot(path=str(ARTIFACTS / "page-health.png"))


def test_clear_restores_every_kind_of_input(tmp_path: Path, page: Page) -> None:
    """Clear puts each input back as the page first showed it: a radio's value=, a
    slider's, a table's cells, and no image chosen (nor its preview)."""

    def four(choice: str, amount: float, picture: object, table: object) -> str:
        return "ok"  # pragma: no cover - not submitted here

    iface = Interface(
        four,
        [
            components.Radio(["a", "b"], value="a", label="choice"),
            components.Slider(0, 10, value=3, step=1, label="amount"),
            components.Image(label="picture"),
            components.Dataframe([[1, 2]], headers=["x", "y"], type="array", label="table"),
        ],
        "text",
        flagging_dir=tmp_path,
    )
    read_all = """() => Array.from(document.querySelectorAll("#inputs [data-index]"),
        el => { const v = asyncflag.read(el); return v instanceof Blob ? "blob" : v; })"""
    with served_in_thread(iface.app()) as url:
        page.goto(url + "/")
        first = page.evaluate(read_all)
        assert first == ["a", 3, None, {"headers": ["x", "y"], "data": [[1, 2]]}]
        page.check("text=b")
        page.fill("#in1", "7")
        page.set_input_files("#in2", str(TINY_PNG))
        expect(page.locator("#in2 + img.preview")).to_be_visible()
        cell = page.locator("table.dataframe td").first
        cell.click()
        page.keyboard.type("9")
        changed = page.evaluate(read_all)
        assert changed != first
        page.click("#clear")
        assert page.evaluate(read_all) == first
        expect(page.locator("#in2 + img.preview")).to_be_hidden()
        expect(page.locator("table.dataframe")).to_have_count(1)


def test_an_image_example_fills_the_file_input(tmp_path: Path, page: Page) -> None:
    def size(picture: Any) -> str:
        return "x".join(map(str, picture.shape))

    iface = Interface(
        size,
        components.Image(label="picture"),
        "text",
        examples=[[str(TINY_PNG)]],
        flagging_dir=tmp_path,
    )
    with served_in_thread(iface.app()) as url:
        page.goto(url + "/")
        page.click("#examples tbody tr")
        expect(page.locator("#in0 + img.preview")).to_be_visible()
        page.click("#submit")
        expect(page.locator(".output").first).to_have_text("2x2x3")
