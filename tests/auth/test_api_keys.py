"""API keys of automated systems: created by an admin, shown once, stored hashed, revocable."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.models.user import ApiKey
from tests.auth.support import ME, audit_entries, bearer, mentions, raw_row, request_id, sha256
from tests.factories import db, login, make_organisation, make_user, unique

KEYS = "/api/v1/api-keys"


def _create(client: TestClient, headers: dict[str, str], **fields: Any) -> Any:
    return client.post(
        KEYS, json={"name": unique("sensor"), "role": "service", **fields}, headers=headers
    )


def _new_key(client: TestClient, headers: dict[str, str]) -> tuple[uuid.UUID, str]:
    response = _create(client, headers)
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"]), response.json()["key"]


class TestCreateApiKey:
    def test_create_returns_id_and_key(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        name = unique("sensor")
        response = client.post(KEYS, json={"name": name, "role": "service"}, headers=admin_headers)
        assert response.status_code == 201
        body = response.json()
        assert {"id", "key"} <= set(body)
        uuid.UUID(body["id"])
        assert isinstance(body["key"], str) and len(body["key"]) >= 40
        assert body["name"] == name and body["role"] == "service"

    def test_role_defaults_to_service(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        response = client.post(KEYS, json={"name": unique("sensor")}, headers=admin_headers)
        assert response.status_code == 201 and response.json()["role"] == "service"

    def test_each_key_is_different(self, client: TestClient, admin_headers: dict[str, str]) -> None:
        assert _new_key(client, admin_headers)[1] != _new_key(client, admin_headers)[1]

    @pytest.mark.parametrize("role", ["admin", "supervisor", "caseworker", "auditor"])
    def test_a_role_other_than_service_is_400(
        self, client: TestClient, admin_headers: dict[str, str], role: str
    ) -> None:
        assert _create(client, admin_headers, role=role).status_code == 400

    def test_an_unknown_role_is_422(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        assert _create(client, admin_headers, role="robot").status_code == 422

    def test_belongs_to_the_admins_organisation_by_default(
        self, client: TestClient, app: FastAPI
    ) -> None:
        org = make_organisation(app)
        headers = login(client, make_user(app, "admin", organisation=org))
        key_id, _ = _new_key(client, headers)
        with db(app) as session:
            assert session.get_one(ApiKey, key_id).organisation_id == org.id

    def test_the_key_is_stored_only_as_a_hash(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        key_id, key = _new_key(client, admin_headers)
        with db(app) as session:
            row = raw_row(session, "api_key", "id", key_id)
            everything = session.execute(select(ApiKey.__table__)).mappings().all()
        assert bytes(row["key_hash"]) == sha256(key)
        assert not any(mentions(dict(r), key) for r in everything)

    def test_the_key_is_never_listed(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        key_id, key = _new_key(client, admin_headers)
        response = client.get(KEYS, headers=admin_headers)
        assert response.status_code == 200
        assert str(key_id) in {k["id"] for k in response.json()}
        assert key not in response.text

    @pytest.mark.parametrize("role", ["supervisor", "caseworker", "lawyer", "analyst", "auditor"])
    def test_non_admin_is_403(self, client: TestClient, app: FastAPI, role: str) -> None:
        headers = login(client, make_user(app, role))
        assert _create(client, headers).status_code == 403
        assert client.get(KEYS, headers=headers).status_code == 403
        assert client.delete(f"{KEYS}/{uuid.uuid4()}", headers=headers).status_code == 403

    def test_a_service_key_cannot_make_keys(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        _, key = _new_key(client, admin_headers)
        assert _create(client, bearer(key)).status_code == 403

    def test_no_token_is_401(self, client: TestClient) -> None:
        assert _create(client, {}).status_code == 401


class TestUsingApiKey:
    def test_the_key_authenticates_as_service(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        key_id, key = _new_key(client, admin_headers)
        rid = request_id()
        # Authenticated (403, not 401), but service may not manage users...
        response = client.get("/api/v1/users", headers={**bearer(key), "X-Request-ID": rid})
        assert response.status_code == 403
        # ...and the denial was recorded against the key, acting with the service role.
        [denied] = audit_entries(app, rid)
        assert denied.action == "permission.denied"
        assert denied.actor_id == key_id and denied.actor_role == "service"

    def test_service_has_no_session_actions(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        _, key = _new_key(client, admin_headers)
        assert client.post("/api/v1/auth/logout", headers=bearer(key)).status_code == 403
        assert client.post("/api/v1/auth/mfa/enroll", headers=bearer(key)).status_code == 403

    def test_a_key_asks_who_it_is(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        """A monitoring system checks its key (which organisation, which role) on /auth/me."""
        key_id, key = _new_key(client, admin_headers)
        admin = client.get(ME, headers=admin_headers).json()
        response = client.get(ME, headers=bearer(key))
        assert response.status_code == 200, response.text
        me = response.json()
        assert me["id"] == str(key_id)
        assert (me["kind"], me["role"]) == ("api_key", "service")
        assert me["organisation"] == admin["organisation"]
        assert me["username"].startswith("api-key:") and me["mfa_enabled"] is None
        client.delete(f"{KEYS}/{key_id}", headers=admin_headers)
        assert client.get(ME, headers=bearer(key)).status_code == 401

    def test_an_unknown_key_is_401(self, client: TestClient, admin_headers: dict[str, str]) -> None:
        _, key = _new_key(client, admin_headers)
        forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
        assert client.get("/api/v1/users", headers=bearer(forged)).status_code == 401

    def test_last_used_at_is_set_after_use(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        key_id, key = _new_key(client, admin_headers)
        with db(app) as session:
            assert session.get_one(ApiKey, key_id).last_used_at is None
        client.get("/api/v1/users", headers=bearer(key))
        with db(app) as session:
            used = session.get_one(ApiKey, key_id).last_used_at
        assert used is not None
        listed = {k["id"]: k for k in client.get(KEYS, headers=admin_headers).json()}
        assert listed[str(key_id)]["last_used_at"] is not None


class TestRevokeApiKey:
    def test_revoked_key_is_401(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        key_id, key = _new_key(client, admin_headers)
        assert client.get("/api/v1/users", headers=bearer(key)).status_code == 403
        response = client.delete(f"{KEYS}/{key_id}", headers=admin_headers)
        assert response.status_code == 200
        assert response.json()["revoked_at"] is not None
        assert client.get("/api/v1/users", headers=bearer(key)).status_code == 401

    def test_revoking_one_key_leaves_others(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        one_id, _ = _new_key(client, admin_headers)
        _, two = _new_key(client, admin_headers)
        assert client.delete(f"{KEYS}/{one_id}", headers=admin_headers).status_code == 200
        assert client.get("/api/v1/users", headers=bearer(two)).status_code == 403

    def test_revoking_twice_keeps_the_first_time(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        key_id, _ = _new_key(client, admin_headers)
        first = client.delete(f"{KEYS}/{key_id}", headers=admin_headers).json()["revoked_at"]
        second = client.delete(f"{KEYS}/{key_id}", headers=admin_headers)
        assert second.status_code == 200 and second.json()["revoked_at"] == first

    def test_unknown_key_is_404(self, client: TestClient, admin_headers: dict[str, str]) -> None:
        assert client.delete(f"{KEYS}/{uuid.uuid4()}", headers=admin_headers).status_code == 404
