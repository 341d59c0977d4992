"""/metrics, /readyz and request ids: the operations surface says nothing about any person."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from app import migrate
from app.config import Settings

NAME = "Sok"
NUMBER = "123"


def _sample_keys(exposition: str) -> list[str]:
    """Each sample's name and labels, without its value (values are numbers and timestamps)."""
    return [
        line.rsplit(" ", 1)[0]
        for line in exposition.splitlines()
        if line and not line.startswith("#")
    ]


def _requests(exposition: str, route: str, status: str) -> float:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if (
                sample.name == "haven_http_requests_total"
                and sample.labels.get("route") == route
                and sample.labels.get("status") == status
            ):
                return sample.value
    return 0.0


def with_item_route(app: FastAPI) -> FastAPI:
    """A route with a path parameter, standing in for the API's /individuals/{id} and kin."""

    @app.get("/things/{thing_id}")
    def read_thing(thing_id: str) -> dict[str, bool]:
        return {"found": True}

    return app


def test_metrics_never_hold_a_raw_path_or_query(client: TestClient) -> None:
    assert client.get(f"/nope/{NUMBER}?name={NAME}").status_code == 404

    exposition = client.get("/metrics").text
    keys = _sample_keys(exposition)
    assert keys
    for key in keys:
        assert NUMBER not in key and NAME not in key and "/nope" not in key, key
    assert NAME not in exposition
    assert _requests(exposition, "<unmatched>", "404") >= 1


def test_metrics_label_requests_by_route_template(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = with_item_route(fresh_database())
    with TestClient(app) as client:
        assert client.get(f"/things/{NUMBER}?name={NAME}").status_code == 200
        exposition = client.get("/metrics").text
    assert _requests(exposition, "/things/{thing_id}", "200") == 1
    for key in _sample_keys(exposition):
        assert NUMBER not in key and NAME not in key, key


def test_healthz_is_counted(client: TestClient) -> None:
    before = _requests(client.get("/metrics").text, "/healthz", "200")
    assert client.get("/healthz").status_code == 200
    after = _requests(client.get("/metrics").text, "/healthz", "200")
    assert after == before + 1


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"haven_http_requests", "haven_http_request_duration_seconds"} <= names


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    ids = set()
    for path in ("/healthz", "/readyz", "/metrics", "/nope"):
        request_id = client.get(path).headers.get("x-request-id")
        assert request_id and re.fullmatch(r"[0-9a-f]{32}", request_id), path
        ids.add(request_id)
    assert len(ids) == 4  # a new one each time


def test_a_safe_incoming_request_id_is_kept_and_an_unsafe_one_replaced(
    client: TestClient,
) -> None:
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c21.abc"})
    assert kept.headers["x-request-id"] == "lb-7f3a9c21.abc"

    for unsafe in ("short", "has spaces in it", "x" * 65, "name=Sok Dara"):
        replaced = client.get("/healthz", headers={"X-Request-ID": unsafe})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"]), unsafe


def test_a_500_carries_the_request_id_and_no_detail(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()

    @app.get("/explode")
    def explode() -> None:
        raise RuntimeError(f"row value {NAME} Dara")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/explode")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "internal error",
        "request_id": response.headers["x-request-id"],
    }


def test_readyz_is_ready_on_a_healthy_app(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_readyz_names_an_unreachable_database(fresh_database: Callable[..., FastAPI]) -> None:
    app = fresh_database()
    healthy = app.state.engine
    # Nothing listens on port 1: every connection attempt is refused at once.
    app.state.engine = create_engine(
        "postgresql+psycopg://haven:secret-password@127.0.0.1:1/haven",
        connect_args={"connect_timeout": 2},
    )
    try:
        with TestClient(app) as client:
            response = client.get("/readyz")
    finally:
        app.state.engine.dispose()
        app.state.engine = healthy
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"].startswith("unreachable")
    assert body["checks"]["keyring"] == "ok"
    assert "secret-password" not in response.text and "127.0.0.1" not in response.text


def test_readyz_reports_migrations_behind_head(fresh_database: Callable[..., FastAPI]) -> None:
    app = fresh_database()
    cfg = migrate.alembic_config()
    with app.state.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")

    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["migrations"] == "behind head"

    migrate.upgrade(app.state.engine)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200


def test_postgresql_connections_give_up_after_a_connect_timeout(tmp_path: Path) -> None:
    # A host that drops packets must fail a request in seconds, not at the TCP timeout.
    from sqlalchemy import event

    from app.db import make_engine

    class Captured(Exception):
        pass

    base = "postgresql+psycopg://haven@db.invalid/haven"
    for url, expected in ((base, 10), (f"{base}?connect_timeout=3", "3")):
        settings = Settings(_env_file=None, database_url=url, data_dir=tmp_path)  # type: ignore[call-arg]
        engine = make_engine(settings)
        seen: dict[str, object] = {}

        def capture(dialect, record, cargs, cparams, seen=seen):  # type: ignore[no-untyped-def]
            seen.update(cparams)
            raise Captured

        event.listen(engine, "do_connect", capture)

        with pytest.raises(Captured):
            engine.connect()
        assert seen["connect_timeout"] == expected
        engine.dispose()


def test_a_pooled_connection_the_database_dropped_is_replaced_before_use(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL restarted (here: the server process of one connection ended) while the
    connection sat idle in the pool: the next checkout pings it, finds it gone and opens
    another, so no request fails for it."""
    from app import db

    if app.state.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL server process: runs with HAVEN_TEST_DATABASE=postgresql")
    engine = db.make_engine(app.state.settings)  # a pool of its own
    try:
        with engine.connect() as conn:
            first = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with app.state.engine.connect() as admin:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(first or 0)})")
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # idle long enough to be pinged
        with engine.connect() as conn:
            second = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        assert second != first
    finally:
        engine.dispose()


def test_readiness_does_not_queue_for_the_sqlite_write_lock(
    app: FastAPI, client: TestClient
) -> None:
    # A busy writer holds SQLite's one write lock: the probe still answers, and says ready.
    import sqlite3

    path = app.state.settings.sqlite_path
    if path is None:
        pytest.skip("SQLite's write lock: runs with HAVEN_TEST_DATABASE=sqlite")
    writer = sqlite3.connect(path, timeout=1)
    try:
        writer.execute("BEGIN IMMEDIATE")
        response = client.get("/readyz")
    finally:
        writer.rollback()
        writer.close()
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["database"] == "ok"
