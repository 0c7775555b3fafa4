"""The web API through httpx's ASGI transport, on asyncio and trio."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from asyncflag import Interface, components

pytestmark = pytest.mark.anyio


def calc(a: float, op: str, b: float) -> float:
    return a + b if op == "add" else a - b


def calculator(flagging_dir: Path, **kwargs: Any) -> Interface:
    return Interface(
        calc,
        ["number", components.Dropdown(["add", "sub"]), "number"],
        "number",
        flagging_dir=flagging_dir,
        **kwargs,
    )


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


async def client_for(iface: Interface, **app_kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        iface,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=iface.app(**app_kwargs)), base_url="http://test"
        ) as client,
    ):
        yield client


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    iface = calculator(tmp_path, flagging_options=["wrong", "rude"])
    async for client in client_for(iface):
        yield client


async def test_predict_then_flag_by_id(client: httpx.AsyncClient, tmp_path: Path) -> None:
    response = await client.post("/api/predict", json={"data": [1, "add", 2]})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == [3]
    flagged = await client.post("/api/flag", json={"id": body["id"], "option": "wrong"})
    assert flagged.json() == {"count": 1}
    flagged = await client.post("/api/flag", json={"id": body["id"], "option": "rude"})
    assert flagged.json() == {"count": 2}
    assert [row[3:5] for row in rows(tmp_path / "dataset1.csv")[1:]] == [
        ["3", "wrong"],
        ["3", "rude"],
    ]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"id": "nope", "option": "wrong"}, 404, "no recent prediction"),
        ({"option": "wrong"}, 400, '"id" must be'),
        ({"id": 3, "option": "wrong"}, 400, '"id" must be'),
        ({"id": "PREDICTION", "option": "other"}, 400, "not one of the flagging options"),
        ({"id": "PREDICTION", "option": 5}, 400, '"option" must be'),
        ([1, 2], 400, "expected a JSON object"),
    ],
)
async def test_bad_flag_requests(
    client: httpx.AsyncClient, tmp_path: Path, payload: Any, status: int, message: str
) -> None:
    prediction = (await client.post("/api/predict", json={"data": [1, "add", 2]})).json()
    if isinstance(payload, dict) and payload.get("id") == "PREDICTION":
        payload = {**payload, "id": prediction["id"]}
    response = await client.post("/api/flag", json=payload)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert not (tmp_path / "dataset1.csv").exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"data": [1, "add", "two"]}', "Number 'b' stores an int or a float"),
        (b'{"data": [1, "mul", 2]}', "'mul' is not one of the choices"),
        (b'{"data": [1, "add", 2, 4]}', "expected 3 input values"),
        (b'{"data": "1, 2"}', "expected {"),
        (b"{not json", "not valid JSON"),
    ],
)
async def test_bad_predict_requests(client: httpx.AsyncClient, body: bytes, message: str) -> None:
    response = await client.post(
        "/api/predict", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert message in response.json()["error"]


async def test_config_and_stats(client: httpx.AsyncClient) -> None:
    config = (await client.get("/api/config")).json()
    assert config["flagging_mode"] == "manual"
    assert config["flagging_options"] == [["Flag as wrong", "wrong"], ["Flag as rude", "rude"]]
    assert [c["label"] for c in config["inputs"]] == ["a", "op", "b"]
    assert config["inputs"][1]["choices"] == [["add", "add"], ["sub", "sub"]]
    await client.post("/api/predict", json={"data": [1, "add", 2]})
    assert (await client.get("/api/stats")).json()["published"] == 0


async def test_page_shows_one_button_per_option(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    assert "Flag as wrong" in page and "Flag as rude" in page
    assert 'id="in0"' in page and "<select" in page
    assert "logged automatically" not in page


@pytest.mark.parametrize("mode", ["auto", "never"])
async def test_page_without_flag_buttons(tmp_path: Path, mode: str) -> None:
    async for client in client_for(calculator(tmp_path, flagging_mode=mode)):
        page = (await client.get("/")).text
        assert 'class="flag"' not in page
        assert ("logged automatically" in page) == (mode == "auto")


async def test_flag_in_never_mode_is_forbidden(tmp_path: Path) -> None:
    async for client in client_for(calculator(tmp_path / "f", flagging_mode="never")):
        prediction = (await client.post("/api/predict", json={"data": [1, "add", 2]})).json()
        response = await client.post("/api/flag", json={"id": prediction["id"]})
        assert response.status_code == 403
        assert "never" in response.json()["error"]
    assert not (tmp_path / "f").exists()


async def test_username_comes_from_the_authenticated_user(tmp_path: Path) -> None:
    iface = calculator(tmp_path)
    async for client in client_for(iface, auth=[("ada", "secret"), ("bob", "hunter2")]):
        assert (await client.get("/api/config")).status_code == 401
        bad = await client.get("/api/config", auth=("ada", "wrong"))
        assert bad.status_code == 401 and bad.headers["www-authenticate"].startswith("Basic")
        prediction = (
            await client.post("/api/predict", json={"data": [1, "add", 2]}, auth=("ada", "secret"))
        ).json()
        smuggled = {"id": prediction["id"], "username": "mallory", "option": None}
        response = await client.post("/api/flag", json=smuggled, auth=("ada", "secret"))
        assert response.json() == {"count": 1}
    assert rows(tmp_path / "dataset1.csv")[1][5] == "ada"


async def test_username_from_the_hosts_authentication_middleware(tmp_path: Path) -> None:
    from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
    from starlette.middleware import Middleware
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.requests import HTTPConnection

    class HeaderAuth(AuthenticationBackend):
        async def authenticate(
            self, conn: HTTPConnection
        ) -> tuple[AuthCredentials, SimpleUser] | None:
            name = conn.headers.get("x-user")
            return (AuthCredentials(["authenticated"]), SimpleUser(name)) if name else None

    iface = calculator(tmp_path)
    host = Starlette(
        routes=[Mount("/f", app=iface.app())],
        middleware=[Middleware(AuthenticationMiddleware, backend=HeaderAuth())],
        lifespan=iface.lifespan,
    )
    async with host.router.lifespan_context(host):
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            prediction = (await client.post("/f/api/predict", json={"data": [1, "add", 2]})).json()
            await client.post(
                "/f/api/flag",
                json={"id": prediction["id"], "username": "mallory"},
                headers={"x-user": "grace"},
            )
            await client.post("/f/api/flag", json={"id": prediction["id"]})
    assert [row[5] for row in rows(tmp_path / "dataset1.csv")[1:]] == ["grace", ""]


async def test_a_body_username_is_ignored_without_auth(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    prediction = (await client.post("/api/predict", json={"data": [1, "add", 2]})).json()
    await client.post(
        "/api/flag", json={"id": prediction["id"], "option": "wrong", "username": "mallory"}
    )
    assert rows(tmp_path / "dataset1.csv")[1][5] == ""


# httpx's in-process transport leaves the client's own body generator unfinished when the
# server answers 413 early (trio reports it); a real server connection does not.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_oversized_bodies_are_refused(tmp_path: Path) -> None:
    iface = Interface(lambda t: t, "text", "text", flagging_dir=tmp_path)
    async for client in client_for(iface, max_body_size=1000):
        response = await client.post("/api/predict", json={"data": ["x" * 2000]})
        assert response.status_code == 413
        assert "over the limit of 1000 bytes" in response.json()["error"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
            yield b'{"data": ["'
            yield b"x" * 2000
            yield b'"]}'

        response = await client.post("/api/predict", content=chunks())
        assert response.status_code == 413
    assert iface.stats.published == 0


async def test_file_upload_and_image_output(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (3, 2), "red").save(buffer, format="PNG")  # an Image takes images only
    png = buffer.getvalue()

    def echo(image: Any, caption: str) -> tuple[bytes, str]:
        return image.data, f"{caption}: {image.name}"

    iface = Interface(
        echo, [components.Image(label="photo"), "text"], ["image", "text"], flagging_dir=tmp_path
    )
    async for client in client_for(iface):
        response = await client.post(
            "/api/predict",
            data={"data": '[null, "hello"]'},
            files={"file0": ("cat.png", png, "image/png")},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"][1] == "hello: cat.png"
        assert body["data"][0] == "data:image/png;base64," + base64.b64encode(png).decode()
        assert (await client.post("/api/flag", json={"id": body["id"]})).json() == {"count": 1}
        # a file input never takes a server path from the client
        sneaky = await client.post("/api/predict", json={"data": ["/etc/passwd", "x"]})
        assert sneaky.status_code == 400
        assert "takes a file upload" in sneaky.json()["error"]
    row = rows(tmp_path / "dataset1.csv")[1]
    assert row[0].startswith("photo/") and (tmp_path / row[0]).read_bytes() == png


async def test_not_running_is_a_503(tmp_path: Path) -> None:
    iface = calculator(tmp_path)
    transport = httpx.ASGITransport(app=iface.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/api/predict", json={"data": [1, "add", 2]})
    assert response.status_code == 503
    assert "not running" in response.json()["error"]


async def test_a_failing_model_is_a_500_with_json(tmp_path: Path) -> None:
    def broken(x: str) -> str:
        raise RuntimeError("model exploded")

    async for client in client_for(Interface(broken, "text", "text", flagging_dir=tmp_path)):
        response = await client.post("/api/predict", json={"data": ["x"]})
        assert response.status_code == 500
        assert response.json() == {"error": "the prediction failed: RuntimeError"}


async def test_embedding_in_a_host_app(tmp_path: Path) -> None:
    """Starlette runs no lifespan of a mounted app: the host passes ``iface.lifespan``."""
    iface = calculator(tmp_path, flagging_mode="auto")

    async def home(request: object) -> PlainTextResponse:
        return PlainTextResponse("host")

    host = Starlette(
        routes=[Route("/", home), Mount("/flagging", app=iface.app())], lifespan=iface.lifespan
    )
    transport = httpx.ASGITransport(app=host)
    # what a server (uvicorn) does with the host's lifespan around its requests
    async with host.router.lifespan_context(host):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/")).text == "host"
            response = await client.post("/flagging/api/predict", json={"data": [2, "sub", 5]})
            assert response.json()["data"] == [-3]
            assert "/flagging" in (await client.get("/flagging/")).text
            assert iface.running
    assert not iface.running
    assert rows(tmp_path / "dataset1.csv")[1][:4] == ["2", "sub", "5", "-3"]


async def test_standalone_app_runs_its_own_lifespan(tmp_path: Path) -> None:
    iface = calculator(tmp_path, flagging_mode="auto")
    app = iface.app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/api/predict", json={"data": [1, "add", 1]})
            assert response.json()["data"] == [2]
    assert len(rows(tmp_path / "dataset1.csv")) == 2
