"""/individuals/{id}/documents and /documents/{id}, through the API with real sign-ins."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import transaction
from app.models.document import DocumentStatusChange, TravelDocument
from app.models.history import HistoryEntry
from tests.documents.support import HAVEN_VECTOR, td3
from tests.factories import Team, passport_number

INDIVIDUALS = "/api/v1/individuals"
DOCUMENTS = "/api/v1/documents"


@pytest.fixture
def headers(team: Team) -> dict[str, str]:
    return team.caseworker.headers


@pytest.fixture
def other_headers(team: Team) -> dict[str, str]:
    """A caseworker of the same organisation who works none of these cases."""
    return team.member("caseworker").headers


@pytest.fixture
def person(team: Team, headers: dict[str, str]) -> uuid.UUID:
    return team.person(headers, date_of_birth="1985-03-15")


def post(client: TestClient, headers: dict[str, str], person: uuid.UUID, **body: Any) -> Any:
    return client.post(f"{INDIVIDUALS}/{person}/documents", json=body, headers=headers)


class TestCreateDocument:
    def test_passport_with_valid_mrz(
        self, client: TestClient, headers: dict[str, str], person: uuid.UUID
    ) -> None:
        number = passport_number()
        response = post(
            client,
            headers,
            person,
            type="passport",
            number=number,
            issuing_country="KHM",
            issued_on="2018-01-02",
            expires_on="2028-01-01",
            status="valid",
            mrz=td3(number),
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["number"] == number
        assert body["issuing_country"] == "KHM"
        assert body["issued_on"] == "2018-01-02"
        assert body["expires_on"] == "2028-01-01"
        assert body["status"] == "valid"
        assert body["mrz"] == td3(number)
        assert body["warnings"] == []

    def test_number_country_and_expiry_taken_from_the_mrz(
        self, client: TestClient, team: Team, headers: dict[str, str], person: uuid.UUID
    ) -> None:
        number = passport_number()
        body = team.document(
            headers, person, issuing_country=None, mrz=td3(number, issuer="D", nationality="KHM")
        )
        assert (body["number"], body["issuing_country"]) == (number, "DEU")
        assert body["expires_on"] == "2028-01-01"

    @pytest.mark.parametrize(
        ("typed", "mrz_fields", "field"),
        [
            ({"number": "N99999999"}, {}, "number"),
            ({"issuing_country": "THA"}, {}, "issuing_country"),
            ({"expires_on": "2030-05-05"}, {}, "expires_on"),
            ({}, {"born": "850316"}, "mrz.date_of_birth"),
            ({}, {"nationality": "VNM"}, "mrz.nationality"),
        ],
    )
    def test_an_mrz_that_contradicts_is_refused_naming_the_field(
        self,
        client: TestClient,
        headers: dict[str, str],
        person: uuid.UUID,
        typed: dict[str, str],
        mrz_fields: dict[str, str],
        field: str,
    ) -> None:
        """A revocation list names the MRZ's number: a typed number that differs from it would
        be stored, and the list would miss the passport."""
        number = passport_number()
        body = {"type": "passport", "number": number, "issuing_country": "KHM"}
        body |= {"expires_on": "2028-01-01", "mrz": td3(number, **mrz_fields)} | typed
        response = post(client, headers, person, **body)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field
        assert field.removeprefix("mrz.") in response.json()["detail"]
        with transaction(client.app.state.sessionmaker) as session:  # type: ignore[attr-defined]
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(TravelDocument)
                    .where(TravelDocument.individual_id == person)
                )
                == 0
            )

    def test_an_mrz_that_agrees_is_accepted_without_warnings(
        self, team: Team, headers: dict[str, str], person: uuid.UUID
    ) -> None:
        number = passport_number()
        body = team.document(
            headers,
            person,
            number=number,
            issuing_country="KHM",
            expires_on="2028-01-01",
            mrz=td3(number, nationality="KHM"),
        )
        assert body["warnings"] == []

    @pytest.mark.parametrize("with_mrz", [False, True])
    def test_expiry_before_issue_is_refused(
        self, client: TestClient, headers: dict[str, str], person: uuid.UUID, with_mrz: bool
    ) -> None:
        number = passport_number()
        body: dict[str, Any] = {"type": "passport", "issued_on": "2020-02-02"}
        if with_mrz:  # the expiry comes from the MRZ (1 Jan 2020)
            body["mrz"] = td3(number, expiry="200101")
        else:
            body |= {"number": number, "issuing_country": "KHM", "expires_on": "2020-02-01"}
        response = post(client, headers, person, **body)
        assert response.status_code == 422, response.text
        assert "expires_on" in response.text
        same_day = body | {"issued_on": "2020-01-01" if with_mrz else "2020-02-01"}
        assert post(client, headers, person, **same_day).status_code == 201

    def test_number_spelt_differently_from_the_mrz_is_no_warning(
        self, client: TestClient, team: Team, headers: dict[str, str], person: uuid.UUID
    ) -> None:
        number = passport_number()
        spelt = f"{number[0].lower()} {number[1:5]}-{number[5:]}"
        assert team.document(headers, person, number=spelt, mrz=td3(number))["warnings"] == []

    def test_bad_check_digit_names_the_field(
        self, client: TestClient, headers: dict[str, str], person: uuid.UUID
    ) -> None:
        line1, line2 = HAVEN_VECTOR.split("\n")
        bad = f"{line1}\n{line2[:19]}7{line2[20:]}"
        response = post(client, headers, person, type="passport", mrz=bad)
        assert response.status_code == 422
        assert response.json() == {
            "detail": "mrz: bad check digit in date_of_birth",
            "field": "mrz.date_of_birth",
        }

    def test_wrong_length_names_the_line(
        self, client: TestClient, headers: dict[str, str], person: uuid.UUID
    ) -> None:
        response = post(client, headers, person, type="passport", mrz=HAVEN_VECTOR[:-1])
        assert response.status_code == 422
        assert response.json()["field"] == "mrz.line2"

    @pytest.mark.parametrize("country", ["XYZ", "KH", "XXA", "123"])
    def test_invalid_country(
        self, client: TestClient, headers: dict[str, str], person: uuid.UUID, country: str
    ) -> None:
        response = post(
            client, headers, person, type="passport", number="N1", issuing_country=country
        )
        assert response.status_code == 422

    def test_icao_only_code_accepted_from_an_mrz(
        self, client: TestClient, team: Team, headers: dict[str, str], person: uuid.UUID
    ) -> None:
        mrz = td3(passport_number(), issuer="UNO")
        assert (
            team.document(headers, person, issuing_country=None, mrz=mrz)["issuing_country"]
            == "UNO"
        )

    def test_unknown_issuing_state_in_the_mrz(
        self, client: TestClient, headers: dict[str, str], person: uuid.UUID
    ) -> None:
        response = post(client, headers, person, type="passport", mrz=td3("X1", issuer="UTO"))
        assert response.status_code == 422
        assert response.json()["field"] == "mrz.issuing_state"

    @pytest.mark.parametrize(
        "body",
        [
            {"status": "stolen"},
            {"type": "visa"},
            {"number": None, "mrz": None},
            {"number": "--"},
            {"surprise": 1},
        ],
    )
    def test_invalid_body(
        self, client: TestClient, headers: dict[str, str], person: uuid.UUID, body: dict[str, Any]
    ) -> None:
        base = {"type": "passport", "number": "N1", "issuing_country": "KHM", "status": "valid"}
        response = post(client, headers, person, **{**base, **body})
        assert response.status_code == 422

    def test_out_of_scope_person_is_404(
        self, client: TestClient, other_headers: dict[str, str], person: uuid.UUID
    ) -> None:
        response = post(
            client, other_headers, person, type="passport", number="N1", issuing_country="KHM"
        )
        assert response.status_code == 404

    def test_lawyer_may_not_add(self, client: TestClient, team: Team, person: uuid.UUID) -> None:
        lawyer = team.lawyer.headers
        response = post(client, lawyer, person, type="passport", number="N1", issuing_country="KHM")
        assert response.status_code == 403

    def test_number_is_sealed_in_the_row(
        self,
        client: TestClient,
        team: Team,
        app: FastAPI,
        headers: dict[str, str],
        person: uuid.UUID,
    ) -> None:
        number = passport_number()
        document = team.document(headers, person, number=number, mrz=td3(number))
        forms = [number.encode(), number.encode("utf-16-le"), number.encode().hex().encode()]
        with transaction(app.state.sessionmaker) as session:
            row = session.execute(
                select(TravelDocument.__table__).where(
                    TravelDocument.id == uuid.UUID(document["id"])
                )
            ).one()
            history = session.execute(
                select(HistoryEntry.summary, HistoryEntry.changes_ct).where(
                    HistoryEntry.individual_id == person
                )
            ).all()
        stored = [v for v in row if v is not None] + [v for h in history for v in h if v]
        for value in stored:
            data = value if isinstance(value, bytes) else str(value).encode()
            assert not any(form in data for form in forms)
        assert row.number_index is not None


class TestListAndRead:
    def test_list_documents_of_a_person(
        self, client: TestClient, team: Team, headers: dict[str, str], person: uuid.UUID
    ) -> None:
        first = team.document(headers, person, number=passport_number())
        second = team.document(headers, person, type="national_id", number="ID-42")
        response = client.get(f"{INDIVIDUALS}/{person}/documents", headers=headers)
        assert response.status_code == 200
        assert [d["id"] for d in response.json()] == [first["id"], second["id"]]

    def test_read_one_with_its_status_history(
        self, client: TestClient, team: Team, headers: dict[str, str], person: uuid.UUID
    ) -> None:
        document = team.document(headers, person, number=passport_number())
        response = client.get(f"{DOCUMENTS}/{document['id']}", headers=headers)
        assert response.status_code == 200
        assert [c["status"] for c in response.json()["status_history"]] == ["valid"]

    def test_other_caseworker_gets_404(
        self,
        client: TestClient,
        team: Team,
        headers: dict[str, str],
        other_headers: dict[str, str],
        person: uuid.UUID,
    ) -> None:
        document = team.document(headers, person, number=passport_number())
        url = f"{DOCUMENTS}/{document['id']}"
        assert client.get(url, headers=other_headers).status_code == 404
        patch = {"status": "lost", "status_date": "2024-01-01"}
        assert client.patch(url, json=patch, headers=other_headers).status_code == 404
        listing = client.get(f"{INDIVIDUALS}/{person}/documents", headers=other_headers)
        assert listing.status_code == 404
        assert client.get(url, headers=headers).json()["status"] == "valid"

    def test_unknown_id_is_404(self, client: TestClient, headers: dict[str, str]) -> None:
        assert client.get(f"{DOCUMENTS}/{uuid.uuid4()}", headers=headers).status_code == 404


class TestSearchByNumber:
    def test_found_with_spacing_and_hyphen_variants(
        self,
        client: TestClient,
        team: Team,
        headers: dict[str, str],
        other_headers: dict[str, str],
        person: uuid.UUID,
    ) -> None:
        number = passport_number()
        team.document(headers, person, number=number)
        variants = [
            number,
            number.lower(),
            f"{number[0]} {number[1:]}",
            f"{number[:4]}-{number[4:]}",
        ]
        for variant in variants:
            response = client.get(INDIVIDUALS, params={"document_number": variant}, headers=headers)
            assert response.status_code == 200
            assert [p["id"] for p in response.json()["items"]] == [str(person)], variant
        response = client.get(
            INDIVIDUALS, params={"document_number": number}, headers=other_headers
        )
        assert response.json()["items"] == []

    def test_other_number_finds_nobody(
        self, client: TestClient, team: Team, headers: dict[str, str], person: uuid.UUID
    ) -> None:
        team.document(headers, person, number=passport_number())
        response = client.get(
            INDIVIDUALS, params={"document_number": passport_number("Z")}, headers=headers
        )
        assert response.json()["items"] == []


class TestChangeStatus:
    def test_every_change_is_kept(
        self,
        client: TestClient,
        team: Team,
        app: FastAPI,
        headers: dict[str, str],
        person: uuid.UUID,
    ) -> None:
        document = team.document(headers, person, number=passport_number())
        url = f"{DOCUMENTS}/{document['id']}"
        steps = [
            {"status": "lost", "status_date": "2024-02-01", "status_source": "family call"},
            {"status": "valid", "status_date": "2024-03-01"},
            {"status": "confiscated", "status_date": "2024-04-01", "status_source": "police"},
        ]
        for step in steps:
            response = client.patch(url, json=step, headers=headers)
            assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["status_date"], body["status_source"]) == (
            "confiscated",
            "2024-04-01",
            "police",
        )
        assert [(c["status"], c["status_source"]) for c in body["status_history"]] == [
            ("valid", None),
            ("lost", "family call"),
            ("valid", None),
            ("confiscated", "police"),
        ]
        # The same status again changes nothing.
        assert client.patch(url, json=steps[-1], headers=headers).status_code == 200
        document_id = uuid.UUID(document["id"])
        with transaction(app.state.sessionmaker) as session:
            changes = session.scalars(
                select(DocumentStatusChange.status)
                .where(DocumentStatusChange.document_id == document_id)
                .order_by(DocumentStatusChange.changed_at)
            ).all()
            kinds = session.scalars(
                select(HistoryEntry.kind)
                .where(HistoryEntry.subject_id == document_id)
                .order_by(HistoryEntry.id)
            ).all()
            summaries = session.scalars(
                select(HistoryEntry.summary).where(HistoryEntry.subject_id == document_id)
            ).all()
        assert changes == ["valid", "lost", "valid", "confiscated"]
        assert kinds == ["document.added"] + ["document.status_changed"] * 3
        assert not any("police" in s or "family" in s for s in summaries)

    @pytest.mark.parametrize(
        "body",
        [
            {"status": "stolen", "status_date": "2024-01-01"},
            {"status": "lost"},
            {"status": "lost", "status_date": "2024-01-01", "number": "X"},
        ],
    )
    def test_invalid_body(
        self,
        client: TestClient,
        team: Team,
        headers: dict[str, str],
        person: uuid.UUID,
        body: dict[str, Any],
    ) -> None:
        document = team.document(headers, person, number=passport_number())
        response = client.patch(f"{DOCUMENTS}/{document['id']}", json=body, headers=headers)
        assert response.status_code == 422

    def test_audited_with_ids_only(
        self,
        client: TestClient,
        team: Team,
        app: FastAPI,
        headers: dict[str, str],
        person: uuid.UUID,
    ) -> None:
        from app.models.audit import AuditEntry

        number = passport_number()
        document = team.document(headers, person, number=number)
        client.get(f"{DOCUMENTS}/{document['id']}", headers=headers)
        with transaction(app.state.sessionmaker) as session:
            entries = session.execute(
                select(AuditEntry.action, AuditEntry.details).where(
                    AuditEntry.subject_id == person, AuditEntry.action.like("document.%")
                )
            ).all()
            count = session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.subject_id == person)
            )
        assert {e.action for e in entries} == {"document.create", "document.read"}
        assert all(number not in (e.details or "") for e in entries)
        assert count and count >= 3
