"""The chat page's server (asyncflag.chat_web) through httpx's ASGI transport and a real
uvicorn, on asyncio and trio: streaming, feedback, undo, reload, and the protections."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from conftest import served_in_thread

from asyncflag import ChatInterface, Dropdown, Textbox, load_flagged
from asyncflag.demos import chat_demo_app

pytestmark = pytest.mark.anyio


async def echo(message: str, history: list[dict[str, str]]) -> AsyncIterator[str]:
    """Streams "You said: <message>" a word at a time (each step the whole text so far)."""
    words = f"You said: {message}".split(" ")
    for end in range(1, len(words) + 1):
        yield " ".join(words[:end])


def chat_for(flagging_dir: Path, fn: Any = echo, **kwargs: Any) -> ChatInterface:
    kwargs.setdefault("flagging_mode", "manual")
    kwargs.setdefault("flagging_options", ["Like", "Dislike", "Inaccurate"])
    return ChatInterface(fn, flagging_dir=flagging_dir, **kwargs)


async def client_for(chat: ChatInterface, **app_kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        chat,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=chat.app(**app_kwargs)), base_url="http://test"
        ) as client,
    ):
        yield client


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(chat_for(tmp_path)):
        yield client


def events(body: str) -> list[tuple[str, Any]]:
    """The Server-Sent Events of a text/event-stream body: (event name, JSON data)."""
    found = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        found.append((fields["event"], json.loads(fields["data"])))
    return found


def texts(updates: list[tuple[str, Any]]) -> list[str]:
    """The reply after each update event: its ``content``, or the text so far + ``append``."""
    found: list[str] = []
    for name, data in updates:
        if name == "update":
            found.append(data["content"] if "content" in data else found[-1] + data["append"])
    return found


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


async def start(client: httpx.AsyncClient, **kwargs: Any) -> str:
    response = await client.post("/api/start", **kwargs)
    assert response.status_code == 200, response.text
    conversation_id = response.json()["conversation_id"]
    assert isinstance(conversation_id, str)
    return conversation_id


async def say(
    client: httpx.AsyncClient, conversation_id: str, message: str, **kwargs: Any
) -> list[tuple[str, Any]]:
    payload = {"conversation_id": conversation_id, "message": message, **kwargs.pop("json", {})}
    response = await client.post("/api/send", json=payload, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    return events(response.text)


async def reply_id(client: httpx.AsyncClient, conversation_id: str, message: str) -> str:
    updates = await say(client, conversation_id, message)
    name, last = updates[-1]
    assert name == "update" and last["done"]
    return str(last["message_id"])


# -- streaming ------------------------------------------------------------------------


async def test_send_streams_one_event_per_update(client: httpx.AsyncClient) -> None:
    conversation_id = await start(client)
    updates = await say(client, conversation_id, "hello there")
    assert [name for name, _ in updates] == ["update"] * 5
    assert [data.get("content") for _, data in updates] == ["You", None, None, None, None]
    assert [data.get("append") for _, data in updates[1:]] == [" said:", " hello", " there", ""]
    assert texts(updates) == [
        "You",
        "You said:",
        "You said: hello",
        "You said: hello there",
        "You said: hello there",
    ]
    assert [data["done"] for _, data in updates] == [False] * 4 + [True]
    assert {data["index"] for _, data in updates} == {1}
    assert len({data["message_id"] for _, data in updates}) == 1
    history = (await client.get(f"/api/conversation/{conversation_id}")).json()
    assert history["messages"] == [
        {"role": "user", "content": "hello there"},
        {
            "role": "assistant",
            "content": "You said: hello there",
            "message_id": updates[-1][1]["message_id"],
        },
    ]
    assert history["feedback"] == {}


async def test_a_long_reply_in_many_steps_costs_its_length_on_the_wire(tmp_path: Path) -> None:
    """Each step sends only what it adds: 2,000 steps of a 98,000-character reply take
    about 0.3 MB, where sending the whole text each time would take 98 MB."""
    chunk = "x" * 48 + " "

    async def verbose(message: str, history: list[dict[str, str]]) -> AsyncIterator[str]:
        for step in range(1, 2001):
            yield chunk * step

    async for client in client_for(chat_for(tmp_path, verbose)):
        response = await client.post(
            "/api/send", json={"conversation_id": await start(client), "message": "go"}
        )
        updates = events(response.text)
        assert len(updates) == 2001 and texts(updates)[-1] == chunk * 2000
        assert len(response.content) < 1_000_000

    # a step that rewrites the text (not only adds to it) sends it whole
    async def rewriting(message: str, history: list[dict[str, str]]) -> AsyncIterator[str]:
        yield "draft"
        yield "final"

    async for client in client_for(chat_for(tmp_path, rewriting)):
        updates = await say(client, await start(client), "go")
        assert [data.get("content") for _, data in updates] == ["draft", "final", None]
        assert texts(updates) == ["draft", "final", "final"]


async def test_a_failing_function_ends_the_stream_with_an_error_event(tmp_path: Path) -> None:
    async def broken(message: str, history: list[dict[str, str]]) -> AsyncIterator[str]:
        yield "Thinking"
        raise RuntimeError("the database password is hunter2")

    async for client in client_for(chat_for(tmp_path, broken)):
        conversation_id = await start(client)
        updates = await say(client, conversation_id, "hi")
        assert updates[0] == ("update", {**updates[0][1], "content": "Thinking", "done": False})
        name, error = updates[-1]
        assert name == "error" and error["status"] == 500
        assert error["error"] == "the reply failed: the chat function raised RuntimeError"
        assert "hunter2" not in json.dumps(updates)
        # the user's message stays in the conversation (ChatInterface's rule, as Gradio)
        history = (await client.get(f"/api/conversation/{conversation_id}")).json()
        assert history["messages"][0] == {"role": "user", "content": "hi"}


async def test_a_reply_that_is_not_text_is_explained(tmp_path: Path) -> None:
    async def numbers(message: str, history: list[dict[str, str]]) -> int:
        return 42

    async for client in client_for(chat_for(tmp_path, numbers)):
        name, error = (await say(client, await start(client), "hi"))[-1]
        assert name == "error" and error["status"] == 500
        assert "must return (or yield) the reply as text, got int" in error["error"]


async def test_a_second_message_while_a_reply_streams_is_refused(tmp_path: Path) -> None:
    release = anyio.Event()
    started = anyio.Event()

    async def slow(message: str, history: list[dict[str, str]]) -> AsyncIterator[str]:
        yield "one"
        started.set()
        await release.wait()
        yield "one two"

    async for client in client_for(chat_for(tmp_path, slow)):
        conversation_id = await start(client)
        first: list[tuple[str, Any]] = []

        async def first_message(
            client: httpx.AsyncClient, conversation_id: str, into: list[tuple[str, Any]]
        ) -> None:
            into.extend(await say(client, conversation_id, "first"))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(first_message, client, conversation_id, first)
            await started.wait()
            second = await say(client, conversation_id, "second")
            release.set()
        assert second == [("error", {"error": second[0][1]["error"], "status": 409})]
        assert "still coming" in second[0][1]["error"]
        assert texts(first)[-1] == "one two" and first[-1][1]["done"]


async def test_additional_inputs_reach_fn_and_the_row(tmp_path: Path) -> None:
    def styled(message: str, history: list[dict[str, str]], style: str, name: str) -> str:
        return f"[{style}] {message}, {name}"

    chat = chat_for(
        tmp_path,
        styled,
        additional_inputs=[Dropdown(["plain", "loud"], label="style"), Textbox(label="name")],
    )
    async for client in client_for(chat):
        config = (await client.get("/api/config")).json()
        assert [c["label"] for c in config["additional_inputs"]] == ["style", "name"]
        page = (await client.get("/")).text
        assert 'id="in0"' in page and 'id="in1"' in page and "Additional inputs" in page
        conversation_id = await start(client)
        updates = await say(client, conversation_id, "hi", json={"data": ["loud", "Ada"]})
        assert texts(updates)[-1] == "[loud] hi, Ada"
        message_id = updates[-1][1]["message_id"]
        response = await client.post(
            "/api/feedback", json={"message_id": message_id, "value": "Like"}
        )
        assert response.json() == {"count": 1}
        bad = await client.post(
            "/api/send",
            json={"conversation_id": conversation_id, "message": "x", "data": ["shouty", "Ada"]},
        )
        assert bad.status_code == 400 and "'shouty' is not one of the choices" in bad.text
    header, row = rows(tmp_path / "dataset1.csv")
    assert header[2:4] == ["style", "name"] and row[2:4] == ["loud", "Ada"]


# -- feedback -------------------------------------------------------------------------


async def test_like_change_comment_undo_and_the_state_for_a_reload(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    conversation_id = await start(client)
    message_id = await reply_id(client, conversation_id, "hello")

    async def give(**payload: Any) -> Any:
        response = await client.post("/api/feedback", json={"message_id": message_id, **payload})
        assert response.status_code == 200, response.text
        return response.json()

    assert await give(value="Like") == {"count": 1}
    assert await give(value="Dislike", comment="too short") == {"count": 2}
    assert await give(value="Inaccurate", comment="") == {"count": 3}
    state = (await client.get(f"/api/conversation/{conversation_id}")).json()["feedback"]
    assert state.keys() == {"1"}
    assert state["1"]["value"] == "Inaccurate" and state["1"]["comment"] is None
    assert await give(value="Dislike", comment="too short ✓ =1+1") == {"count": 4}
    state = (await client.get(f"/api/conversation/{conversation_id}")).json()["feedback"]
    assert state["1"]["value"] == "Dislike" and state["1"]["comment"] == "too short ✓ =1+1"
    undone = await client.post("/api/undo", json={"message_id": message_id})
    assert undone.json() == {"count": 5}
    assert (await client.get(f"/api/conversation/{conversation_id}")).json()["feedback"] == {}
    # the files: append-only; load_flagged gives the current state (nothing), or every row
    data = rows(tmp_path / "dataset1.csv")
    assert data[0] == ["conversation", "index", "comment", "feedback_id", "flag", "username",
                       "timestamp"]  # fmt: skip
    assert [row[4] for row in data[1:]] == ["Like", "Dislike", "Inaccurate", "Dislike", ""]
    assert len({row[3] for row in data[1:]}) == 1
    assert load_flagged(tmp_path) == []
    assert len(load_flagged(tmp_path, history=True)) == 5


async def test_a_repeated_key_saves_one_row(client: httpx.AsyncClient, tmp_path: Path) -> None:
    conversation_id = await start(client)
    message_id = await reply_id(client, conversation_id, "hello")
    payload = {"message_id": message_id, "value": "Like", "key": f"{message_id}:like:none"}
    answers: list[Any] = []

    async def click() -> None:
        answers.append((await client.post("/api/feedback", json=payload)).json())

    async with anyio.create_task_group() as tasks:
        for _ in range(100):
            tasks.start_soon(click)
    assert answers == [{"count": 1}] * 100
    assert len(rows(tmp_path / "dataset1.csv")) == 2
    # a new key is a new action: the same value again writes again
    again = await client.post("/api/feedback", json={**payload, "key": "other"})
    assert again.json() == {"count": 2}


async def test_feedback_mistakes_are_4xx(client: httpx.AsyncClient, tmp_path: Path) -> None:
    conversation_id = await start(client)
    message_id = await reply_id(client, conversation_id, "hello")
    cases: list[tuple[str, Any, int, str]] = [
        ("/api/feedback", {"message_id": message_id, "value": "Love"}, 400, "is not one of"),
        ("/api/feedback", {"message_id": message_id, "value": 1}, 400, '"value" must be'),
        ("/api/feedback", {"message_id": message_id}, 400, '"value" must be'),
        ("/api/feedback", {"value": "Like"}, 400, '"message_id" must be'),
        ("/api/feedback", {"message_id": message_id, "value": "Like", "comment": 3}, 400,
         '"comment" must be'),
        ("/api/feedback", {"message_id": message_id, "value": "Like", "comment": "x" * 10_001},
         400, "over the limit of 10,000"),
        ("/api/feedback", {"message_id": message_id, "value": "Like", "key": 7}, 400,
         '"key" must be'),
        ("/api/feedback", {"message_id": message_id, "value": "Like", "key": "k" * 201}, 400,
         "at most 200"),
        ("/api/feedback", {"message_id": f"{conversation_id}:0", "value": "Like"}, 404,
         "not an assistant reply"),
        ("/api/feedback", {"message_id": "nope:1", "value": "Like"}, 404, "no conversation"),
        ("/api/feedback", ["Like"], 400, "expected a JSON object"),
        ("/api/undo", {"message_id": message_id}, 400, "no feedback on message 1 to undo"),
        ("/api/undo", {}, 400, '"message_id" must be'),
    ]  # fmt: skip
    for path, payload, status, message in cases:
        response = await client.post(path, json=payload)
        assert response.status_code == status, (payload, response.text)
        assert message in response.json()["error"], (payload, response.text)
    assert not (tmp_path / "dataset1.csv").exists()


async def test_send_mistakes_are_4xx(tmp_path: Path) -> None:
    async for client in client_for(chat_for(tmp_path, max_message_length=50)):
        conversation_id = await start(client)
        cases: list[tuple[Any, int, str]] = [
            ({"conversation_id": conversation_id}, 400, '"message" must be'),
            ({"conversation_id": conversation_id, "message": ["hi"]}, 400, '"message" must be'),
            ({"message": "hi"}, 400, '"conversation_id" must be'),
            ({"conversation_id": "nope", "message": "hi"}, 404, "no conversation has the id"),
            ({"conversation_id": conversation_id, "message": "x" * 51}, 400, "over the limit"),
            ({"conversation_id": conversation_id, "message": "hi", "data": "x"}, 400,
             '"data" must be a list'),
            ({"conversation_id": conversation_id, "message": "hi", "data": [1]}, 400,
             "expected 0 at most"),
            ("hi", 400, "expected a JSON object"),
        ]  # fmt: skip
        for payload, status, message in cases:
            response = await client.post("/api/send", json=payload)
            assert response.status_code == status, (payload, response.text)
            assert message in response.json()["error"], (payload, response.text)
        assert (await client.get("/api/conversation/nope")).status_code == 404


async def test_never_mode_has_no_feedback(tmp_path: Path) -> None:
    async for client in client_for(chat_for(tmp_path / "f", flagging_mode="never")):
        assert (await client.get("/api/config")).json()["flagging_mode"] == "never"
        message_id = await reply_id(client, await start(client), "hello")
        response = await client.post(
            "/api/feedback", json={"message_id": message_id, "value": "Like"}
        )
        assert response.status_code == 403 and "never" in response.json()["error"]
    assert not (tmp_path / "f").exists()


async def test_auto_mode_logs_every_exchange(tmp_path: Path) -> None:
    async for client in client_for(chat_for(tmp_path, flagging_mode="auto")):
        conversation_id = await start(client)
        await reply_id(client, conversation_id, "one")
        await reply_id(client, conversation_id, "two")
        assert "logged" in (await client.get("/")).text
    exchanges = [json.loads(row[0]) for row in rows(tmp_path / "dataset1.csv")[1:]]
    assert [len(conversation) for conversation in exchanges] == [2, 4]


async def test_config_and_page(tmp_path: Path) -> None:
    title = "</script><script>alert(1)</script>"
    chat = chat_for(
        tmp_path,
        title=title,
        description="<b>bold</b>",
        flagging_options=[("Thumbs up", "Like"), "Dislike", ("Wrong facts", "wrong")],
    )
    async for client in client_for(chat):
        config = (await client.get("/api/config")).json()
        assert config["flagging_mode"] == "manual"
        assert config["thumbs"] == ["Like", "Dislike"]
        assert config["menu_options"] == [["Wrong facts", "wrong"]]
        assert config["max_message_length"] == 10_000
        page = (await client.get("/")).text
        assert "<script>alert(1)" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
        embedded = page.split('id="config">', 1)[1].split("</script>", 1)[0]
        assert json.loads(embedded)["title"] == title


# -- users and requests -------------------------------------------------------------------


async def test_a_conversation_is_its_users(tmp_path: Path) -> None:
    ada, bob = ("ada", "secret"), ("bob", "hunter2")
    async for client in client_for(chat_for(tmp_path), auth=[ada, bob]):
        assert (await client.post("/api/start")).status_code == 401
        conversation_id = await start(client, auth=ada)
        message_id = await reply_id_as(client, conversation_id, "hello", ada)
        for response in (
            await client.get(f"/api/conversation/{conversation_id}", auth=bob),
            await client.post(
                "/api/send", json={"conversation_id": conversation_id, "message": "x"}, auth=bob
            ),
            await client.post(
                "/api/feedback", json={"message_id": message_id, "value": "Like"}, auth=bob
            ),
            await client.post("/api/undo", json={"message_id": message_id}, auth=bob),
        ):
            assert response.status_code == 403, response.text
            assert "belongs to another user" in response.json()["error"]
        smuggled = {"message_id": message_id, "value": "Like", "username": "mallory", "key": "k"}
        liked = await client.post("/api/feedback", json=smuggled, auth=ada)
        assert liked.json() == {"count": 1}
        # bob's key "k" is bob's own: it does not stand for ada's, his row is written
        bobs = await start(client, auth=bob)
        bobs_reply = await reply_id_as(client, bobs, "hi", bob)
        payload = {"message_id": bobs_reply, "value": "Dislike", "key": "k"}
        assert (await client.post("/api/feedback", json=payload, auth=bob)).json() == {"count": 2}
        state = (await client.get(f"/api/conversation/{conversation_id}", auth=ada)).json()
        assert state["feedback"]["1"]["value"] == "Like"
    assert [row[4:6] for row in rows(tmp_path / "dataset1.csv")[1:]] == [
        ["Like", "ada"],
        ["Dislike", "bob"],
    ]


async def reply_id_as(
    client: httpx.AsyncClient, conversation_id: str, message: str, auth: tuple[str, str]
) -> str:
    updates = await say(client, conversation_id, message, auth=auth)
    return str(updates[-1][1]["message_id"])


@pytest.mark.parametrize(
    "headers",
    [{"sec-fetch-site": "cross-site"}, {"origin": "https://evil.example"}],
)
async def test_cross_site_posts_are_refused(
    client: httpx.AsyncClient, tmp_path: Path, headers: dict[str, str]
) -> None:
    conversation_id = await start(client)
    message_id = await reply_id(client, conversation_id, "hello")
    for path, payload in (
        ("/api/start", {}),
        ("/api/send", {"conversation_id": conversation_id, "message": "hi"}),
        ("/api/feedback", {"message_id": message_id, "value": "Like"}),
        ("/api/undo", {"message_id": message_id}),
    ):
        response = await client.post(path, json=payload, headers=headers)
        assert response.status_code == 403, (path, response.text)
        assert "refused" in response.json()["error"]
    history = (await client.get(f"/api/conversation/{conversation_id}")).json()
    assert len(history["messages"]) == 2
    assert not (tmp_path / "dataset1.csv").exists()


async def test_json_only_as_json_and_within_limits(tmp_path: Path) -> None:
    async for client in client_for(chat_for(tmp_path), max_body_size=2000, max_json_depth=8):
        conversation_id = await start(client)
        as_text = await client.post(
            "/api/send",
            content=json.dumps({"conversation_id": conversation_id, "message": "hi"}),
            headers={"content-type": "text/plain"},
        )
        assert as_text.status_code == 415 and "application/json" in as_text.json()["error"]
        big = await client.post(
            "/api/send", json={"conversation_id": conversation_id, "message": "x" * 3000}
        )
        assert big.status_code == 413 and "over the limit of 2000 bytes" in big.json()["error"]
        deep = await client.post("/api/feedback", content=b"[" * 20 + b"]" * 20,
                                 headers={"content-type": "application/json"})  # fmt: skip
        assert deep.status_code == 400 and "deeper than the limit of 8" in deep.json()["error"]
        broken = await client.post(
            "/api/undo", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
        assert (await client.get("/api/conversation/" + "x" * 5000)).status_code == 404


# -- restarts, real servers, the demo and the example ----------------------------------


async def test_a_reload_after_a_restart_shows_the_feedback(tmp_path: Path) -> None:
    async for client in client_for(chat_for(tmp_path)):
        conversation_id = await start(client)
        first = await reply_id(client, conversation_id, "one")
        second = await reply_id(client, conversation_id, "two")
        await client.post("/api/feedback", json={"message_id": first, "value": "Like"})
        await client.post(
            "/api/feedback", json={"message_id": second, "value": "Dislike", "comment": "meh"}
        )
    async for client in client_for(chat_for(tmp_path)):  # a new process, the same folder
        saved = (await client.get(f"/api/conversation/{conversation_id}")).json()
        assert [m["content"] for m in saved["messages"]] == [
            "one", "You said: one", "two", "You said: two",
        ]  # fmt: skip
        assert saved["messages"][3]["message_id"] == second
        assert {k: (v["value"], v["comment"]) for k, v in saved["feedback"].items()} == {
            "1": ("Like", None),
            "3": ("Dislike", "meh"),
        }
        # the restored message ids take feedback (and undo) as before
        assert (await client.post("/api/undo", json={"message_id": first})).status_code == 200


def test_a_client_that_leaves_mid_stream_frees_the_conversation(tmp_path: Path) -> None:
    """Served by uvicorn: the page closes while the reply streams; the reply stops there,
    is kept as far as it went, and the conversation takes the next message."""
    steps: list[int] = []

    async def endless(message: str, history: list[dict[str, str]]) -> AsyncIterator[str]:
        text = ""
        for step in range(3000):
            steps.append(step)
            text += f"{step} "
            yield text
            await anyio.sleep(0.01)

    chat = chat_for(tmp_path, endless)
    with served_in_thread(chat.app()) as url, httpx.Client(base_url=url, timeout=30) as client:
        conversation_id = client.post("/api/start").json()["conversation_id"]
        payload = {"conversation_id": conversation_id, "message": "go"}
        with client.stream("POST", "/api/send", json=payload) as response:
            seen = 0
            for line in response.iter_lines():
                seen += line.startswith("data:")
                if seen == 3:  # "0 ", then "1 " and "2 " appended: the page goes away
                    break
        wait_for(lambda: client.get(f"/api/conversation/{conversation_id}").json()["messages"][1:])
        kept = client.get(f"/api/conversation/{conversation_id}").json()["messages"]
        assert kept[1]["content"].startswith("0 1 2 ")
        assert len(steps) < 3000  # it stopped when the client left
        payload["message"] = "again"
        with client.stream("POST", "/api/send", json=payload) as response:
            first = next(line for line in response.iter_lines() if line.startswith("event:"))
        assert first == "event: update"


def wait_for(condition: Any, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not become true"
        time.sleep(0.05)


async def test_the_chat_demo_streams_and_takes_feedback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("asyncflag.demos.DEMO_WORD_DELAY", 0)
    app = chat_demo_app(None, tmp_path)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            config = (await client.get("/api/config")).json()
            assert config["flagging_mode"] == "manual"
            assert config["thumbs"] == ["Like", "Dislike"]
            assert config["menu_options"] == [["Flag as Inaccurate", "Inaccurate"]]
            conversation_id = await start(client)
            updates = await say(client, conversation_id, "what is 12 * 7?")
            assert len(updates) > 2 and texts(updates)[-1] == "12 * 7 = 84."
            greeting = await say(client, conversation_id, "hello")
            assert texts(greeting)[-1].startswith("Hello!")
            flagged = await client.post(
                "/api/feedback",
                json={"message_id": updates[-1][1]["message_id"], "value": "Inaccurate"},
            )
            assert flagged.json() == {"count": 1}
    assert rows(tmp_path / "dataset1.csv")[1][4] == "Inaccurate"


async def test_the_embedding_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    monkeypatch.chdir(tmp_path)  # the example flags into ./flagged-embed-chat
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent))
    module = importlib.import_module("examples.embed_chat")
    app = module.app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = (await client.post("/ask", json={"message": "quiet please"})).json()
            assert answer["reply"] == "QUIET PLEASE"
            assert 'id="composer"' in (await client.get("/chat/")).text
            rated = await client.post(
                "/chat/api/feedback",
                json={"message_id": answer["message_id"], "value": "Off topic"},
            )
            assert rated.json() == {"count": 1}
    assert rows(tmp_path / "flagged-embed-chat" / "dataset1.csv")[1][4] == "Off topic"


def test_asyncflag_demo_chat_serves_the_bot(tmp_path: Path) -> None:
    """``asyncflag demo --chat`` in a child process: the page, a streamed reply, a flag;
    Ctrl-C then ends it with the row written."""
    import signal
    import subprocess
    import sys

    from conftest import free_port, wait_until_serving

    port = free_port()
    command = [sys.executable, "-m", "asyncflag", "demo", "--chat", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process)
        with httpx.Client(base_url=url, timeout=30) as client:
            assert "Rule-based chat" in client.get("/").text
            conversation_id = client.post("/api/start").json()["conversation_id"]
            payload = {"conversation_id": conversation_id, "message": "reverse stressed"}
            updates = events(client.post("/api/send", json=payload).text)
            assert len(updates) > 1 and texts(updates)[-1] == "Reversed: desserts"
            message_id = updates[-1][1]["message_id"]
            liked = client.post("/api/feedback", json={"message_id": message_id, "value": "Like"})
            assert liked.json() == {"count": 1}
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        if process.stdout:
            process.stdout.close()
    assert rows(tmp_path / "dataset1.csv")[1][4] == "Like"


def test_asyncflag_serve_launches_a_users_chat(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from conftest import free_port, wait_until_serving

    (tmp_path / "my_chat.py").write_text(
        "from asyncflag import ChatInterface\n"
        "def shout(message, history):\n"
        "    return message.upper()\n"
        "chat = ChatInterface(shout, flagging_mode='auto',\n"
        f"                     flagging_dir={str(tmp_path / 'out')!r})\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "asyncflag", "serve", "my_chat:chat", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url, process)
        with httpx.Client(base_url=url, timeout=10) as client:
            conversation_id = client.post("/api/start").json()["conversation_id"]
            for word in ("one", "two"):
                payload = {"conversation_id": conversation_id, "message": word}
                updates = events(client.post("/api/send", json=payload).text)
                assert texts(updates)[-1] == word.upper()
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C: launch() writes every row before exiting
        assert process.wait(timeout=60) == 0
    exchanges = [json.loads(row[0]) for row in rows(tmp_path / "out" / "dataset1.csv")[1:]]
    assert [c[-1]["content"][0]["text"] for c in exchanges] == ["ONE", "TWO"]  # Gradio's cell
