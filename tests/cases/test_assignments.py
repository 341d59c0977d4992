"""/cases/{id}/assignments: who may assign whom."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.db import transaction
from app.models.user import User
from tests.factories import API, Team, make_user


class TestAssign:
    def test_supervisor_assigns_lawyer_idempotently(self, client: TestClient, team: Team) -> None:
        worker, boss, counsel = (
            team.member("caseworker"),
            team.member("supervisor"),
            team.member("lawyer"),
        )
        case = team.case(worker, team.person(worker))
        first = team.assign(boss, case["id"], counsel, "lawyer")
        assert first.status_code == 201, first.text
        assert (first.json()["user_id"], first.json()["role"]) == (str(counsel.id), "lawyer")
        again = team.assign(boss, case["id"], counsel, "lawyer")
        assert again.status_code == 200
        assert again.json()["assigned_at"] == first.json()["assigned_at"]
        read = client.get(f"{API}/cases/{case['id']}", headers=boss.headers).json()
        assert [a["user_id"] for a in read["assignments"]].count(str(counsel.id)) == 1

    def test_case_caseworker_assigns_colleague(self, client: TestClient, team: Team) -> None:
        worker, colleague = team.member("caseworker"), team.member("caseworker")
        case = team.case(worker, team.person(worker))
        path = f"{API}/cases/{case['id']}"
        assert client.get(path, headers=colleague.headers).status_code == 404
        assert team.assign(worker, case["id"], colleague, "caseworker").status_code == 201
        assert client.get(path, headers=colleague.headers).json()["access"] == "assigned"

    def test_assignee_must_fit(self, client: TestClient, team: Team, app: FastAPI) -> None:
        worker, boss = team.member("caseworker"), team.member("supervisor")
        counsel, colleague = team.member("lawyer"), team.member("caseworker")
        outsider = team.elsewhere().member("lawyer")
        case = team.case(worker, team.person(worker))
        assert team.assign(boss, case["id"], colleague, "lawyer").status_code == 422
        assert team.assign(boss, case["id"], counsel, "caseworker").status_code == 422
        assert team.assign(boss, case["id"], boss, "caseworker").status_code == 422
        assert team.assign(boss, case["id"], outsider, "lawyer").status_code == 422
        unknown = client.post(
            f"{API}/cases/{case['id']}/assignments",
            json={"user_id": "00000000-0000-4000-8000-000000000000", "role": "lawyer"},
            headers=boss.headers,
        )
        assert unknown.status_code == 422
        disabled = make_user(app, "lawyer", organisation=team.organisation)
        with transaction(app.state.sessionmaker) as session:
            row = session.get(User, disabled.id)
            assert row is not None
            row.disabled = True
        response = client.post(
            f"{API}/cases/{case['id']}/assignments",
            json={"user_id": str(disabled.id), "role": "lawyer"},
            headers=boss.headers,
        )
        assert response.status_code == 422
        bad_role = client.post(
            f"{API}/cases/{case['id']}/assignments",
            json={"user_id": str(counsel.id), "role": "supervisor"},
            headers=boss.headers,
        )
        assert bad_role.status_code == 422

    def test_who_may_assign(self, client: TestClient, team: Team, app: FastAPI) -> None:
        worker, counsel, other_counsel = (
            team.member("caseworker"),
            team.member("lawyer"),
            team.member("lawyer"),
        )
        stranger = team.member("caseworker")
        case = team.case(worker, team.person(worker))
        team.assign(worker, case["id"], counsel, "lawyer")
        # A lawyer's role may not assign at all, even on their own case.
        assert team.assign(counsel, case["id"], other_counsel, "lawyer").status_code == 403
        # A caseworker not on the case does not see it.
        assert team.assign(stranger, case["id"], other_counsel, "lawyer").status_code == 404
        # Another organisation's supervisor does not see it either.
        foreign_boss = team.elsewhere().member("supervisor")
        assert team.assign(foreign_boss, case["id"], counsel, "lawyer").status_code == 404
        for role in ("analyst", "auditor", "admin"):
            who = team.member(role)
            assert team.assign(who, case["id"], counsel, "lawyer").status_code == 403, role

    def test_emergency_access_does_not_allow_assigning(
        self, client: TestClient, team: Team
    ) -> None:
        worker, rescuer, counsel = (
            team.member("caseworker"),
            team.member("caseworker"),
            team.member("lawyer"),
        )
        case = team.case(worker, team.person(worker))
        granted = client.post(
            f"{API}/cases/{case['id']}/break-glass",
            json={"reason": "Client detained tonight; assigned caseworker unreachable."},
            headers=rescuer.headers,
        )
        assert granted.status_code == 201
        assert team.assign(rescuer, case["id"], counsel, "lawyer").status_code == 403


class TestUnassign:
    def test_removal_ends_access(self, client: TestClient, team: Team) -> None:
        worker, boss, counsel = (
            team.member("caseworker"),
            team.member("supervisor"),
            team.member("lawyer"),
        )
        case = team.case(worker, team.person(worker))
        team.assign(boss, case["id"], counsel, "lawyer")
        path = f"{API}/cases/{case['id']}"
        assert client.get(path, headers=counsel.headers).status_code == 200
        removed = client.delete(f"{path}/assignments/{counsel.id}", headers=worker.headers)
        assert removed.status_code == 204
        assert client.get(path, headers=counsel.headers).status_code == 404
        assert (
            client.delete(f"{path}/assignments/{counsel.id}", headers=boss.headers).status_code
            == 404
        )
        read = client.get(path, headers=boss.headers).json()
        assert str(counsel.id) not in [a["user_id"] for a in read["assignments"]]
        # Assigned again later: a new assignment.
        assert team.assign(boss, case["id"], counsel, "lawyer").status_code == 201
        assert client.get(path, headers=counsel.headers).status_code == 200
