"""POST /documents/revocations: scenario 1 of the mission — a list of 12, then one of 39."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import transaction
from app.models.audit import AuditEntry
from app.models.document import DocumentStatusChange, TravelDocument
from app.models.history import HistoryEntry
from tests.factories import Team, passport_number

REVOCATIONS = "/api/v1/documents/revocations"


def holder(team: Team, headers: dict[str, str], number: str, **fields: Any) -> str:
    """A new person holding one document; returns the document id."""
    return team.document(headers, team.person(headers), number=number, **fields)["id"]


def apply(client: TestClient, headers: dict[str, str], numbers: list[str], **body: Any) -> Any:
    payload = {
        "issuing_country": "KHM",
        "numbers": numbers,
        "effective_date": "2019-11-06",
        "source": "MFA letter seen",
        **body,
    }
    return client.post(REVOCATIONS, json=payload, headers=headers)


def counts(app: FastAPI, document_ids: list[str]) -> tuple[int, int]:
    """Status-change rows and history entries of these documents."""
    ids = [uuid.UUID(d) for d in document_ids]
    with transaction(app.state.sessionmaker) as session:
        changes = session.scalar(
            select(func.count())
            .select_from(DocumentStatusChange)
            .where(DocumentStatusChange.document_id.in_(ids))
        )
        entries = session.scalar(
            select(func.count()).select_from(HistoryEntry).where(HistoryEntry.subject_id.in_(ids))
        )
    return changes or 0, entries or 0


def statuses(app: FastAPI, document_ids: list[str]) -> dict[str, str]:
    with transaction(app.state.sessionmaker) as session:
        rows = session.execute(
            select(TravelDocument.id, TravelDocument.status).where(
                TravelDocument.id.in_([uuid.UUID(d) for d in document_ids])
            )
        ).all()
    return {str(r.id): r.status for r in rows}


@pytest.fixture
def sup(team: Team) -> dict[str, str]:
    return team.supervisor.headers


@pytest.fixture
def other_sup(team: Team) -> dict[str, str]:
    """A supervisor of another organisation."""
    return team.elsewhere().supervisor.headers


class TestApplyRevocations:
    def test_scenario_twelve_then_thirty_nine(
        self,
        client: TestClient,
        team: Team,
        app: FastAPI,
        sup: dict[str, str],
        other_sup: dict[str, str],
    ) -> None:
        held = [passport_number() for _ in range(9)]
        held_docs = [holder(team, sup, n) for n in held]
        elsewhere = passport_number()  # held in another organisation
        elsewhere_doc = holder(team, other_sup, elsewhere)
        thai = passport_number()  # same number, issued by another state
        thai_doc = holder(team, sup, thai, issuing_country="THA")
        later = passport_number()  # registered only after the first list
        # As a government would print them: spacing and hyphens vary.
        first = [f"{n[:1]} {n[1:5]}-{n[5:]}" for n in held[:3]] + held[3:]
        first += [elsewhere, thai, later]
        assert len(first) == 12

        response = apply(client, sup, first)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["matched"] == 9
        assert result["newly_revoked"] == 9
        assert result["unmatched"] == [elsewhere, thai, later]
        first_list = result["list_id"]
        assert set(statuses(app, held_docs).values()) == {"revoked"}
        assert statuses(app, [elsewhere_doc, thai_doc]) == {
            elsewhere_doc: "valid",
            thai_doc: "valid",
        }
        assert counts(app, held_docs) == (18, 18)  # initial + revoked, each

        # The same list again changes nothing.
        before = counts(app, held_docs)
        again = apply(client, sup, first).json()
        assert (again["matched"], again["newly_revoked"]) == (9, 0)
        assert again["unmatched"] == [elsewhere, thai, later]
        assert counts(app, held_docs) == before

        # The second list: the 9 again, a person registered since, 10 new holders, 19 unknown.
        later_doc = holder(team, sup, later)
        fresh = [passport_number() for _ in range(10)]
        fresh_docs = [holder(team, sup, n) for n in fresh]
        unknown = [passport_number("K") for _ in range(19)]
        second = [*held, later, *fresh, *unknown]
        assert len(second) == 39
        result = apply(client, sup, second, effective_date="2019-12-10").json()
        assert result["matched"] == 20
        assert result["newly_revoked"] == 11
        assert result["unmatched"] == unknown
        assert result["list_id"] != first_list
        assert counts(app, held_docs) == before  # no second change for the overlap
        assert counts(app, [*fresh_docs, later_doc]) == (22, 22)
        assert set(statuses(app, [*fresh_docs, later_doc]).values()) == {"revoked"}

        with transaction(app.state.sessionmaker) as session:
            lists = session.execute(
                select(
                    DocumentStatusChange.document_id, DocumentStatusChange.revocation_list_id
                ).where(
                    DocumentStatusChange.document_id.in_(
                        [uuid.UUID(d) for d in held_docs + fresh_docs]
                    ),
                    DocumentStatusChange.status == "revoked",
                )
            ).all()
        by_document = {str(r.document_id): str(r.revocation_list_id) for r in lists}
        assert {by_document[d] for d in held_docs} == {first_list}
        assert {by_document[d] for d in fresh_docs} == {result["list_id"]}

        # The other organisation's supervisor matches only their own document.
        theirs = apply(client, other_sup, first).json()
        assert (theirs["matched"], theirs["newly_revoked"]) == (1, 1)
        assert statuses(app, [elsewhere_doc]) == {elsewhere_doc: "revoked"}

    def test_revocation_visible_on_the_document(
        self, client: TestClient, team: Team, sup: dict[str, str]
    ) -> None:
        number = passport_number()
        document = holder(team, sup, number)
        result = apply(client, sup, [number]).json()
        body = client.get(f"/api/v1/documents/{document}", headers=sup).json()
        assert (body["status"], body["status_date"], body["status_source"]) == (
            "revoked",
            "2019-11-06",
            "MFA letter seen",
        )
        assert body["status_history"][-1]["revocation_list_id"] == result["list_id"]

    def test_previously_lost_document_becomes_revoked(
        self, client: TestClient, team: Team, sup: dict[str, str]
    ) -> None:
        number = passport_number()
        document = holder(team, sup, number, status="lost")
        assert apply(client, sup, [number]).json()["newly_revoked"] == 1
        assert client.get(f"/api/v1/documents/{document}", headers=sup).json()["status"] == (
            "revoked"
        )

    def test_list_numbers_are_not_stored_in_the_audit_trail(
        self, client: TestClient, app: FastAPI, sup: dict[str, str]
    ) -> None:
        numbers = [passport_number("Q") for _ in range(3)]
        list_id = apply(client, sup, numbers).json()["list_id"]
        with transaction(app.state.sessionmaker) as session:
            details = session.scalar(
                select(AuditEntry.details).where(
                    AuditEntry.action == "document.revocations.apply",
                    AuditEntry.details.like(f"%{list_id}%"),
                )
            )
        assert details is not None
        assert not any(n in details for n in numbers)

    def test_caseworker_is_403(self, client: TestClient, team: Team, app: FastAPI) -> None:
        caseworker = team.caseworker.headers
        assert apply(client, caseworker, [passport_number()]).status_code == 403

    @pytest.mark.parametrize(
        "body",
        [
            {"numbers": []},
            {"numbers": ["N1"] * 5001},
            {"issuing_country": "XYZ"},
            {"effective_date": "yesterday"},
            {"source": ""},
        ],
    )
    def test_invalid_list(
        self, client: TestClient, sup: dict[str, str], body: dict[str, Any]
    ) -> None:
        numbers = body.pop("numbers", [passport_number()])
        assert apply(client, sup, numbers, **body).status_code == 422
