"""/incidents: reporting with source grading, scope of the people named, reading back."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.models.history import HistoryEntry
from app.models.incident import Incident, IncidentSubject
from tests.cases.support import audit_actions
from tests.factories import API, Team, db, incident_body, login, make_user, unique

DAY = dt.timedelta(days=1)


class TestCreateIncident:
    def test_several_people(self, client: TestClient, team: Team, app: FastAPI) -> None:
        worker = team.member("caseworker")
        first, second = team.person(worker), team.person(worker)
        incident = team.incident(worker, first, second, type="arrest")
        assert incident["type"] == "arrest"
        assert set(incident["individual_ids"]) == {str(first), str(second)}
        assert incident["description"] == "Held by immigration police after a raid on the flat."
        assert incident["source"] == {"name": "Family member", "reliability": "B", "credibility": 2}
        assert incident["after_return"] is False
        with db(app) as session:
            subjects = set(
                session.scalars(
                    select(IncidentSubject.individual_id).where(
                        IncidentSubject.incident_id == uuid.UUID(incident["id"])
                    )
                )
            )
            assert subjects == {first, second}
            for person in (first, second):
                entries = list(
                    session.scalars(
                        select(HistoryEntry).where(
                            HistoryEntry.individual_id == person,
                            HistoryEntry.kind == "incident.recorded",
                        )
                    )
                )
                assert [e.summary for e in entries] == ["Incident recorded: arrest"]
                assert entries[0].changes_ct is not None
        assert [e.action for e in audit_actions(app, incident["id"])] == ["incident.create"]

    def test_same_person_twice_is_named_once(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        incident = team.incident(worker, person, person)
        assert incident["individual_ids"] == [str(person)]

    def test_out_of_scope_person_is_404(self, client: TestClient, team: Team) -> None:
        mine, theirs = team.member("caseworker"), team.member("caseworker")
        own, other = team.person(mine), team.person(theirs)
        for people in ((own, other), (own, uuid.uuid4())):
            response = client.post(
                f"{API}/incidents", json=incident_body(*people), headers=mine.headers
            )
            assert response.status_code == 404
            assert str(people[1]) not in response.text

    def test_other_organisation_person_is_404(self, client: TestClient, team: Team) -> None:
        other_team = team.elsewhere()
        person = team.person(other_team.member("caseworker"))
        boss = team.member("supervisor")
        response = client.post(f"{API}/incidents", json=incident_body(person), headers=boss.headers)
        assert response.status_code == 404

    @pytest.mark.parametrize(
        "change",
        [
            {"type": "kidnapping"},
            {"type": "DETENTION"},
            {"source": {"name": "Press", "reliability": "G", "credibility": 2}},
            {"source": {"name": "Press", "reliability": "a", "credibility": 2}},
            {"source": {"name": "Press", "reliability": "B", "credibility": 7}},
            {"source": {"name": "Press", "reliability": "B", "credibility": 0}},
            {"source": {"name": "Press", "reliability": "B", "credibility": "2"}},
            {"source": {"name": "", "reliability": "B", "credibility": 2}},
            {"source": {"reliability": "B", "credibility": 2}},
            {"occurred_on": (dt.date.today() + 10 * DAY).isoformat()},
            {"occurred_on": "1899-12-31"},
            {"occurred_on": "2024-02-30"},
            {"country": "XYZ"},
            {"country": "TH"},
            {"description": "   "},
            {"description": None},
            {"individual_ids": []},
            {"individual_ids": [str(uuid.uuid4()) for _ in range(51)]},
            {"individual_ids": ["not-a-uuid"]},
            {"unexpected": "field"},
        ],
    )
    def test_bad_input_is_422(
        self, client: TestClient, team: Team, app: FastAPI, change: dict[str, object]
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        body = incident_body(person, **change)
        if change.get("description", "") is None:
            del body["description"]
        response = client.post(f"{API}/incidents", json=body, headers=worker.headers)
        assert response.status_code == 422, response.text
        with db(app) as session:
            assert not session.scalar(
                select(IncidentSubject.incident_id).where(IncidentSubject.individual_id == person)
            )

    def test_sealed_fields_never_in_plaintext(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        secret = f"Beaten in cell {unique('block')} by two officers"
        incident = team.incident(
            worker,
            person,
            description=secret,
            location="Cell block 7, Bangkok remand prison",
            perpetrator="Prison guards",
            source={"name": "Cellmate Somchai", "reliability": "C", "credibility": 3},
        )
        with db(app) as session:
            row = session.get(Incident, uuid.UUID(incident["id"]))
            assert row is not None
            stored = [row.description_ct, row.location_ct, row.perpetrator_ct, row.source_name_ct]
            for plain in (secret, "Cell block 7", "Prison guards", "Somchai"):
                assert all(plain.encode() not in (value or b"") for value in stored)
            assert row.source_reliability == "C" and row.source_credibility == 3
        read = client.get(f"{API}/incidents/{incident['id']}", headers=worker.headers)
        assert read.json()["description"] == secret

    def test_after_forced_return_is_kept_and_flagged(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person, bystander = team.person(worker), team.person(worker)
        today = dt.date.today()
        returned = team.incident(
            worker, person, type="forced_return", occurred_on=(today - 30 * DAY).isoformat()
        )
        assert returned["after_return"] is False
        later = team.incident(
            worker,
            person,
            bystander,
            type="coerced_confession",
            occurred_on=(today - 20 * DAY).isoformat(),
        )
        assert later["after_return"] is True
        earlier = team.incident(worker, person, occurred_on=(today - 40 * DAY).isoformat())
        assert earlier["after_return"] is False
        assert team.incident(worker, bystander)["after_return"] is False

    def test_roles_without_the_right_are_403(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        for role in ("lawyer", "analyst", "auditor", "admin"):
            who = team.member(role)
            response = client.post(
                f"{API}/incidents", json=incident_body(person), headers=who.headers
            )
            assert response.status_code == 403, role


class TestServiceKey:
    def test_monitor_posts_for_its_organisation_only(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        admin = make_user(app, "admin")
        created = client.post(
            f"{API}/api-keys",
            json={
                "name": unique("monitor"),
                "role": "service",
                "organisation": str(team.organisation.id),
            },
            headers=login(client, admin),
        )
        assert created.status_code == 201, created.text
        monitor = {"Authorization": f"Bearer {created.json()['key']}"}
        worker = team.member("caseworker")
        person = team.person(worker)
        incident = client.post(f"{API}/incidents", json=incident_body(person), headers=monitor)
        assert incident.status_code == 201, incident.text
        assert incident.json()["individual_ids"] == [str(person)]
        # The caseworker sees what the monitor reported.
        listed = client.get(
            f"{API}/incidents", params={"individual_id": str(person)}, headers=worker.headers
        )
        assert [i["id"] for i in listed.json()["items"]] == [incident.json()["id"]]
        # People of another organisation are not the monitor's to name.
        stranger = team.person(team.elsewhere().member("caseworker"))
        other = client.post(f"{API}/incidents", json=incident_body(stranger), headers=monitor)
        assert other.status_code == 404
        # ...and it reads nothing back.
        for path in (
            "/incidents",
            f"/incidents/{incident.json()['id']}",
            f"/individuals/{person}",
            "/individuals",
            "/cases",
        ):
            assert client.get(f"{API}{path}", headers=monitor).status_code == 403, path


class TestReadIncidents:
    def test_filter_by_person_and_scope(self, client: TestClient, team: Team) -> None:
        worker, outsider = team.member("caseworker"), team.member("caseworker")
        person = team.person(worker)
        incident = team.incident(worker, person)
        own = client.get(
            f"{API}/incidents", params={"individual_id": str(person)}, headers=worker.headers
        )
        assert own.status_code == 200
        assert [i["id"] for i in own.json()["items"]] == [incident["id"]]
        filtered = client.get(
            f"{API}/incidents", params={"individual_id": str(person)}, headers=outsider.headers
        )
        assert filtered.status_code == 404
        one = client.get(f"{API}/incidents/{incident['id']}", headers=outsider.headers)
        assert one.status_code == 404
        everything = client.get(f"{API}/incidents", headers=outsider.headers)
        assert incident["id"] not in {i["id"] for i in everything.json()["items"]}
        assert (
            client.get(f"{API}/incidents/{uuid.uuid4()}", headers=worker.headers).status_code == 404
        )

    def test_lists_only_people_in_scope(self, client: TestClient, team: Team) -> None:
        first, second = team.member("caseworker"), team.member("caseworker")
        boss = team.member("supervisor")
        mine, theirs = team.person(first), team.person(second)
        incident = team.incident(boss, mine, theirs)
        assert set(incident["individual_ids"]) == {str(mine), str(theirs)}
        seen = client.get(f"{API}/incidents/{incident['id']}", headers=first.headers)
        assert seen.status_code == 200
        assert seen.json()["individual_ids"] == [str(mine)]
        listed = client.get(f"{API}/incidents", headers=second.headers).json()["items"]
        assert [i["individual_ids"] for i in listed if i["id"] == incident["id"]] == [[str(theirs)]]

    def test_lawyer_reads_incidents_of_their_cases(self, client: TestClient, team: Team) -> None:
        worker, lawyer = team.member("caseworker"), team.member("lawyer")
        person = team.person(worker)
        incident = team.incident(worker, person)
        assert (
            client.get(f"{API}/incidents/{incident['id']}", headers=lawyer.headers).status_code
            == 404
        )
        case = team.case(worker, person)
        client.post(
            f"{API}/cases/{case['id']}/assignments",
            json={"user_id": str(lawyer.id), "role": "lawyer"},
            headers=worker.headers,
        )
        assert (
            client.get(f"{API}/incidents/{incident['id']}", headers=lawyer.headers).status_code
            == 200
        )

    def test_pages_newest_first(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        today = dt.date.today()
        made = [
            team.incident(worker, person, occurred_on=(today - n * DAY).isoformat())["id"]
            for n in (5, 1, 3)
        ]
        params = {"individual_id": str(person), "limit": 2}
        page = client.get(f"{API}/incidents", params=params, headers=worker.headers).json()
        assert [i["id"] for i in page["items"]] == [made[1], made[2]]
        assert page["next_cursor"]
        rest = client.get(
            f"{API}/incidents",
            params={**params, "cursor": page["next_cursor"]},
            headers=worker.headers,
        ).json()
        assert [i["id"] for i in rest["items"]] == [made[0]]
        assert rest["next_cursor"] is None
        bad = client.get(
            f"{API}/incidents", params={**params, "cursor": "garbage"}, headers=worker.headers
        )
        assert bad.status_code == 422
