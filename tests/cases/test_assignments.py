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

    def test_unassigning_the_caseworker_who_opened_it_ends_their_access(
        self, client: TestClient, team: Team
    ) -> None:
        """Issue 13, item 1: access follows current assignment. Having registered the person
        and opened the case is not a standing grant."""
        worker, colleague, boss = (
            team.member("caseworker"),
            team.member("caseworker"),
            team.member("supervisor"),
        )
        person = team.person(worker, contact="+66 81 555 0101", current_location="Mae Sot")
        case = team.case(worker, person)
        path = f"{API}/cases/{case['id']}"
        assert client.get(path, headers=worker.headers).json()["access"] == "assigned"
        assert team.assign(worker, case["id"], colleague, "caseworker").status_code == 201
        removed = client.delete(f"{path}/assignments/{worker.id}", headers=boss.headers)
        assert removed.status_code == 204
        h = worker.headers
        for read in (path, f"{path}/history", f"{path}/notes", f"{API}/individuals/{person}"):
            assert client.get(read, headers=h).status_code == 404, read
        listed = client.get(f"{API}/cases", params={"limit": 200}, headers=h).json()["items"]
        assert case["id"] not in {c["id"] for c in listed}
        people = client.get(f"{API}/individuals", params={"limit": 200}, headers=h).json()
        assert str(person) not in {p["id"] for p in people["items"]}
        writes = [
            ("POST", f"{API}/cases", {"individual_id": str(person)}),
            ("POST", f"{path}/notes", {"body": "Still here."}),
            ("PATCH", f"{API}/individuals/{person}", {"notes": "Moved."}),
            ("POST", f"{path}/assignments", {"user_id": str(worker.id), "role": "caseworker"}),
        ]
        for method, url, body in writes:
            response = client.request(method, url, json=body, headers=h)
            assert response.status_code == 404, (method, url, response.status_code)
        # The colleague still assigned keeps everything, location and contact included.
        kept = client.get(f"{API}/individuals/{person}", headers=colleague.headers)
        assert kept.status_code == 200 and kept.json()["contact"] == "+66 81 555 0101"
        # Assigned again: access again.
        assert team.assign(boss, case["id"], worker, "caseworker").status_code == 201
        assert client.get(path, headers=h).status_code == 200

    def test_another_current_assignment_keeps_the_person(
        self, client: TestClient, team: Team
    ) -> None:
        worker, boss = team.member("caseworker"), team.member("supervisor")
        person = team.person(worker, contact="+66 81 555 0202")
        first, second = team.case(worker, person), team.case(worker, person)
        removed = client.delete(
            f"{API}/cases/{first['id']}/assignments/{worker.id}", headers=boss.headers
        )
        assert removed.status_code == 204
        assert client.get(f"{API}/cases/{first['id']}", headers=worker.headers).status_code == 404
        assert client.get(f"{API}/cases/{second['id']}", headers=worker.headers).status_code == 200
        read = client.get(f"{API}/individuals/{person}", headers=worker.headers)
        assert read.status_code == 200 and read.json()["contact"] == "+66 81 555 0202"

    def test_registering_a_person_is_no_grant_once_a_case_is_worked_by_others(
        self, client: TestClient, team: Team
    ) -> None:
        """The registrar works the person until a case is opened; from then on, the case's
        assignments decide."""
        registrar, other, boss = (
            team.member("caseworker"),
            team.member("caseworker"),
            team.member("supervisor"),
        )
        person = team.person(registrar, contact="+66 81 555 0303")
        read = client.get(f"{API}/individuals/{person}", headers=registrar.headers)
        assert read.status_code == 200 and read.json()["contact"] == "+66 81 555 0303"
        case = team.case(boss, person)
        assert team.assign(boss, case["id"], other, "caseworker").status_code == 201
        h = registrar.headers
        assert client.get(f"{API}/individuals/{person}", headers=h).status_code == 404
        opened = client.post(f"{API}/cases", json={"individual_id": str(person)}, headers=h)
        assert opened.status_code == 404
