"""The web API through httpx's ASGI transport, on asyncio and trio."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import asyncflag
from asyncflag import FlaggingCallback, FlagValueError, Interface, components

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

        response = await client.post(
            "/api/predict", content=chunks(), headers={"content-type": "application/json"}
        )
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
        echo,
        [components.Image(label="photo", type="raw"), "text"],
        ["image", "text"],
        flagging_dir=tmp_path,
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


async def test_a_failing_model_is_a_500_with_json(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(x: str) -> str:
        raise RuntimeError("model exploded")

    async for client in client_for(Interface(broken, "text", "text", flagging_dir=tmp_path)):
        response = await client.post("/api/predict", json={"data": ["x"]})
        assert response.status_code == 500
        body = response.json()
        # the exception's text may hold private details: not shown, but logged by id
        assert "model exploded" not in body["error"]
        assert "RuntimeError" not in body["error"]
        request_id = body["request_id"]
        assert body["error"] == (
            f"the prediction failed: an error on the server (request id {request_id}; "
            "the server log has the details under this id)"
        )
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelname == "ERROR"
    assert logged[0].exc_info is not None and "model exploded" in str(logged[0].exc_info[1])


async def test_asyncflag_error_is_shown_verbatim(tmp_path: Path) -> None:
    def picky(x: str) -> str:
        if x == "bad":
            raise asyncflag.Error("please write something nicer <b>than</b> that")
        return x

    async for client in client_for(Interface(picky, "text", "text", flagging_dir=tmp_path)):
        response = await client.post("/api/predict", json={"data": ["bad"]})
        assert response.status_code == 422
        assert response.json() == {"error": "please write something nicer <b>than</b> that"}


async def test_show_error_shows_the_exception(tmp_path: Path) -> None:
    def broken(x: str) -> str:
        raise RuntimeError("model exploded")

    iface = Interface(broken, "text", "text", flagging_dir=tmp_path)
    async for client in client_for(iface, show_error=True):
        response = await client.post("/api/predict", json={"data": ["x"]})
        assert response.status_code == 500
        assert response.json()["error"].startswith(
            "the prediction failed: RuntimeError: model exploded (request id "
        )
    with pytest.raises(FlagValueError, match="show_error must be True or False"):
        Interface(broken, "text", "text").app(show_error="yes")  # type: ignore[arg-type]


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


# -- cross-site requests ---------------------------------------------------------------------

JSON_AS_TEXT = {"content-type": "text/plain"}


@pytest.mark.parametrize("path", ["/api/predict", "/api/flag"])
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", None, "text/json"]
)
async def test_json_only_as_application_json(
    tmp_path: Path, path: str, content_type: str | None
) -> None:
    """A cross-site form can send JSON text as text/plain without a preflight: refused."""
    iface = calculator(tmp_path, flagging_mode="auto")
    async for client in client_for(iface):
        prediction = (await client.post("/api/predict", json={"data": [1, "add", 2]})).json()
        assert iface.stats.published == 1
        body = (
            b'{"data": [1, "add", 2]}'
            if path == "/api/predict"
            else b'{"id": "%s"}' % prediction["id"].encode()
        )
        headers = {} if content_type is None else {"content-type": content_type}
        response = await client.post(path, content=body, headers=headers)
        assert response.status_code == 415
        assert response.headers["content-type"] == "application/json"
        assert "application/json" in response.json()["error"]
        assert iface.stats.published == 1  # the refused request wrote nothing
    assert len(rows(tmp_path / "dataset1.csv")) == 2


CROSS_SITE = [
    {"origin": "https://evil.example"},
    {"origin": "null"},
    {"origin": "http://test.evil.example"},
    {"origin": "http://test:8080"},
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},
    {"sec-fetch-site": "cross-site", "origin": "http://test"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_cross_site_requests_are_refused(tmp_path: Path, headers: dict[str, str]) -> None:
    png = png_header(2, 2)  # an Image takes real images only
    iface = Interface(
        lambda image, text: text,
        [components.Image(label="photo"), "text"],
        "text",
        flagging_mode="auto",
        flagging_dir=tmp_path,
    )
    async for client in client_for(iface):
        made = await client.post("/api/predict", json={"data": [None, "mine"]})
        for response in [
            await client.post(
                "/api/predict",
                data={"data": '[null, "attacker"]'},
                files={"file0": ("x.png", png, "image/png")},
                headers=headers,
            ),
            await client.post("/api/predict", json={"data": [None, "attacker"]}, headers=headers),
            await client.post("/api/flag", json={"id": made.json()["id"]}, headers=headers),
        ]:
            assert response.status_code == 403
            assert "refused" in response.json()["error"]
        assert iface.stats.published == 1
    assert [row[1] for row in rows(tmp_path / "dataset1.csv")[1:]] == ["mine"]


SAME_ORIGIN = [
    {"origin": "http://test", "sec-fetch-site": "same-origin"},
    {"origin": "http://TEST:80"},
    {"origin": "https://test"},  # TLS ended by a proxy: the scheme is not compared
    {"sec-fetch-site": "none"},
    # a proxy rewrote Host: the browser's own Sec-Fetch-Site is trusted over the Origin
    {"sec-fetch-site": "same-origin", "origin": "https://public.example"},
    {},  # not a browser
]


@pytest.mark.parametrize("headers", SAME_ORIGIN)
async def test_same_origin_and_non_browser_requests_work(
    tmp_path: Path, headers: dict[str, str]
) -> None:
    png = png_header(2, 2)  # an Image takes real images only
    iface = Interface(
        lambda image, text: text,
        [components.Image(label="photo"), "text"],
        "text",
        flagging_dir=tmp_path,
    )
    async for client in client_for(iface):
        upload = await client.post(
            "/api/predict",
            data={"data": '[null, "hi"]'},
            files={"file0": ("x.png", png, "image/png")},
            headers=headers,
        )
        assert upload.status_code == 200, upload.text
        plain = await client.post("/api/predict", json={"data": [None, "yo"]}, headers=headers)
        assert plain.status_code == 200, plain.text
        flag = await client.post("/api/flag", json={"id": upload.json()["id"]}, headers=headers)
        assert flag.json() == {"count": 1}


async def test_same_origin_under_a_mount_and_trusted_origins(tmp_path: Path) -> None:
    iface = calculator(tmp_path)
    host = Starlette(
        routes=[
            Mount("/f", app=iface.app()),
            Mount("/g", app=iface.app(trusted_origins=["HTTPS://public.example:443/"])),
        ],
        lifespan=iface.lifespan,
    )
    async with host.router.lifespan_context(host):
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as c:
            data = {"data": [1, "add", 2]}
            own = await c.post(
                "/f/api/predict", json=data, headers={"origin": "http://internal:8000"}
            )
            assert own.status_code == 200
            public = {"origin": "https://Public.example"}
            assert (await c.post("/f/api/predict", json=data, headers=public)).status_code == 403
            assert (await c.post("/g/api/predict", json=data, headers=public)).status_code == 200
            trusted = {**public, "sec-fetch-site": "cross-site"}
            assert (await c.post("/f/api/predict", json=data, headers=trusted)).status_code == 403
            assert (await c.post("/g/api/predict", json=data, headers=trusted)).status_code == 200


# -- JSON and multipart limits -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 50_000, "deeper than the limit of 64 levels"),
        (b"[" * 5000 + b"]" * 5000, "deeper than the limit of 64 levels"),
        (b'{"data": ' + b"[" * 65 + b"]" * 65 + b"}", "deeper than the limit of 64 levels"),
        (b"[" + b"[]," * 3_000_000 + b"[]]", "over the limit of 100,000"),
        (b'{"data": [' + b"1," * 100_000 + b"1]}", "over the limit of 100,000"),
    ],
)
async def test_json_bodies_too_deep_or_too_many_values(
    tmp_path: Path, body: bytes, message: str
) -> None:
    iface = Interface(lambda j: j, "json", "json", flagging_dir=tmp_path)
    async for client in client_for(iface):
        for path in ("/api/predict", "/api/flag"):
            response = await client.post(
                path, content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == 400
            assert response.headers["content-type"] == "application/json"
            assert message in response.json()["error"]
        assert iface.stats.published == 0


async def test_json_limits_count_structure_not_text(tmp_path: Path) -> None:
    iface = Interface(lambda j: j, "json", "json", flagging_dir=tmp_path)
    async for client in client_for(iface, max_json_depth=4, max_json_values=10):
        text = '[[{"a": "' + "[,{" * 1000 + '\\"]]"}]]'  # brackets and commas inside a string
        response = await client.post(
            "/api/predict",
            content=b'{"data": ' + text.encode() + b"}",
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 200, response.text
        too_deep = await client.post("/api/predict", json={"data": [[[[[1]]]]]})
        assert (
            too_deep.status_code == 400
            and "deeper than the limit of 4 levels" in too_deep.json()["error"]
        )
        too_many = await client.post("/api/predict", json={"data": [list(range(20))]})
        assert too_many.status_code == 400 and "limit of 10" in too_many.json()["error"]
        multipart = await client.post(
            "/api/predict",
            data={"data": "[" * 8 + "]" * 8},
            files={"file9": ("x.bin", b"x", "application/octet-stream")},
        )
        assert (
            multipart.status_code == 400
            and "deeper than the limit of 4 levels" in multipart.json()["error"]
        )


async def test_json_limits_on_long_text(tmp_path: Path) -> None:
    """Commas and brackets inside strings are text: 150,000 of them pass; an unterminated
    string of escaped quotes is counted in one pass and refused as invalid JSON."""
    iface = Interface(lambda t: len(t), "text", "number", flagging_dir=tmp_path)
    async for client in client_for(iface):
        text = "[a, b], " * 150_000
        response = await client.post("/api/predict", json={"data": [text]})
        assert response.json()["data"] == [len(text)], response.text
        unterminated = b'{"data": ["' + b'\\",' * 200_000
        response = await client.post(
            "/api/predict", content=unterminated, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert "not valid JSON" in response.json()["error"]


async def test_json_deeper_than_python_can_decode_is_a_400(tmp_path: Path) -> None:
    iface = Interface(lambda j: j, "json", "json", flagging_dir=tmp_path)
    async for client in client_for(iface, max_json_depth=10**6):
        response = await client.post(
            "/api/predict",
            content=b"[" * 50_000 + b"]" * 50_000,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400
        assert "too deeply" in response.json()["error"]


@pytest.mark.parametrize(
    ("files", "data", "message"),
    [
        ({f"file{i}": (f"{i}.png", b"x", "image/png") for i in range(5)}, {}, "Too many files"),
        (
            {"file0": ("0.png", b"x", "image/png")},
            {f"field{i}": "x" for i in range(5)},
            "Too many fields",
        ),
    ],
)
async def test_multipart_limits_answer_json(
    tmp_path: Path, files: dict[str, Any], data: dict[str, str], message: str
) -> None:
    iface = Interface(lambda image: "ok", components.Image(), "text", flagging_dir=tmp_path)
    async for client in client_for(iface):
        response = await client.post("/api/predict", data=data, files=files)
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/json"
        assert message in response.json()["error"]


async def test_a_malformed_multipart_body_answers_json(tmp_path: Path) -> None:
    iface = Interface(lambda image: "ok", components.Image(), "text", flagging_dir=tmp_path)
    async for client in client_for(iface):
        response = await client.post(
            "/api/predict",
            content=b"--b\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--b--\r\n",
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert response.status_code == 400
        assert "multipart/form-data body could not be read" in response.json()["error"]


# -- who may flag what, and with which option ------------------------------------------------


async def test_only_the_user_who_made_a_prediction_can_flag_it(tmp_path: Path) -> None:
    iface = calculator(tmp_path)
    ada, bob = ("ada", "secret"), ("bob", "hunter2")
    async for client in client_for(iface, auth=[ada, bob]):
        made = (await client.post("/api/predict", json={"data": [1, "add", 2]}, auth=ada)).json()
        stolen = await client.post("/api/flag", json={"id": made["id"]}, auth=bob)
        assert stolen.status_code == 403
        assert "made by another user" in stolen.json()["error"]
        assert "ada" not in stolen.json()["error"]
        assert (await client.post("/api/flag", json={"id": made["id"]}, auth=ada)).json() == {
            "count": 1
        }
    assert [row[5] for row in rows(tmp_path / "dataset1.csv")[1:]] == ["ada"]


@pytest.mark.parametrize("option", ["x" * 2**20, "\x1b[2J\x1b]0;pwned\x07", "wrong", ""])
async def test_without_options_the_web_sends_no_option(tmp_path: Path, option: str) -> None:
    iface = calculator(tmp_path)
    async for client in client_for(iface):
        made = (await client.post("/api/predict", json={"data": [1, "add", 2]})).json()
        response = await client.post("/api/flag", json={"id": made["id"], "option": option})
        assert response.status_code == 400
        error = response.json()["error"]
        assert "not one of the flagging options: null (no option)" in error
        assert len(error) < 400 and "\x1b" not in error
        ok = await client.post("/api/flag", json={"id": made["id"], "option": None})
        assert ok.json() == {"count": 1}
        # a Python caller may still give free text
        assert await iface.flag(made["id"], option="free text") == 2
    assert [row[4] for row in rows(tmp_path / "dataset1.csv")[1:]] == ["", "free text"]


# -- memory ----------------------------------------------------------------------------------


def release_freed_memory() -> None:
    """Collect, then have glibc hand freed heap pages back, so that RSS shows what is held."""
    import ctypes
    import gc

    gc.collect()
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is None:
        pytest.skip("measuring RSS needs glibc's malloc_trim")
    trim(0)


async def test_cached_uploads_are_bounded_in_bytes(tmp_path: Path) -> None:
    """24 uploads of 8 MiB pinned 192 MiB in the prediction cache; now at most cache_bytes."""
    import psutil

    process = psutil.Process()
    iface = Interface(
        lambda upload: len(upload.data),
        components.File(type="raw"),
        "number",
        flagging_dir=tmp_path,
    )
    assert iface.cache_bytes == 64 * 2**20
    ids = []
    async for client in client_for(iface):
        release_freed_memory()
        before = process.memory_info().rss
        for index in range(24):
            # distinct bytes: nothing shared between uploads
            payload = bytes([index]) * (8 * 2**20)
            files = {"file0": (f"{index}.bin", payload, "application/octet-stream")}
            response = await client.post("/api/predict", files=files)
            assert response.json()["data"] == [8 * 2**20]
            ids.append(response.json()["id"])
            del payload, files, response
        release_freed_memory()
        grown = process.memory_info().rss - before
        # measured: about 200 MiB without the byte bound, 64 MiB with it
        assert grown < 120 * 2**20, f"RSS grew by {grown / 2**20:.0f} MiB"
        oldest = await client.post("/api/flag", json={"id": ids[0]})
        assert oldest.status_code == 404 and "no longer kept" in oldest.json()["error"]
        assert (await client.post("/api/flag", json={"id": ids[-1]})).json() == {"count": 1}


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG that declares ``width`` x ``height`` pixels (its data is cut short)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\0" * (width + 1) * 4)  # four rows of the many declared
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("picture", "message"),
    [
        (png_header(8000, 8000), "8000 x 8000 pixels is over the limit of 16777216 pixels"),
        # Pillow warns (an error under this suite's warning filter), then refuses past 2x
        (png_header(10_000, 10_000), "MAX_IMAGE_PIXELS"),
        (png_header(20_000, 20_000), "MAX_IMAGE_PIXELS"),
        (b"not a picture", "the content is not a"),
        (png_header(64, 64)[:-20], "could not be decoded"),  # truncated
    ],
)
async def test_the_image_demo_refuses_images_before_decoding_them(
    tmp_path: Path, picture: bytes, message: str
) -> None:
    from asyncflag.demos import image_demo

    pytest.importorskip("PIL")
    iface = image_demo("manual", tmp_path)
    async for client in client_for(iface):
        response = await client.post(
            "/api/predict", files={"file0": ("bomb.png", picture, "image/png")}
        )
        assert response.status_code == 400
        assert message in response.json()["error"]
        no_file = await client.post("/api/predict", json={"data": [None]})
        assert no_file.status_code == 400 and no_file.json()["error"] == "upload an image"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_json_depth": 0}, "max_json_depth must be a positive int"),
        ({"max_json_values": True}, "max_json_values must be a positive int"),
        ({"max_body_size": -1}, "max_body_size must be a positive int"),
        ({"trusted_origins": "https://example.com"}, "trusted_origins must be a list"),
    ],
)
def test_app_limits_are_checked(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(FlagValueError, match=message):
        calculator(tmp_path).app(**kwargs)


class FlakyCallback(FlaggingCallback):
    """Fails every row while ``failing`` is set, as a full disk would."""

    def __init__(self) -> None:
        self.failing = True
        self.rows: list[Sequence[Any]] = []

    def setup(self, components: Sequence[Any], flagging_dir: str) -> None:
        pass

    def flag(
        self, flag_data: Sequence[Any], flag_option: str | None = None, username: str | None = None
    ) -> int:
        if self.failing:
            raise OSError(28, "No space left on device")
        self.rows.append(flag_data)
        return len(self.rows)


async def test_health_fails_while_rows_fail_in_auto_mode(tmp_path: Path) -> None:
    callback = FlakyCallback()
    iface = Interface(lambda x: x, "text", "text", flagging_mode="auto", flagging_callback=callback)
    async for client in client_for(iface):
        health = await client.get("/api/health")
        assert health.status_code == 200 and health.json()["healthy"] is True
        assert (await client.post("/api/predict", json={"data": ["a"]})).status_code == 200
        while iface.stats.failed < 1:
            await anyio.sleep(0.01)
        health = await client.get("/api/health")
        assert health.status_code == 503
        body = health.json()
        assert body["failing"] is True and body["failed"] == 1
        assert "No space left on device" in body["last_error"]
        assert body["reason"].startswith("rows are failing to be written: ")
        stats = (await client.get("/api/stats")).json()
        assert stats["failed"] == 1 and stats["failing"] is True
        assert "No space left" in stats["last_error"]
        # the disk has room again: the next row is written and the health comes back
        callback.failing = False
        assert (await client.post("/api/predict", json={"data": ["b"]})).status_code == 200
        while iface.stats.written < 1:
            await anyio.sleep(0.01)
        health = await client.get("/api/health")
        assert health.status_code == 200 and health.json()["failing"] is False
    assert iface.health()["healthy"] is False  # not running any more


@pytest.mark.parametrize("mode", ["manual", "auto", "never"])
async def test_bad_inputs_are_a_400_in_every_mode(tmp_path: Path, mode: str) -> None:
    """never mode checks inputs too: "x" in a number or "yes" in a checkbox is the
    request's fault (400), not a failed prediction (500)."""

    def both(a: float, b: bool) -> str:
        return f"{a} {b}"

    iface = Interface(
        both, ["number", "checkbox"], "text", flagging_mode=mode, flagging_dir=tmp_path
    )
    async for client in client_for(iface):
        for data in (["x", True], [1, "yes"]):
            response = await client.post("/api/predict", json={"data": data})
            assert response.status_code == 400, response.text
            assert " stores " in response.json()["error"]


async def test_demo_calculator_says_what_is_missing(tmp_path: Path) -> None:
    from asyncflag.demos import calculator as demo_calculator

    async for client in client_for(demo_calculator("manual", tmp_path)):
        response = await client.post("/api/predict", json={"data": [1, "add", None]})
        assert response.status_code == 422
        assert response.json() == {"error": "enter a number in num2"}
        response = await client.post("/api/predict", json={"data": [1, "divide", 0]})
        assert response.json() == {"error": "cannot divide by zero"}


async def test_examples_table_from_a_flagged_folder(tmp_path: Path) -> None:
    """examples= a flagged folder: its rows' inputs become the table's rows, values in
    data-values (JSON) for the page to fill in, hostile text escaped."""
    source = Interface(
        add_text, ["number", "text"], "text", flagging_mode="auto", flagging_dir=tmp_path
    )
    async with source:
        await source.submit(3, "<script>alert(1)</script>")
        await source.submit(4.5, 'say "hi"')
    iface = Interface(add_text, ["number", "text"], "text", examples=tmp_path)
    async for client in client_for(iface, show_error=False):
        page = (await client.get("/")).text
    assert '<section id="examples">' in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    rows = re.findall(r'<tr tabindex="0" data-row="\d+" data-values="([^"]*)"', page)
    assert [json.loads(html.unescape(row)) for row in rows] == [
        {"0": 3, "1": "<script>alert(1)</script>"},
        {"0": 4.5, "1": 'say "hi"'},
    ]
    # without examples, no table
    async for client in client_for(
        Interface(add_text, ["number", "text"], "text", flagging_dir=tmp_path / "x")
    ):
        assert 'id="examples"' not in (await client.get("/")).text


def add_text(number: float, text: str) -> str:
    return f"{number} {text}"


TINY_PNG = Path(__file__).resolve().parent / "fixtures" / "gradio" / "media" / "tiny.png"


async def test_example_files_are_served_only_from_examples(tmp_path: Path) -> None:
    """/api/example/<row>/<input>: the file a row of examples= names for a one-file
    input, sent as an unsniffed attachment; nothing else (no other row, input or path)."""

    def caption(picture: object, text: str) -> str:
        return text

    iface = Interface(
        caption,
        [components.Image(), "text"],
        "text",
        examples=[[str(TINY_PNG), "tiny"], [str(tmp_path / "gone.png"), "gone"]],
        flagging_dir=tmp_path / "f",
    )
    async for client in client_for(iface):
        response = await client.get("/api/example/0/0")
        assert response.status_code == 200
        assert response.content == TINY_PNG.read_bytes()
        assert response.headers["content-type"] == "image/png"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-disposition"] == 'attachment; filename="example.png"'
        for path in (
            "/api/example/0/1",
            "/api/example/1/0",
            "/api/example/2/0",
            "/api/example/0/9",
            "/api/example/-1/0",
            "/api/example/0/..%2F..%2Fetc",
        ):
            assert (await client.get(path)).status_code == 404, path
        page = (await client.get("/")).text
        assert 'data-row="0"' in page and 'data-files="[0]"' in page
        assert 'data-row="1"' in page and 'data-files="[]"' in page  # a missing file
