"""GET /alerts/stream: Server-Sent Events over a real server on a loopback port."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.alerts import routes
from tests.factories import API, Team

WAIT = 10.0


@pytest.fixture(scope="module")
def server(app: FastAPI) -> Iterator[str]:
    """The test app served by uvicorn in a thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=2,  # streams still open are cut, not waited for
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not instance.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=3 * WAIT)
    assert not thread.is_alive()


def read_events(
    base: str, headers: dict[str, str], out: queue.Queue[Any], stop: threading.Event
) -> None:
    """Parse the stream into (event, id, data) tuples; comments go through as ("comment", text)."""
    with (
        httpx.Client(timeout=httpx.Timeout(WAIT, read=30.0)) as http,
        http.stream("GET", f"{base}{API}/alerts/stream", headers=headers) as response,
    ):
        out.put(("status", response.status_code, response.headers.get("content-type")))
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line.startswith(":"):
                out.put(("comment", line[1:].strip(), None))
            elif line == "":
                if "data" in fields:
                    out.put((fields.get("event"), fields.get("id"), json.loads(fields["data"])))
                fields = {}
            else:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")


def next_item(out: queue.Queue[Any], until: float) -> Any:
    return out.get(timeout=max(0.01, until - time.monotonic()))


@pytest.fixture
def quick_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    """Heartbeats every half second, so readers told to stop notice it soon."""
    monkeypatch.setattr(routes, "HEARTBEAT_SECONDS", 0.5)


@pytest.mark.usefixtures("quick_heartbeat")
class TestStream:
    def test_an_incident_reaches_the_stream(
        self, server: str, client: TestClient, team: Team
    ) -> None:
        worker, outsider = team.member("caseworker"), team.member("caseworker")
        person = team.person(worker)
        mine: queue.Queue[Any] = queue.Queue()
        theirs: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()
        readers = [
            threading.Thread(target=read_events, args=(server, who.headers, out, stop), daemon=True)
            for who, out in ((worker, mine), (outsider, theirs))
        ]
        for reader in readers:
            reader.start()
        try:
            deadline = time.monotonic() + WAIT
            for out in (mine, theirs):
                assert next_item(out, deadline) == (
                    "status",
                    200,
                    "text/event-stream; charset=utf-8",
                )
                kind, text, _ = next_item(out, deadline)
                assert kind == "comment" and text.startswith("connected")

            team.incident(worker, person, type="detention")
            deadline = time.monotonic() + WAIT
            found = None
            while found is None:
                event, event_id, data = next_item(mine, deadline)
                if event == "alert" and data["rule"] == "host_custody":
                    found = (event_id, data)
            event_id, data = found
            assert data["individual_id"] == str(person)
            assert (data["severity"], data["status"], data["occurrences"]) == (
                "critical",
                "open",
                1,
            )
            assert event_id == f"{data['id']}@{data['updated_at'].replace('Z', '+00:00')}"

            ack = client.post(f"{API}/alerts/{data['id']}/acknowledge", headers=worker.headers)
            assert ack.status_code == 200
            while True:
                event, _, changed = next_item(mine, deadline)
                if event == "alert" and changed["id"] == data["id"]:
                    assert changed["status"] == "acknowledged"
                    break

            time.sleep(1.5)  # a poll or two: nothing of this person reaches another's stream
            beats = 0
            while not theirs.empty():
                event, text, other = theirs.get_nowait()
                beats += event == "comment" and text == "heartbeat"
                if event == "alert":
                    assert other["individual_id"] != str(person)
            assert beats >= 1
        finally:
            stop.set()
        for reader in readers:
            reader.join(timeout=WAIT)
            assert not reader.is_alive()

    def test_last_event_id_resumes(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        team.incident(worker, person, type="deportation_order")
        (alert,) = [
            a
            for a in client.get(
                f"{API}/alerts", params={"individual_id": str(person)}, headers=worker.headers
            ).json()["items"]
            if a["rule"] == "removal_order"
        ]
        before = "00000000-0000-0000-0000-000000000000@2000-01-01T00:00:00+00:00"
        response = client.get(
            f"{API}/alerts/stream",
            params={"once": 1},
            headers={**worker.headers, "Last-Event-ID": before},
        )
        assert response.status_code == 200
        assert f"id: {alert['id']}@" in response.text
        assert response.text.rstrip().endswith(": heartbeat")

    def test_once_without_news(self, client: TestClient, team: Team) -> None:
        worker = team.member("supervisor")
        response = client.get(f"{API}/alerts/stream", params={"once": 1}, headers=worker.headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "event: alert" not in response.text

    def test_unauthenticated_is_401(self, server: str, client: TestClient) -> None:
        assert client.get(f"{API}/alerts/stream").status_code == 401
        response = httpx.get(f"{server}{API}/alerts/stream", timeout=WAIT)
        assert response.status_code == 401
        bad = httpx.get(
            f"{server}{API}/alerts/stream",
            headers={"Authorization": "Bearer hvn_s_not-a-token"},
            timeout=WAIT,
        )
        assert bad.status_code == 401

    def test_roles_without_alerts_are_403(self, client: TestClient, team: Team) -> None:
        analyst = team.member("analyst")
        response = client.get(f"{API}/alerts/stream", params={"once": 1}, headers=analyst.headers)
        assert response.status_code == 403

    def test_a_revoked_token_ends_the_stream(
        self, server: str, client: TestClient, team: Team
    ) -> None:
        worker = team.member("caseworker")
        out: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()
        threading.Thread(
            target=read_events, args=(server, worker.headers, out, stop), daemon=True
        ).start()
        deadline = time.monotonic() + WAIT
        assert next_item(out, deadline)[:2] == ("status", 200)
        assert client.post(f"{API}/auth/logout", headers=worker.headers).status_code in (200, 204)
        try:
            while True:
                event, _, _ = next_item(out, deadline)
                if event == "end":
                    break
        finally:
            stop.set()
