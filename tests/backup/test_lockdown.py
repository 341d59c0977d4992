"""Lock-down for a raid: POST /api/v1/lock (supervisor or admin, with their password) or
`haven lock` stops every process serving records within 2 s, revokes every sign-in, drops the
keys from memory, is audited and alerted; `haven unlock` (with the keyring back from escrow
when it was destroyed) restores service."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import lockdown
from app.alerts import rules
from app.db import transaction
from app.main import create_app
from app.models import Alert, AuditEntry, Organisation
from tests.conftest import fresh_address
from tests.factories import Team, db, login
from tests.faults.support import haven, serving

API = "/api/v1"
LOCKED = {"detail": "Haven is locked"}


def _unlock(app: FastAPI) -> None:
    with transaction(app.state.sessionmaker) as session:
        lockdown.unlock(session, None, via="test")


def _wait_until(check: Callable[[], bool], within: float) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, f"not within {within} s"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_supervisor_locks_haven_down_and_every_route_but_health_stops(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    with TestClient(app, client=(fresh_address(), 5000)) as client:
        team = Team(app, client)
        supervisor, caseworker, admin = team.supervisor, team.caseworker, team.admin
        person = team.person(caseworker, full_name="Sok Dara")
        other = Team(app, client).supervisor  # a second organisation hears of it too
        read = f"{API}/individuals/{person}"

        refused = client.post(f"{API}/lock", json={"password": "x"}, headers=caseworker.headers)
        assert refused.status_code == 403
        wrong = client.post(
            f"{API}/lock", json={"password": "not my password at all"}, headers=supervisor.headers
        )
        assert wrong.status_code == 403 and wrong.json()["detail"] == "the password is wrong"
        assert client.get(read, headers=caseworker.headers).status_code == 200

        locked = client.post(
            f"{API}/lock", json={"password": supervisor.user.password}, headers=supervisor.headers
        )
        assert locked.status_code == 200, locked.text
        assert locked.json()["locked"] is True
        assert locked.json()["sessions_revoked"] >= 4

        for path, headers in [(read, caseworker.headers), (f"{API}/individuals", None)]:
            response = client.get(path, headers=headers)
            assert (response.status_code, response.json()) == (503, LOCKED)
        login_attempt = client.post(
            f"{API}/auth/login",
            json={"username": admin.user.username, "password": admin.user.password},
        )
        assert (login_attempt.status_code, login_attempt.json()) == (503, LOCKED)
        page = client.get("/", follow_redirects=False)
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "Haven" not in page.text and "Sok Dara" not in page.text
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["lockdown"] == "locked"
        # The keys this process held are gone from memory.
        assert len(app.state.crypto.keys.cache._items) == 0
        assert app.state.crypto.provider._keks == {}

        with db(app) as session:
            trail = session.execute(
                select(AuditEntry.action, AuditEntry.outcome, AuditEntry.actor_id).where(
                    AuditEntry.action == "deployment.lock"
                )
            ).all()
            assert ("deployment.lock", "denied", supervisor.id) in trail
            assert ("deployment.lock", "ok", supervisor.id) in trail
            alerted = set(
                session.scalars(
                    select(Alert.organisation_id).where(
                        Alert.rule == rules.DEPLOYMENT_LOCKED, Alert.severity == "critical"
                    )
                )
            )
            assert alerted == set(session.scalars(select(Organisation.id)))
            assert other.user.organisation_id in alerted

        _unlock(app)
        _wait_until(lambda: client.get("/readyz").status_code == 200, within=2.0)
        # Every sign-in from before the lock stays revoked; a new one reads again.
        assert client.get(read, headers=caseworker.headers).status_code == 401
        fresh = login(client, caseworker.user)
        response = client.get(read, headers=fresh)
        assert response.status_code == 200 and response.json()["full_name"] == "Sok Dara"
        with db(app) as session:
            assert session.scalar(
                select(Alert.id).where(Alert.rule == rules.DEPLOYMENT_UNLOCKED).limit(1)
            )


def test_a_lock_made_through_one_app_reaches_another_on_the_same_database_within_a_second(
    fresh_database: Callable[..., FastAPI],
) -> None:
    first = fresh_database()
    second = create_app(first.state.settings)
    try:
        with TestClient(second, client=(fresh_address(), 5000)) as client:
            team = Team(second, client)
            person = team.person(team.caseworker)
            assert client.get("/readyz").status_code == 200
            with transaction(first.state.sessionmaker) as session:
                lockdown.lock(session, None, via="test")
            took = _wait_until(
                lambda: client.get(f"{API}/individuals/{person}").status_code == 503, within=2.0
            )
            assert took <= lockdown.CHECK_SECONDS + 0.5
    finally:
        second.state.engine.dispose()


@pytest.mark.slow
def test_lock_down_reaches_a_second_haven_serve_within_two_seconds_and_escrow_brings_it_back(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    """Two `haven serve` processes on one database (PostgreSQL on that run). A supervisor locks
    through the first with --destroy-local-keyring semantics; the second stops serving within
    2 s; `haven unlock` is refused until the keyring is recovered from 3 of 5 shares."""
    app = fresh_database()
    settings = app.state.settings
    with TestClient(app, client=(fresh_address(), 5000)) as client:
        team = Team(app, client)
        supervisor, caseworker = team.supervisor, team.caseworker
        person = team.person(caseworker, full_name="Chea Sophal")
    app.state.engine.dispose()
    escrowed = haven(settings, tmp_path, "keys", "escrow", "--out", str(tmp_path / "shares"))
    assert escrowed.returncode == 0, escrowed.stderr
    shares = sorted((tmp_path / "shares").glob("*.txt"))
    with serving(settings, tmp_path) as a, serving(settings, tmp_path) as b:
        with a.client(supervisor.user) as at_a, b.client(caseworker.user) as at_b:
            assert at_b.get(f"{API}/individuals/{person}").status_code == 200
            locked = at_a.post(
                f"{API}/lock",
                json={"password": supervisor.user.password, "destroy_local_keyring": True},
            )
            assert locked.status_code == 200, locked.text
            sent = time.monotonic()
            took = _wait_until(
                lambda: at_b.get(f"{API}/individuals/{person}").status_code == 503, within=2.0
            )
            assert at_b.get(f"{API}/individuals/{person}").json() == LOCKED
            assert httpx.get(f"{b.url}/healthz").status_code == 200
            assert httpx.get(f"{b.url}/readyz").json()["checks"]["lockdown"] == "locked"
            assert time.monotonic() - sent < 2.5, took
        assert not settings.key_file.exists(), "the keyring file was destroyed"

        refused = haven(settings, tmp_path, "unlock")
        assert refused.returncode == 1 and "keyring" in refused.stderr
        assert "Traceback" not in refused.stderr
        recovered = haven(settings, tmp_path, "keys", "recover", *map(str, shares[1:4]))
        assert recovered.returncode == 0, recovered.stderr
        unlocked = haven(settings, tmp_path, "unlock")
        assert unlocked.returncode == 0, unlocked.stderr
        with b.client(caseworker.user) as again:  # a new sign-in: the old one was revoked
            _wait_until(
                lambda: again.get(f"{API}/individuals/{person}").status_code == 200, within=2.0
            )
            assert again.get(f"{API}/individuals/{person}").json()["full_name"] == "Chea Sophal"
