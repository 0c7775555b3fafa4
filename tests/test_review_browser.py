"""The review page (``/flagged``) in a real browser: Debian's chromium, playwright, uvicorn
on loopback, over a folder holding every component type and hostile text.

Screenshots are kept in ``test-artifacts/`` for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest
from conftest import CHROMIUM, chromium_page, served_in_thread
from test_review import HOSTILE_OPTION, HOSTILE_USER, RTL_OPTION, every_component, flag_rows

if TYPE_CHECKING:
    from playwright.sync_api import Dialog

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="needs Debian's chromium (.ci/run installs it)"
)
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def test_review_page_shows_each_component_and_filters(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    folder = tmp_path / "flagged"
    anyio.run(flag_rows, every_component(folder))
    iface = every_component(folder)
    problems: list[str] = []
    with served_in_thread(iface.app(review=True)) as url, chromium_page(1100, 900) as page:
        # a CSP violation, a script error or an alert() run from the data all show here
        page.on(
            "console",
            lambda m: problems.append(f"{m.text} {m.location}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: problems.append(str(e)))

        def on_dialog(dialog: Dialog) -> None:
            problems.append("dialog: " + dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(url + "/flagged")
        rows = page.locator("article.row")
        expect(rows).to_have_count(4)
        newest = rows.first
        expect(newest.locator(".meta .flag")).to_have_text("wrong")
        expect(newest.locator(".meta .user")).to_have_text("by bob")
        # each value shown by its component's own script
        expect(newest.locator(".output[data-type=label] .label-row")).to_have_count(2)
        expect(newest.locator(".output[data-type=dataframe] table")).to_have_count(1)
        expect(newest.locator(".output[data-type=highlightedtext] mark")).not_to_have_count(0)
        image = newest.locator(".output[data-type=image] img")
        expect(image).to_have_count(1)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.output[data-type=image] img')]"
            ".every(img => img.complete && img.naturalWidth === 4)"
        )
        expect(newest.locator(".output[data-type=gallery] figcaption")).to_have_text("a caption")
        expect(newest.locator(".output[data-type=audio] audio")).to_have_count(1)
        expect(newest.locator(".files a")).to_have_count(5)
        # hostile text is text
        expect(rows.nth(2).locator(".meta .flag")).to_have_text(HOSTILE_OPTION)
        expect(rows.nth(2).locator(".meta .user")).to_have_text("by " + HOSTILE_USER)
        # control and bidi characters as escapes: nothing reversed or hidden
        assert RTL_OPTION == "\u202eevil\x1b[2J"
        expect(rows.nth(1).locator(".meta .flag")).to_have_text("\\u202eevil\\u001b[2J")
        expect(page.locator("#counts")).to_contain_text("\\u202eevil\\x1b[2J: 1")
        page.screenshot(path=str(ARTIFACTS / "review-page.png"), full_page=False)
        # filter by a count's link, then by the form
        page.locator("#counts a", has_text=HOSTILE_OPTION).click()
        expect(rows).to_have_count(1)
        expect(rows.first.locator(".meta .flag")).to_have_text(HOSTILE_OPTION)
        page.goto(url + "/flagged")
        page.fill("input[name=user]", "alice")
        page.click("#filters button")
        expect(rows).to_have_count(2)
        page.select_option("select[name=option]", "wrong")
        page.click("#filters button")
        expect(rows).to_have_count(1)
        expect(rows.first.locator(".output").first).to_have_text("first")
        page.screenshot(path=str(ARTIFACTS / "review-filtered.png"), full_page=False)
        with page.expect_download() as download:
            page.click("#csv")
        saved = download.value.path()
        assert saved is not None
        text = Path(saved).read_text(encoding="utf-8")
        assert text.count("\n") == 2 and "first" in text
    # the app has no favicon: the browser's request for it is not the page's doing
    assert [p for p in problems if "/favicon.ico" not in p] == []


def test_review_page_at_phone_width(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    folder = tmp_path / "flagged"
    anyio.run(flag_rows, every_component(folder))
    with (
        served_in_thread(every_component(folder).app(review=True)) as url,
        chromium_page(390, 800) as page,
    ):
        page.goto(url + "/flagged")
        expect(page.locator("article.row")).to_have_count(4)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways: {width}px wide"
        page.screenshot(path=str(ARTIFACTS / "review-phone.png"), full_page=False)
