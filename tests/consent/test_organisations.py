"""/organisations: created by administrators, listed for staff who refer cases; the scope
rules hold per organisation."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import transaction
from app.models.audit import AuditEntry
from tests.factories import API, Team, UserHandle, login, make_organisation, make_user, unique

ORGS = f"{API}/organisations"


@pytest.fixture
def admin(app: FastAPI, client: TestClient) -> dict[str, str]:
    return login(client, make_user(app, "admin"))


class TestCreateOrganisation:
    def test_anonymous(self, client: TestClient) -> None:
        assert client.post(ORGS, json={"name": unique("Legal Aid")}).status_code == 401

    @pytest.mark.parametrize("role", ["supervisor", "caseworker", "lawyer", "analyst", "auditor"])
    def test_only_administrators(self, app: FastAPI, client: TestClient, role: str) -> None:
        headers = login(client, make_user(app, role))
        response = client.post(ORGS, json={"name": unique("Legal Aid")}, headers=headers)
        assert response.status_code == 403

    def test_created_and_audited(
        self, app: FastAPI, client: TestClient, admin: dict[str, str]
    ) -> None:
        name = unique("Legal Aid Mae Sot")
        response = client.post(ORGS, json={"name": f"  {name} "}, headers=admin)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["name"] == name
        assert set(body) == {"id", "name", "created_at", "time_zone", "locale"}
        assert body["time_zone"] is None and body["locale"] is None  # no defaults yet
        with transaction(app.state.sessionmaker) as session:
            actions = list(
                session.scalars(
                    select(AuditEntry.action).where(AuditEntry.subject_id == uuid.UUID(body["id"]))
                )
            )
        assert actions == ["organisation.create"]

    def test_a_name_taken_in_the_same_instant_is_409_not_500(
        self, client: TestClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Another admin's request commits the name between this one's check and its insert.
        from app import organisations

        name = unique("Refugee Law Centre")
        assert client.post(ORGS, json={"name": name}, headers=admin).status_code == 201
        monkeypatch.setattr(organisations, "named", lambda session, value: None)
        response = client.post(ORGS, json={"name": name}, headers=admin)
        assert response.status_code == 409, response.text
        assert client.get(ORGS, headers=admin).status_code == 200

    def test_duplicate_name_whatever_its_case_is_409(
        self, client: TestClient, admin: dict[str, str]
    ) -> None:
        name = unique("Ásylum Legal Aid")
        assert client.post(ORGS, json={"name": name}, headers=admin).status_code == 201
        for same in (name, name.upper(), name.lower(), f" {name.swapcase()} "):
            response = client.post(ORGS, json={"name": same}, headers=admin)
            assert response.status_code == 409, same

    @pytest.mark.parametrize("name", ["", "   ", "x" * 201, "line\nbreak", None, 5])
    def test_invalid_names_are_422(
        self, client: TestClient, admin: dict[str, str], name: object
    ) -> None:
        assert client.post(ORGS, json={"name": name}, headers=admin).status_code == 422

    def test_unknown_fields_are_422(self, client: TestClient, admin: dict[str, str]) -> None:
        response = client.post(ORGS, json={"name": unique("x"), "default": True}, headers=admin)
        assert response.status_code == 422


class TestListOrganisations:
    @pytest.mark.parametrize("role", ["admin", "supervisor", "caseworker"])
    def test_staff_who_refer_see_id_and_name(
        self, app: FastAPI, client: TestClient, role: str
    ) -> None:
        partner = make_organisation(app, unique("UNHCR liaison"))
        headers = login(client, make_user(app, role))
        response = client.get(ORGS, headers=headers)
        assert response.status_code == 200
        found = [o for o in response.json() if o["id"] == str(partner.id)]
        assert found == [{"id": str(partner.id), "name": partner.name}]

    @pytest.mark.parametrize("role", ["lawyer", "analyst", "auditor"])
    def test_others_are_forbidden(self, app: FastAPI, client: TestClient, role: str) -> None:
        headers = login(client, make_user(app, role))
        assert client.get(ORGS, headers=headers).status_code == 403

    def test_anonymous(self, client: TestClient) -> None:
        assert client.get(ORGS).status_code == 401


class TestScopePerOrganisation:
    """Staff of an organisation created through the API see nothing of another's caseload."""

    def test_new_organisation_starts_empty(
        self, client: TestClient, team: Team, admin: dict[str, str]
    ) -> None:
        worker = team.caseworker.headers
        person = team.register(worker)["id"]
        case = team.case(worker, person)["id"]

        created = client.post(ORGS, json={"name": unique("Partner")}, headers=admin).json()
        staff = {}
        for role in ("supervisor", "caseworker", "lawyer"):
            user = client.post(
                f"{API}/users",
                json={
                    "username": unique(role),
                    "password": "a long enough test passphrase",
                    "role": role,
                    "organisation": created["id"],
                },
                headers=admin,
            )
            assert user.status_code == 201, user.text
            handle = UserHandle(
                uuid.UUID(user.json()["id"]),
                user.json()["username"],
                role,
                uuid.UUID(created["id"]),
            )
            staff[role] = login(client, handle)
        for role, headers in staff.items():
            for path in (
                f"{API}/individuals/{person}",
                f"{API}/individuals/{person}/consent",
                f"{API}/cases/{case}",
                f"{API}/cases/{case}/history",
            ):
                assert client.get(path, headers=headers).status_code == 404, (role, path)
            listed = client.get(f"{API}/individuals", headers=headers).json()["items"]
            assert person not in {p["id"] for p in listed}
            cases = client.get(f"{API}/cases", headers=headers).json()["items"]
            assert case not in {c["id"] for c in cases}
        # Their caseworker's break-glass on the other organisation's case finds nothing.
        response = client.post(
            f"{API}/cases/{case}/break-glass",
            json={"reason": "Detained tonight; nobody can be reached at the other office."},
            headers=staff["caseworker"],
        )
        assert response.status_code == 404
