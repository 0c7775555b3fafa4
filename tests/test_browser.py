"""A real browser against a real server: Debian's chromium, playwright, uvicorn on loopback.

Screenshots of each page are kept in ``test-artifacts/`` for a person to look at.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import CHROMIUM, DemoServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="needs Debian's chromium (.ci/run installs it)"
)
playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def manual_server(demo_server: DemoServer) -> Iterator[tuple[str, Path]]:
    with demo_server("manual") as served:
        yield served


@pytest.fixture
def auto_server(demo_server: DemoServer) -> Iterator[tuple[str, Path]]:
    with demo_server("auto") as served:
        yield served


@pytest.fixture
def page() -> Iterator[Page]:
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser.new_page(viewport={"width": 1000, "height": 700})
        finally:
            browser.close()


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_calculator_flag_as_wrong(manual_server: tuple[str, Path], page: Page) -> None:
    url, flagging_dir = manual_server
    p = page
    p.goto(url + "/")
    p.fill("#in0", "3")
    p.select_option("#in1", label="add")
    p.fill("#in2", "4")
    p.click("#submit")
    playwright_api.expect(p.locator(".output").first).to_have_text("7")
    p.click("text=Flag as wrong")
    status = p.locator("#flag-status")
    playwright_api.expect(status).to_contain_text("1 flagged")
    flag_button = p.locator("button.flag").first
    playwright_api.expect(flag_button).to_have_text("Flag as wrong ✓ saved (#1)")
    p.screenshot(path=str(ARTIFACTS / "calculator-manual.png"))
    rows = read_rows(flagging_dir / "dataset1.csv")
    assert rows[0][:4] == ["num1", "operation", "num2", "result"]
    assert rows[1][:5] == ["3", "add", "4", "7", "wrong"]


def test_auto_mode_page_has_no_flag_button(auto_server: tuple[str, Path], page: Page) -> None:
    url, flagging_dir = auto_server
    p = page
    p.goto(url + "/")
    assert p.locator("button.flag").count() == 0
    playwright_api.expect(p.locator("#auto-notice")).to_contain_text("logged automatically")
    p.fill("#in0", "6")
    p.select_option("#in1", label="multiply")
    p.fill("#in2", "7")
    p.click("#submit")
    playwright_api.expect(p.locator(".output").first).to_have_text("42")
    p.screenshot(path=str(ARTIFACTS / "calculator-auto.png"))
    deadline = time.monotonic() + 10
    while not (flagging_dir / "dataset1.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = read_rows(flagging_dir / "dataset1.csv")
    assert rows[1][:4] == ["6", "multiply", "7", "42"]


def test_image_upload_is_flagged_under_its_folder(
    manual_server: tuple[str, Path], page: Page, tmp_path: Path
) -> None:
    from PIL import Image

    url, flagging_dir = manual_server
    picture = tmp_path / "red.png"
    Image.new("RGB", (64, 48), "red").save(picture)
    p = page
    p.goto(url + "/image/")
    p.set_input_files("#in0", str(picture))
    p.click("#submit")
    playwright_api.expect(p.locator(".output img")).to_be_visible()
    p.click("text=Flag as ugly")
    playwright_api.expect(p.locator("#flag-status")).to_contain_text("1 flagged")
    p.screenshot(path=str(ARTIFACTS / "image-manual.png"))
    dataset = flagging_dir / "image-demo"
    row = read_rows(dataset / "dataset1.csv")[1]
    assert row[0].startswith("image/") and row[1].startswith("sepia/") and row[2] == "ugly"
    assert (dataset / row[0]).read_bytes() == picture.read_bytes()
    with Image.open(dataset / row[1]) as sepia:
        assert sepia.size == (64, 48)


def test_flag_after_an_error_cannot_save_the_previous_prediction(
    manual_server: tuple[str, Path], page: Page
) -> None:
    url, flagging_dir = manual_server
    p = page
    p.goto(url + "/")
    p.fill("#in0", "10")
    p.select_option("#in1", label="subtract")
    p.fill("#in2", "-3")
    p.click("#submit")
    output = p.locator(".output").first
    playwright_api.expect(output).to_have_text("13")
    p.click("text=Flag as wrong")
    flag_button = p.locator("button.flag").first
    playwright_api.expect(flag_button).to_have_text("Flag as wrong ✓ saved (#1)")

    p.fill("#in2", "")
    p.click("#submit")
    playwright_api.expect(p.locator("#error")).to_have_text("enter a number in num2")
    # The stale prediction is gone from the page and cannot be flagged any more.
    playwright_api.expect(output).to_have_text("")
    for index in range(p.locator("button.flag").count()):
        button = p.locator("button.flag").nth(index)
        playwright_api.expect(button).to_be_disabled()
        playwright_api.expect(button).not_to_contain_text("saved")
    playwright_api.expect(p.locator("#flag-status")).to_have_text("")
    p.screenshot(path=str(ARTIFACTS / "calculator-after-error.png"))
    # A click on a disabled button sends nothing (force: the browser ignores it).
    flag_button.click(force=True)
    p.wait_for_timeout(300)

    p.fill("#in2", "5")
    p.click("#submit")
    playwright_api.expect(output).to_have_text("5")
    playwright_api.expect(flag_button).to_have_text("Flag as wrong")
    playwright_api.expect(flag_button).to_be_enabled()
    rows = read_rows(flagging_dir / "dataset1.csv")
    assert [row[:5] for row in rows[1:]] == [["10", "subtract", "-3", "13", "wrong"]]


def test_a_double_click_on_a_flag_button_writes_one_row(
    manual_server: tuple[str, Path], page: Page
) -> None:
    url, flagging_dir = manual_server
    p = page
    p.goto(url + "/")
    p.fill("#in0", "2")
    p.select_option("#in1", label="multiply")
    p.fill("#in2", "21")
    p.click("#submit")
    playwright_api.expect(p.locator(".output").first).to_have_text("42")
    p.dblclick("text=Flag as other")
    playwright_api.expect(p.locator("#flag-status")).to_contain_text("1 flagged")
    p.wait_for_timeout(300)
    rows = read_rows(flagging_dir / "dataset1.csv")
    assert [row[:5] for row in rows[1:]] == [["2", "multiply", "21", "42", "other"]]


ATTACKER_PAGE = """<!doctype html><html><body>
<form id="plain" method="POST" enctype="text/plain" action="{target}/api/predict">
  <input name='{{"data": [1, "add", 2], "x": "' value='"}}'>
</form>
<form id="multi" method="POST" enctype="multipart/form-data" action="{target}/api/predict">
  <input name="data" value='[6, "multiply", 7]'>
</form>
</body></html>"""


def test_another_sites_forms_cannot_post_but_the_page_can(
    auto_server: tuple[str, Path], page: Page
) -> None:
    """A page on another origin submits forms to the API (text/plain JSON, multipart) with
    the browser's own headers: both are refused; then the server's page works as before."""
    url, flagging_dir = auto_server
    p = page
    evil = url.replace("127.0.0.1", "localhost") + "/evil.html"  # another origin, same machine
    p.route(
        evil,
        lambda route: route.fulfill(
            content_type="text/html", body=ATTACKER_PAGE.format(target=url)
        ),
    )
    for form in ("#plain", "#multi"):
        p.goto(evil)
        with p.expect_response(lambda r: r.url.endswith("/api/predict")) as answer:
            p.eval_on_selector(form, "form => form.submit()")
        response = answer.value
        assert response.status == 403, response.text()
        assert "cross-site request refused" in response.json()["error"]
    p.goto(url + "/")
    p.fill("#in0", "2")
    p.select_option("#in1", label="add")
    p.fill("#in2", "3")
    p.click("#submit")
    playwright_api.expect(p.locator(".output").first).to_have_text("5")
    deadline = time.monotonic() + 10
    while not (flagging_dir / "dataset1.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    # only the page's own submission was logged; neither form reached the model
    assert [row[:4] for row in read_rows(flagging_dir / "dataset1.csv")[1:]] == [
        ["2", "add", "3", "5"]
    ]
