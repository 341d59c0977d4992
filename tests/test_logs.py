"""Nothing identifying reaches a log line: no query strings, tokens, addresses or numbers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from app import logs

NAME = "Sok Dara"
EMAIL = "sok.dara@example.org"
PASSPORT = "N01234567"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"

Capture = Callable[..., io.StringIO]


@pytest.fixture
def capture() -> Iterator[Capture]:
    """logs.configure() onto a buffer; the root logger is put back as it was afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    access_disabled = logging.getLogger("uvicorn.access").disabled

    def configure(*, json_logs: bool = False) -> io.StringIO:
        buffer = io.StringIO()
        logs.configure(json_logs=json_logs, level="INFO", stream=buffer)
        return buffer

    yield configure
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = access_disabled


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET /api/v1/individuals?name=Sok+Dara&country=THA HTTP/1.1", "Sok"),
        ("Authorization: Bearer " + TOKEN, TOKEN[:12]),
        ("authorization: bearer " + TOKEN, TOKEN[:12]),
        ("api key hvn_live_S3cr3tV4lu3 used", "S3cr3tV4lu3"),
        ("mail to " + EMAIL + " failed", EMAIL),
        ("mail to sok+alerts@mail.example.co.uk failed", "sok+alerts"),
        (f"passport {PASSPORT} matched", "01234567"),
        ("phone +855 012345678 called", "012345678"),
    ],
)
def test_redact_removes_what_identifies(text: str, secret: str) -> None:
    redacted = logs.redact(text)
    assert secret not in redacted
    assert redacted != text


def test_redact_keeps_ordinary_text() -> None:
    text = "GET /api/v1/individuals/{individual_id} 200 12.5ms"
    assert logs.redact(text) == text


def test_the_filter_scrubs_arguments_of_any_library(capture: Capture) -> None:
    buffer = capture()
    logging.getLogger("httpx").info(
        "HTTP Request: %s %s", "GET", f"https://partner.example/hook?name={NAME}"
    )
    logging.getLogger("somelib").warning("user %s with %s", EMAIL, f"Bearer {TOKEN}")
    logging.getLogger("haven.test").info("document %s", PASSPORT)
    output = buffer.getvalue()
    assert output.count("\n") == 3
    for secret in ("Sok", EMAIL, TOKEN[:12], "01234567"):
        assert secret not in output
    assert "https://partner.example/hook?[redacted]" in output


def test_exception_messages_are_reduced_to_their_type(capture: Capture) -> None:
    buffer = capture()
    try:
        raise ValueError(f"duplicate key value ({NAME}, {PASSPORT})")
    except ValueError:
        logging.getLogger("haven.test").exception("insert failed")
    output = buffer.getvalue()
    assert "insert failed" in output and "ValueError" in output
    assert "Sok" not in output and "Traceback" not in output and PASSPORT not in output


def echo_app(app: FastAPI) -> FastAPI:
    """Routes taking a path parameter, a query string and a JSON body, like the API's."""

    @app.post("/people/{person_id}/notes")
    async def add_note(person_id: str, request: Request) -> dict[str, bool]:
        await request.json()
        return {"ok": True}

    @app.post("/people/{person_id}/explode")
    async def explode(person_id: str, request: Request) -> None:
        body = await request.json()
        raise RuntimeError(f"could not store {body['full_name']}")

    return app


def test_access_log_names_the_route_template(
    capture: Capture, fresh_database: Callable[..., FastAPI]
) -> None:
    app = echo_app(fresh_database())
    buffer = capture()
    with TestClient(app) as client:
        response = client.post("/people/98765432/notes", json={"body": "x"})
    assert response.status_code == 200
    access = [line for line in buffer.getvalue().splitlines() if "haven.access" in line]
    assert len(access) == 1
    assert "POST /people/{person_id}/notes 200" in access[0]
    assert "98765432" not in access[0]


def test_a_request_with_personal_data_leaves_none_in_the_logs(
    capture: Capture, fresh_database: Callable[..., FastAPI]
) -> None:
    app = echo_app(fresh_database())
    buffer = capture()
    body = {"full_name": "Chea Vannak", "contact": EMAIL, "passport": PASSPORT}
    with TestClient(app, raise_server_exceptions=False) as client:
        ok = client.post(f"/people/1234567/notes?name={NAME}", json=body)
        failed = client.post(f"/people/1234567/explode?name={NAME}", json=body)
        health = client.get(f"/healthz?name={NAME}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (ok.status_code, failed.status_code, health.status_code) == (200, 500, 200)
    output = buffer.getvalue()
    assert output.count("haven.access") == 3
    assert "unhandled RuntimeError on /people/{person_id}/explode" in output
    for secret in ("Sok", "Dara", "Chea", "Vannak", EMAIL, PASSPORT, "1234567", TOKEN[:12]):
        assert secret not in output, secret


def test_json_lines_parse_and_carry_the_request_id(
    capture: Capture, fresh_database: Callable[..., FastAPI]
) -> None:
    app = echo_app(fresh_database())
    buffer = capture(json_logs=True)
    with TestClient(app) as client:
        response = client.post(f"/people/42/notes?name={NAME}", json={"full_name": NAME})
    request_id = response.headers["x-request-id"]
    entries = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert entries
    for entry in entries:
        assert {"ts", "level", "logger", "msg"} <= set(entry)
    (access,) = [e for e in entries if e["logger"] == "haven.access"]
    assert access["request_id"] == request_id
    assert access["route"] == "/people/{person_id}/notes"
    assert access["method"] == "POST"
    assert access["status"] == 200
    assert isinstance(access["duration_ms"], float)
    assert "Sok" not in buffer.getvalue()


def test_text_lines_show_the_request_id_prefix(
    capture: Capture, fresh_database: Callable[..., FastAPI]
) -> None:
    app = fresh_database()
    buffer = capture()
    with TestClient(app) as client:
        response = client.get("/healthz", headers={"X-Request-ID": "abcdef0123456789"})
    assert response.headers["x-request-id"] == "abcdef0123456789"
    assert "haven.access: [abcdef01] GET /healthz 200" in buffer.getvalue()
