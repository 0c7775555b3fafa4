"""The chat page in a real browser: Debian's chromium, playwright, uvicorn on loopback.

Screenshots are kept in ``test-artifacts/`` for a person to look at.
"""

from __future__ import annotations

import csv
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import CHROMIUM, chromium_page, served_in_thread

from asyncflag import ChatInterface

if TYPE_CHECKING:
    from playwright.sync_api import Page

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="needs Debian's chromium (.ci/run installs it)"
)
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


class Bot:
    """Replies in two steps; the reply to "hello" waits between them until released, so
    the test sees the stream on the page before the reply ends. "boom" fails."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, message: str, history: list[dict[str, str]]) -> Iterator[str]:
        if message == "boom":
            raise RuntimeError("the model crashed")
        yield "Let me think"
        if message == "hello":
            self.release.wait(30)
        yield f"Let me think... you said: {message}"


@pytest.fixture
def bot() -> Iterator[Bot]:
    bot = Bot()
    try:
        yield bot
    finally:
        bot.release.set()  # never leave a worker thread waiting


@pytest.fixture
def served(tmp_path: Path, bot: Bot) -> Iterator[tuple[str, Path]]:
    chat = ChatInterface(
        bot,
        flagging_mode="manual",
        flagging_options=["Like", "Dislike", "Inaccurate"],
        flagging_dir=tmp_path,
        title="Test chat",
    )
    with served_in_thread(chat.app()) as url:
        yield url, tmp_path


@pytest.fixture
def page() -> Iterator[Page]:
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(1000, 760) as page:
        yield page


def flags(flagging_dir: Path) -> list[tuple[str, str]]:
    """(flag, comment) of each row of the chat dataset."""
    path = flagging_dir / "dataset1.csv"
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as file:
        header, *rows = list(csv.reader(file))
    return [(row[header.index("flag")], row[header.index("comment")]) for row in rows]


def test_chat_streams_then_takes_feedback_that_a_reload_shows(
    served: tuple[str, Path], bot: Bot, page: Page
) -> None:
    url, flagging_dir = served
    page.goto(url + "/")
    expect(page.locator("h1")).to_have_text("Test chat")
    page.fill("#message", "hello")
    page.press("#message", "Enter")
    reply = page.locator(".turn.assistant .bubble").first
    # the first step is on the page while the reply is still being generated
    expect(reply).to_have_text("Let me think")
    expect(reply).to_have_class("bubble streaming")
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("#status")).to_have_text("The assistant is replying…")
    expect(page.locator(".turn.user .bubble")).to_have_text("hello")
    assert page.locator(".feedback").count() == 0  # no feedback on a reply still coming
    page.screenshot(path=str(ARTIFACTS / "chat-streaming.png"))
    bot.release.set()
    expect(reply).to_have_text("Let me think... you said: hello")
    expect(reply).to_have_class("bubble")
    expect(page.locator("#send")).to_be_enabled()
    bar = page.locator(".feedback").first
    like, dislike = (
        bar.locator("button[aria-label=Like]"),
        bar.locator("button[aria-label=Dislike]"),
    )
    note = bar.locator("[role=status]")

    like.click()
    expect(note).to_have_text("Saved")
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(dislike).to_have_attribute("aria-pressed", "false")
    assert flags(flagging_dir) == [("Like", "")]

    bar.locator("button.comment").click()
    bar.locator(".comment-box textarea").fill("Short, but right =1+1 ✓")
    page.screenshot(path=str(ARTIFACTS / "chat-comment.png"))
    bar.locator("button.save-comment").click()
    expect(bar.locator("button.comment")).to_have_text("Edit comment")
    expect(bar.locator(".comment-box")).to_be_hidden()
    assert flags(flagging_dir)[-1] == ("Like", "Short, but right =1+1 ✓")

    bar.locator("button.flag-menu").click()
    menu_item = bar.locator(".menu button", has_text="Inaccurate")
    expect(menu_item).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "chat-flag-menu.png"))
    menu_item.click()
    expect(bar.locator(".chosen")).to_have_text("⚑ Flag as Inaccurate")
    expect(like).to_have_attribute("aria-pressed", "false")
    assert flags(flagging_dir)[-1] == ("Inaccurate", "")

    bar.locator("button.undo").click()
    expect(note).to_have_text("Withdrawn")
    expect(bar.locator(".chosen")).to_have_text("")
    expect(bar.locator("button.undo")).to_be_hidden()
    assert flags(flagging_dir)[-1] == ("", "")

    dislike.click()
    expect(dislike).to_have_attribute("aria-pressed", "true")
    assert flags(flagging_dir)[-1] == ("Dislike", "")
    # pressed again, a thumb takes its feedback back (as in Gradio)
    dislike.click()
    expect(dislike).to_have_attribute("aria-pressed", "false")
    dislike.click()
    expect(note).to_have_text("Saved")
    assert [flag for flag, _ in flags(flagging_dir)] == [
        "Like", "Like", "Inaccurate", "", "Dislike", "", "Dislike",
    ]  # fmt: skip

    page.reload()
    expect(page.locator(".turn.user .bubble")).to_have_text("hello")
    bar = page.locator(".feedback").first
    expect(page.locator(".turn.assistant .bubble")).to_have_text("Let me think... you said: hello")
    expect(bar.locator("button[aria-label=Dislike]")).to_have_attribute("aria-pressed", "true")
    expect(bar.locator("button[aria-label=Like]")).to_have_attribute("aria-pressed", "false")
    expect(bar.locator("button.undo")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "chat-reloaded.png"))

    # the conversation goes on after the reload; a failure shows in the conversation
    page.fill("#message", "boom")
    page.click("#send")
    error = page.locator(".chat-error")
    expect(error).to_have_text("the reply failed: the chat function raised RuntimeError")
    expect(page.locator("#send")).to_be_enabled()
    page.fill("#message", "second")
    page.press("#message", "Enter")
    expect(page.locator(".turn.assistant .bubble").last).to_have_text(
        "Let me think... you said: second"
    )
    expect(page.locator(".feedback")).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "chat-desktop.png"))

    page.set_viewport_size({"width": 390, "height": 760})
    expect(page.locator("#send")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide at 390px: it scrolls sideways"
    page.screenshot(path=str(ARTIFACTS / "chat-390px.png"))

    page.click("#new")
    expect(page.locator("#empty")).to_be_visible()
    page.reload()
    expect(page.locator("#empty")).to_be_visible()  # a new conversation replaced the old


def test_a_forgotten_conversation_starts_anew(served: tuple[str, Path], page: Page) -> None:
    url, _ = served
    page.goto(url + "/")
    page.evaluate("localStorage.setItem('asyncflag-chat:/', 'forgotten')")
    page.reload()
    expect(page.locator("#status")).to_contain_text("no longer on the server")
    page.fill("#message", "again")
    page.press("#message", "Enter")
    expect(page.locator(".turn.assistant .bubble")).to_have_text("Let me think... you said: again")
    assert page.evaluate("localStorage.getItem('asyncflag-chat:/')") != "forgotten"


def test_a_double_click_or_a_retried_request_saves_one_row(
    served: tuple[str, Path], bot: Bot, page: Page
) -> None:
    from playwright.sync_api import Route

    url, flagging_dir = served
    bot.release.set()
    page.goto(url + "/")
    page.fill("#message", "hello")
    page.press("#message", "Enter")
    bar = page.locator(".feedback").first
    like, dislike = (
        bar.locator("button[aria-label=Like]"),
        bar.locator("button[aria-label=Dislike]"),
    )
    note = bar.locator("[role=status]")
    like.dblclick()
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(note).to_have_text("Saved")
    assert flags(flagging_dir) == [("Like", "")]

    # The answer to the next click is lost on its way back (the row is written): the page
    # says it failed, the user clicks again, and the retry is saved once.
    lost: list[int] = []

    def lose_the_first_answer(route: Route) -> None:
        if lost:
            route.continue_()
            return
        lost.append(route.fetch().status)
        route.abort()

    page.route("**/api/feedback", lose_the_first_answer)
    dislike.click()
    expect(note).to_have_class("failed")
    expect(dislike).to_have_attribute("aria-pressed", "false")
    assert lost == [200] and flags(flagging_dir) == [("Like", ""), ("Dislike", "")]
    dislike.click()
    expect(note).to_have_text("Saved")
    expect(dislike).to_have_attribute("aria-pressed", "true")
    assert flags(flagging_dir) == [("Like", ""), ("Dislike", "")]
    # a later change of mind is a new action, saved again
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    assert flags(flagging_dir)[-1] == ("Like", "")


def test_additional_inputs_and_auto_mode(tmp_path: Path, page: Page) -> None:
    from asyncflag import Dropdown, Slider

    def styled(message: str, history: list[dict[str, str]], tone: str, stars: int) -> str:
        return f"[{tone}, {stars}] {message}"

    chat = ChatInterface(
        styled,
        additional_inputs=[
            Dropdown(["formal", "casual"], label="tone"),
            Slider(1, 5, step=1, precision=0, label="stars"),
        ],
        flagging_mode="auto",
        flagging_dir=tmp_path,
        description="Every reply is logged.",
    )
    with served_in_thread(chat.app()) as url:
        page.set_viewport_size({"width": 390, "height": 760})
        page.goto(url + "/")
        expect(page.locator("#notice")).to_have_text(
            "Every exchange in this chat is logged for review."
        )
        page.click("#additional summary")
        page.select_option("#in0", "casual")
        page.fill("#message", "hi")
        page.press("#message", "Enter")
        expect(page.locator(".turn.assistant .bubble")).to_have_text("[casual, 1] hi")
        expect(page.locator(".feedback button[aria-label=Like]")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width}px wide at 390px: it scrolls sideways"
        page.screenshot(path=str(ARTIFACTS / "chat-additional-inputs-390px.png"))
    with (tmp_path / "dataset1.csv").open(newline="", encoding="utf-8") as file:
        header, row = list(csv.reader(file))
    assert header[2:4] == ["tone", "stars"] and row[2:4] == ["casual", "1"]
