"""Possible duplicates: found within one organisation on document number, or folded name and
date of birth, across its caseworkers; never across organisations or for erased people."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import transaction
from app.models.audit import AuditEntry
from tests.factories import API, Team, unique


@pytest.fixture
def first(team: Team) -> dict[str, str]:
    return team.caseworker.headers


@pytest.fixture
def second(team: Team) -> dict[str, str]:
    return team.member("caseworker").headers


def a_name() -> tuple[str, str]:
    """One name written two ways that fold alike: spacing, case and accents."""
    tag = uuid.uuid4().hex[:8]
    return f"José  Álvarez {tag}", f"jose alvarez {tag.upper()}"


class TestOnRegistration:
    def test_always_present_and_empty_when_none(
        self, client: TestClient, team: Team, first: dict[str, str]
    ) -> None:
        assert team.register(first)["possible_duplicates"] == []

    def test_folded_name_and_birth_across_caseworkers(
        self, client: TestClient, team: Team, first: dict[str, str], second: dict[str, str]
    ) -> None:
        written, typed = a_name()
        earlier = team.register(first, full_name=written, date_of_birth="1980-05-02")
        later = team.register(second, full_name=typed, date_of_birth="1980-05-02")
        assert later["possible_duplicates"] == [earlier["id"]]
        # Ids only: the other caseworker's record stays outside her scope.
        assert client.get(f"{API}/individuals/{earlier['id']}", headers=second).status_code == 404

    def test_an_alias_or_native_name_matches_too(
        self, client: TestClient, team: Team, first: dict[str, str], second: dict[str, str]
    ) -> None:
        written, typed = a_name()
        earlier = team.register(
            first, full_name=unique("Other"), aliases=[written], date_of_birth="1975-01-09"
        )
        later = team.register(second, full_name=typed, date_of_birth="1975-01-09")
        assert later["possible_duplicates"] == [earlier["id"]]

    def test_same_name_another_birth_date_is_no_duplicate(
        self, client: TestClient, team: Team, first: dict[str, str], second: dict[str, str]
    ) -> None:
        written, typed = a_name()
        team.register(first, full_name=written, date_of_birth="1980-05-02")
        later = team.register(second, full_name=typed, date_of_birth="1980-05-03")
        assert later["possible_duplicates"] == []

    def test_a_name_alone_is_no_duplicate(
        self, client: TestClient, team: Team, first: dict[str, str], second: dict[str, str]
    ) -> None:
        written, typed = a_name()
        team.register(first, full_name=written)
        assert team.register(second, full_name=typed)["possible_duplicates"] == []

    def test_never_across_organisations(
        self, client: TestClient, team: Team, first: dict[str, str]
    ) -> None:
        written, typed = a_name()
        team.register(first, full_name=written, date_of_birth="1980-05-02")
        for role in ("caseworker", "supervisor"):
            elsewhere = team.elsewhere()
            headers = elsewhere.member(role).headers
            later = team.register(headers, full_name=typed, date_of_birth="1980-05-02")
            assert later["possible_duplicates"] == []

    def test_not_for_erased_people(
        self,
        client: TestClient,
        team: Team,
        first: dict[str, str],
        second: dict[str, str],
    ) -> None:
        written, typed = a_name()
        earlier = team.register(first, full_name=written, date_of_birth="1980-05-02")
        supervisor = team.member("supervisor").headers
        erased = client.request(
            "DELETE",
            f"{API}/individuals/{earlier['id']}",
            json={"reason": "Asked to be forgotten."},
            headers=supervisor,
        )
        assert erased.status_code == 204
        later = team.register(second, full_name=typed, date_of_birth="1980-05-02")
        assert later["possible_duplicates"] == []

    def test_matches_are_audited_as_reads_of_the_other_record(
        self,
        app: FastAPI,
        client: TestClient,
        team: Team,
        first: dict[str, str],
        second: dict[str, str],
    ) -> None:
        written, typed = a_name()
        earlier = team.register(first, full_name=written, date_of_birth="1980-05-02")
        team.register(second, full_name=typed, date_of_birth="1980-05-02")
        with transaction(app.state.sessionmaker) as session:
            actions = set(
                session.scalars(
                    select(AuditEntry.action).where(
                        AuditEntry.subject_id == uuid.UUID(earlier["id"])
                    )
                )
            )
        assert "individual.duplicate_match" in actions


class TestOnDocument:
    def test_same_number_across_caseworkers(
        self, client: TestClient, team: Team, first: dict[str, str], second: dict[str, str]
    ) -> None:
        number = uuid.uuid4().hex[:9].upper()
        earlier = team.register(first)
        assert team.document(first, earlier["id"], number=number)["possible_duplicates"] == []
        later = team.register(second)
        spaced = f"{number[:3]} {number[3:6]}-{number[6:].lower()}"
        document = team.document(second, later["id"], number=spaced)
        assert document["possible_duplicates"] == [earlier["id"]]

    def test_another_number_is_no_duplicate(
        self, client: TestClient, team: Team, first: dict[str, str], second: dict[str, str]
    ) -> None:
        earlier = team.register(first)
        team.document(first, earlier["id"], number=uuid.uuid4().hex[:9].upper())
        later = team.register(second)
        other = team.document(second, later["id"], number=uuid.uuid4().hex[:9].upper())
        assert other["possible_duplicates"] == []

    def test_never_across_organisations(
        self, client: TestClient, team: Team, first: dict[str, str]
    ) -> None:
        number = uuid.uuid4().hex[:9].upper()
        earlier = team.register(first)
        team.document(first, earlier["id"], number=number)
        headers = team.elsewhere().member("caseworker").headers
        later = team.register(headers)
        assert team.document(headers, later["id"], number=number)["possible_duplicates"] == []


class TestDuplicatesOfAPerson:
    def test_current_duplicates_both_ways(
        self, client: TestClient, team: Team, first: dict[str, str], second: dict[str, str]
    ) -> None:
        written, typed = a_name()
        earlier = team.register(first, full_name=written, date_of_birth="1980-05-02")
        later = team.register(second, full_name=typed, date_of_birth="1980-05-02")
        response = client.get(f"{API}/individuals/{earlier['id']}/duplicates", headers=first)
        assert response.status_code == 200
        assert response.json() == {"possible_duplicates": [later["id"]]}

    def test_outside_the_scope_is_404(
        self,
        client: TestClient,
        team: Team,
        first: dict[str, str],
        second: dict[str, str],
    ) -> None:
        path = f"{API}/individuals/{team.register(first)['id']}/duplicates"
        assert client.get(path, headers=second).status_code == 404
        other = team.elsewhere().member("supervisor").headers
        assert client.get(path, headers=other).status_code == 404

    @pytest.mark.parametrize("role", ["lawyer", "analyst", "auditor", "admin"])
    def test_roles_that_register_nobody_are_forbidden(
        self, client: TestClient, team: Team, first: dict[str, str], role: str
    ) -> None:
        person = team.register(first)["id"]
        headers = team.member(role).headers
        response = client.get(f"{API}/individuals/{person}/duplicates", headers=headers)
        assert response.status_code == 403
