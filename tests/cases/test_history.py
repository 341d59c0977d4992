"""/cases/{id}/history: every change to the case and its person, in order, as of a moment."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.cases.support import audit_actions
from tests.factories import API, Member, Team


def timeline(client: TestClient, who: Member, case_id: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"{API}/cases/{case_id}/history", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()["entries"]


class TestHistory:
    def test_every_kind_of_change_in_order(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        worker, boss, counsel = (
            team.member("caseworker"),
            team.member("supervisor"),
            team.member("lawyer"),
        )
        person = team.person(worker, current_location="Bangkok, Huai Khwang")
        case = team.case(worker, person, title="Airport detention")
        path = f"{API}/cases/{case['id']}"
        steps = [
            client.patch(
                f"{API}/individuals/{person}",
                json={"contact": "+66 81 234 5678", "affiliation": "Opposition party"},
                headers=worker.headers,
            ),
            client.post(
                f"{API}/individuals/{person}/unhcr-status",
                json={"status": "person_of_concern", "effective_date": "2024-11-01"},
                headers=worker.headers,
            ),
        ]
        assert all(s.status_code in (200, 201) for s in steps), [s.text for s in steps]
        team.incident(worker, person, type="detention")
        assert (
            client.patch(path, json={"priority": "urgent"}, headers=worker.headers).status_code
            == 200
        )
        assert team.assign(boss, case["id"], counsel, "lawyer").status_code == 201
        note = client.post(
            f"{path}/notes", json={"body": "Lawyer briefed."}, headers=worker.headers
        )
        assert note.status_code == 201

        entries = timeline(client, worker, case["id"])
        assert [e["kind"] for e in entries] == [
            "individual.created",
            "risk.reassessed",  # assessed on registration: low
            "case.opened",
            "individual.updated",
            "unhcr_status.added",
            "incident.recorded",
            "risk.reassessed",  # low -> high: custody in a state not party to the Convention
            "alert.raised",  # risk_escalated
            "alert.raised",  # a detention in a host state: host_custody
            "case.updated",
            "case.assigned",
            "case.note_added",
        ]
        ats = [e["at"] for e in entries]
        assert ats == sorted(ats)
        assert all(e["actor"] for e in entries)
        by_kind = {e["kind"]: e for e in entries}
        assert by_kind["incident.recorded"]["summary"] == "Incident recorded: detention"
        assert by_kind["incident.recorded"]["changes"]["type"] == "detention"
        assert by_kind["case.updated"]["changes"]["priority"] == {"from": "normal", "to": "urgent"}
        assert by_kind["case.assigned"]["changes"] == {
            "user": counsel.user.username,
            "role": "lawyer",
        }
        assert by_kind["case.note_added"]["changes"] == {"body": "Lawyer briefed."}
        assert by_kind["unhcr_status.added"]["changes"]["status"]["to"] == "person_of_concern"
        # The assigned caseworker sees contact details; counsel sees the values, except those.
        assert by_kind["individual.updated"]["changes"]["contact"]["to"] == "+66 81 234 5678"
        assert (
            by_kind["individual.created"]["changes"]["current_location"] == "Bangkok, Huai Khwang"
        )
        for entry in entries:
            assert "Bangkok" not in entry["summary"] and "+66" not in entry["summary"]
        counsel_view = {e["kind"]: e for e in timeline(client, counsel, case["id"])}
        assert counsel_view.keys() == by_kind.keys()
        updated = counsel_view["individual.updated"]["changes"]
        assert "contact" not in updated and updated["affiliation"]["to"] == "Opposition party"
        assert "current_location" not in counsel_view["individual.created"]["changes"]
        assert counsel_view["case.note_added"]["changes"] == {"body": "Lawyer briefed."}
        assert "case.history.read" in [e.action for e in audit_actions(app, case["id"])]

    def test_as_of_returns_the_earlier_state(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        case = team.case(worker, person)
        team.incident(worker, person)
        client.patch(f"{API}/cases/{case['id']}", json={"priority": "high"}, headers=worker.headers)
        full = timeline(client, worker, case["id"])
        kinds = [e["kind"] for e in full]
        moment = full[kinds.index("incident.recorded")]["at"]
        earlier = timeline(client, worker, case["id"], as_of=moment)
        assert [e["kind"] for e in earlier] == [
            "individual.created",
            "risk.reassessed",
            "case.opened",
            "incident.recorded",
        ]
        assert earlier == full[:4]
        before_everything = timeline(client, worker, case["id"], as_of="2000-01-01T00:00:00Z")
        assert before_everything == []
        naive = timeline(client, worker, case["id"], as_of=moment.replace("Z", "").split("+")[0])
        assert len(naive) == 4

    def test_bad_as_of_is_422(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        case = team.case(worker, team.person(worker))
        future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
        for value in (future, "yesterday", "2024-13-01T00:00:00Z"):
            response = client.get(
                f"{API}/cases/{case['id']}/history",
                params={"as_of": value},
                headers=worker.headers,
            )
            assert response.status_code == 422, value

    def test_other_cases_of_the_person_stay_out(self, client: TestClient, team: Team) -> None:
        worker, boss, counsel = (
            team.member("caseworker"),
            team.member("supervisor"),
            team.member("lawyer"),
        )
        person = team.person(worker)
        first = team.case(worker, person)
        second = team.case(worker, person)
        team.assign(boss, first["id"], counsel, "lawyer")
        client.post(
            f"{API}/cases/{second['id']}/notes",
            json={"body": "Other matter."},
            headers=worker.headers,
        )
        kinds = [e["kind"] for e in timeline(client, counsel, first["id"])]
        assert kinds == ["individual.created", "risk.reassessed", "case.opened", "case.assigned"]
        assert "case.note_added" in [e["kind"] for e in timeline(client, worker, second["id"])]

    def test_roles(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        case = team.case(worker, team.person(worker))
        path = f"{API}/cases/{case['id']}/history"
        assert client.get(path, headers=team.member("caseworker").headers).status_code == 404
        assert client.get(path, headers=team.member("supervisor").headers).status_code == 200
        for role in ("analyst", "auditor", "admin"):
            assert client.get(path, headers=team.member(role).headers).status_code == 403, role
