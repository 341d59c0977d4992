"""An administrator does not reach case content unseen (issue 13, item 6).

Nobody changes their own role; a role change (or a new account) that grants case content alerts
the organisation's supervisors; service API keys expire, are listed and revocable, and their
creation alerts supervisors.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.models.user import ApiKey
from tests.auth.support import ME, bearer
from tests.factories import API, PASSWORD, Team, db, unique

USERS, KEYS = f"{API}/users", f"{API}/api-keys"


def _alerts(client: TestClient, headers: dict[str, str], rule: str) -> list[dict[str, Any]]:
    response = client.get(f"{API}/alerts", params={"status": "open"}, headers=headers)
    assert response.status_code == 200, response.text
    return [a for a in response.json()["items"] if a["rule"] == rule]


class TestOwnRole:
    def test_an_admin_cannot_make_itself_supervisor(self, client: TestClient, app: FastAPI) -> None:
        team = Team(app, client)
        admin = team.admin
        response = client.patch(
            f"{USERS}/{admin.id}", json={"role": "supervisor"}, headers=admin.headers
        )
        assert response.status_code == 403
        assert client.get(ME, headers=admin.headers).json()["role"] == "admin"
        # The same answer with the role unchanged or other fields alongside it.
        response = client.patch(
            f"{USERS}/{admin.id}",
            json={"role": "caseworker", "full_name": "Self Promoted"},
            headers=admin.headers,
        )
        assert response.status_code == 403

    def test_an_admin_may_still_change_its_own_name(self, client: TestClient, app: FastAPI) -> None:
        admin = Team(app, client).admin
        response = client.patch(
            f"{USERS}/{admin.id}", json={"full_name": "Dara Admin"}, headers=admin.headers
        )
        assert response.status_code == 200, response.text


class TestRoleGrantAlert:
    @pytest.mark.parametrize("role", ["supervisor", "caseworker", "lawyer"])
    def test_a_role_with_case_content_alerts_supervisors(
        self, client: TestClient, app: FastAPI, role: str
    ) -> None:
        team = Team(app, client)
        user = team.user("analyst")
        response = client.patch(
            f"{USERS}/{user.id}", json={"role": role}, headers=team.admin.headers
        )
        assert response.status_code == 200, response.text
        (alert,) = _alerts(client, team.supervisor.headers, "role_granted")
        assert user.username not in str(alert)
        assert _alerts(client, team.elsewhere().supervisor.headers, "role_granted") == []
        # Caseworkers do not see alerts about staff.
        assert _alerts(client, team.caseworker.headers, "role_granted") == []

    def test_a_role_without_case_content_raises_nothing(
        self, client: TestClient, app: FastAPI
    ) -> None:
        team = Team(app, client)
        user = team.user("caseworker")
        response = client.patch(
            f"{USERS}/{user.id}", json={"role": "analyst"}, headers=team.admin.headers
        )
        assert response.status_code == 200
        assert _alerts(client, team.supervisor.headers, "role_granted") == []

    def test_a_new_account_with_case_content_alerts_supervisors(
        self, client: TestClient, app: FastAPI
    ) -> None:
        team = Team(app, client)
        response = client.post(
            USERS,
            json={
                "username": unique("alias"),
                "password": PASSWORD,
                "role": "supervisor",
                "organisation": str(team.organisation.id),
            },
            headers=team.admin.headers,
        )
        assert response.status_code == 201, response.text
        assert len(_alerts(client, team.supervisor.headers, "role_granted")) == 1


class TestApiKeys:
    def test_a_key_expires_after_90_days_by_default(self, client: TestClient, app: FastAPI) -> None:
        team = Team(app, client)
        response = client.post(KEYS, json={"name": unique("sensor")}, headers=team.admin.headers)
        assert response.status_code == 201, response.text
        body = response.json()
        expires = dt.datetime.fromisoformat(body["expires_at"])
        left = expires - dt.datetime.now(dt.UTC)
        assert dt.timedelta(days=89) < left <= dt.timedelta(days=90)
        listed = {k["id"]: k for k in client.get(KEYS, headers=team.admin.headers).json()}
        assert listed[body["id"]]["expires_at"] is not None

    def test_the_expiry_is_settable_up_to_a_year(self, client: TestClient, app: FastAPI) -> None:
        admin = Team(app, client).admin
        short = client.post(
            KEYS, json={"name": unique("s"), "expires_in_days": 7}, headers=admin.headers
        )
        assert short.status_code == 201, short.text
        left = dt.datetime.fromisoformat(short.json()["expires_at"]) - dt.datetime.now(dt.UTC)
        assert dt.timedelta(days=6) < left <= dt.timedelta(days=7)
        for days in (0, 366, -1):
            response = client.post(
                KEYS, json={"name": unique("s"), "expires_in_days": days}, headers=admin.headers
            )
            assert response.status_code == 422, days

    def test_an_expired_key_is_401(self, client: TestClient, app: FastAPI) -> None:
        team = Team(app, client)
        created = client.post(KEYS, json={"name": unique("s")}, headers=team.admin.headers).json()
        key = bearer(created["key"])
        assert client.get(f"{API}/alerts", headers=key).status_code == 200
        with db(app) as session:
            session.execute(
                update(ApiKey)
                .where(ApiKey.id == uuid.UUID(created["id"]))
                .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
        assert client.get(f"{API}/alerts", headers=key).status_code == 401

    def test_keys_are_listed_and_revocable(self, client: TestClient, app: FastAPI) -> None:
        team = Team(app, client)
        created = client.post(KEYS, json={"name": unique("s")}, headers=team.admin.headers).json()
        assert created["id"] in {
            k["id"] for k in client.get(KEYS, headers=team.admin.headers).json()
        }
        revoked = client.delete(f"{KEYS}/{created['id']}", headers=team.admin.headers)
        assert revoked.status_code == 200
        assert client.get(f"{API}/alerts", headers=bearer(created["key"])).status_code == 401

    def test_creating_a_key_alerts_supervisors(self, client: TestClient, app: FastAPI) -> None:
        team = Team(app, client)
        created = client.post(KEYS, json={"name": unique("s")}, headers=team.admin.headers)
        assert created.status_code == 201
        (alert,) = _alerts(client, team.supervisor.headers, "api_key_created")
        assert _alerts(client, team.elsewhere().supervisor.headers, "api_key_created") == []
        assert created.json()["key"] not in str(alert)
