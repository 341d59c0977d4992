"""POST /individuals/{id}/merge: a supervisor's action that hides the duplicate and keeps
both histories on the survivor."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import transaction
from app.models.audit import AuditEntry
from app.models.individual import Individual
from tests.consent.support import give
from tests.factories import API, Team, unique


@pytest.fixture
def supervisor(team: Team) -> dict[str, str]:
    return team.supervisor.headers


@pytest.fixture
def caseworker(team: Team) -> dict[str, str]:
    return team.caseworker.headers


def merge(client: TestClient, headers: dict[str, str], duplicate: str, into: str) -> int:
    response = client.post(
        f"{API}/individuals/{duplicate}/merge", json={"into": into}, headers=headers
    )
    return response.status_code


def kinds(client: TestClient, headers: dict[str, str], case: str) -> list[str]:
    response = client.get(f"{API}/cases/{case}/history", headers=headers)
    assert response.status_code == 200, response.text
    return [entry["kind"] for entry in response.json()["entries"]]


class TestMerge:
    def test_hidden_from_reads_lists_and_searches(
        self, client: TestClient, team: Team, supervisor: dict[str, str], caseworker: dict[str, str]
    ) -> None:
        name = unique("Chanthy Sok")
        survivor = team.register(caseworker, full_name=name, date_of_birth="1990-01-01")
        duplicate = team.register(caseworker, full_name=name, date_of_birth="1990-01-01")
        assert duplicate["possible_duplicates"] == [survivor["id"]]
        response = client.post(
            f"{API}/individuals/{duplicate['id']}/merge",
            json={"into": survivor["id"]},
            headers=supervisor,
        )
        assert response.status_code == 200, response.text
        assert response.json()["merged_into"] == survivor["id"]
        for headers in (supervisor, caseworker):
            path = f"{API}/individuals/{duplicate['id']}"
            assert client.get(path, headers=headers).status_code == 404
            found = client.get(f"{API}/individuals", params={"name": name}, headers=headers)
            assert [p["id"] for p in found.json()["items"]] == [survivor["id"]]
        # No longer offered as a duplicate of the survivor.
        again = client.get(f"{API}/individuals/{survivor['id']}/duplicates", headers=supervisor)
        assert again.json() == {"possible_duplicates": []}

    def test_both_histories_on_the_survivor_and_cases_kept(
        self, client: TestClient, team: Team, supervisor: dict[str, str], caseworker: dict[str, str]
    ) -> None:
        survivor = team.register(caseworker)["id"]
        duplicate = team.register(caseworker)["id"]
        kept = team.case(caseworker, survivor)["id"]
        theirs = team.case(caseworker, duplicate)["id"]
        give(client, caseworker, duplicate, share=True)
        assert merge(client, supervisor, duplicate, survivor) == 200
        entries = client.get(f"{API}/cases/{kept}/history", headers=supervisor).json()["entries"]
        about = {(e["kind"], e["subject_id"]) for e in entries}
        assert ("individual.created", survivor) in about
        assert ("individual.created", duplicate) in about  # the merged record's own history
        assert ("individual.merged_in", duplicate) in about
        assert any(e["kind"] == "consent.recorded" for e in entries)
        assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
        # The merged record's case is still there, its history naming the merge.
        assert client.get(f"{API}/cases/{theirs}", headers=caseworker).status_code == 200
        assert "individual.merged" in kinds(client, caseworker, theirs)

    def test_audited_on_both(
        self, app: FastAPI, client: TestClient, team: Team, supervisor: dict[str, str], caseworker
    ) -> None:
        survivor = team.register(caseworker)["id"]
        duplicate = team.register(caseworker)["id"]
        assert merge(client, supervisor, duplicate, survivor) == 200
        with transaction(app.state.sessionmaker) as session:
            rows = session.execute(
                select(AuditEntry.action, AuditEntry.subject_id).where(
                    AuditEntry.action.in_(["individual.merge", "individual.merge_into"])
                    & AuditEntry.subject_id.in_([uuid.UUID(survivor), uuid.UUID(duplicate)])
                )
            ).all()
            stored = session.get(Individual, uuid.UUID(duplicate))
            assert stored is not None and str(stored.merged_into_id) == survivor
            assert stored.merged_at is not None and stored.merged_by is not None
        assert {(a, str(s)) for a, s in rows} == {
            ("individual.merge", duplicate),
            ("individual.merge_into", survivor),
        }

    def test_earlier_merges_follow_to_the_new_survivor(
        self, client: TestClient, team: Team, supervisor: dict[str, str], caseworker: dict[str, str]
    ) -> None:
        a, b, c = (team.register(caseworker)["id"] for _ in range(3))
        assert merge(client, supervisor, a, b) == 200
        assert merge(client, supervisor, b, c) == 200
        case = team.case(caseworker, c)["id"]
        entries = client.get(f"{API}/cases/{case}/history", headers=supervisor).json()["entries"]
        created = {e["subject_id"] for e in entries if e["kind"] == "individual.created"}
        assert created == {a, b, c}

    def test_erasing_the_survivor_erases_the_merged_record(
        self, app: FastAPI, client: TestClient, team: Team, supervisor: dict[str, str], caseworker
    ) -> None:
        survivor = team.register(caseworker)["id"]
        duplicate = team.register(caseworker)["id"]
        assert merge(client, supervisor, duplicate, survivor) == 200
        response = client.request(
            "DELETE",
            f"{API}/individuals/{survivor}",
            json={"reason": "Asked to be forgotten."},
            headers=supervisor,
        )
        assert response.status_code == 204
        with transaction(app.state.sessionmaker) as session:
            stored = session.get(Individual, uuid.UUID(duplicate))
            assert stored is not None and stored.erased_at is not None
            assert stored.full_name_ct is None


class TestRefused:
    def test_into_itself_is_409(
        self, client: TestClient, team: Team, supervisor, caseworker
    ) -> None:
        person = team.register(caseworker)["id"]
        assert merge(client, supervisor, person, person) == 409

    def test_already_merged_is_409(
        self, client: TestClient, team: Team, supervisor, caseworker
    ) -> None:
        a, b, c = (team.register(caseworker)["id"] for _ in range(3))
        assert merge(client, supervisor, a, b) == 200
        assert merge(client, supervisor, a, c) == 409
        assert merge(client, supervisor, c, a) == 409

    def test_erased_is_409(self, client: TestClient, team: Team, supervisor, caseworker) -> None:
        a, b = (team.register(caseworker)["id"] for _ in range(2))
        response = client.request(
            "DELETE", f"{API}/individuals/{a}", json={"reason": "Asked."}, headers=supervisor
        )
        assert response.status_code == 204
        assert merge(client, supervisor, a, b) == 409
        assert merge(client, supervisor, b, a) == 409

    @pytest.mark.parametrize("role", ["caseworker", "lawyer", "analyst", "auditor", "admin"])
    def test_only_supervisors(self, client: TestClient, team: Team, caseworker, role: str) -> None:
        a, b = (team.register(caseworker)["id"] for _ in range(2))
        headers = team.member(role).headers
        assert merge(client, headers, a, b) == 403

    def test_another_organisation_is_404_either_way(
        self, client: TestClient, team: Team, supervisor, caseworker
    ) -> None:
        mine = team.register(caseworker)["id"]
        elsewhere = team.elsewhere()
        theirs = team.register(elsewhere.member("caseworker").headers)["id"]
        assert merge(client, supervisor, theirs, mine) == 404
        assert merge(client, supervisor, mine, theirs) == 404
        assert merge(client, supervisor, mine, str(uuid.uuid4())) == 404

    def test_invalid_body_is_422(
        self, client: TestClient, team: Team, supervisor, caseworker
    ) -> None:
        person = team.register(caseworker)["id"]
        response = client.post(
            f"{API}/individuals/{person}/merge", json={"into": "nobody"}, headers=supervisor
        )
        assert response.status_code == 422
