"""The scenarios of MISSION.md that need no alert, end to end through the API.

Scenario 1 (revocation lists) and 10 (a bad MRZ check digit) have their own detailed tests in
tests/documents; here each scenario is told once more as a caseworker, a supervisor, a lawyer
and an analyst would live it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.crypto import CryptoError
from app.crypto.envelope import header_key_id
from app.db import transaction
from app.demo.scenarios import make_mrz
from app.models import (
    Case,
    CaseNote,
    HistoryEntry,
    Individual,
    RecordKey,
    TravelDocument,
    UnhcrStatus,
)
from tests.factories import Team, unique

API = "/api/v1"


def day(days_ago: int) -> str:
    return (dt.date.today() - dt.timedelta(days=days_ago)).isoformat()


class Office:
    """One organisation (a Team): a supervisor, a caseworker, counsel and an analyst, signed in;
    the caseworker registers people and reports incidents."""

    def __init__(self, app: FastAPI, client: TestClient) -> None:
        self.app, self.client = app, client
        self.team = Team(app, client)
        members = {
            r: self.team.signed_in(r) for r in ("supervisor", "caseworker", "lawyer", "analyst")
        }
        members["other_lawyer"] = self.team.member("lawyer")
        self.users = {name: member.user for name, member in members.items()}
        self.h = {name: member.headers for name, member in members.items()}

    def post(self, who: str, path: str, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
        response = self.client.post(API + path, json=body, headers=self.h[who])
        assert response.status_code == expect, response.text
        return response.json() if response.content else {}

    def get(self, who: str, path: str, expect: int = 200, **params: Any) -> Any:
        response = self.client.get(API + path, headers=self.h[who], params=params)
        assert response.status_code == expect, response.text
        return (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else response
        )

    def person(self, **fields: Any) -> str:
        """A Cambodian national in Thailand unless told otherwise."""
        body = {"current_country": "THA"} | fields
        return self.team.register(self.h["caseworker"], **body)["id"]

    def incident(
        self, kind: str, days_ago: int, country: str, people: list[str], **extra: Any
    ) -> str:
        body = {
            "type": kind,
            "occurred_on": day(days_ago),
            "country": country,
            "location": None,
            "perpetrator": None,
            "description": f"{kind} reported",
            "source": {"name": "Partner monitor", "reliability": "B", "credibility": 2},
        }
        return self.team.incident(self.h["caseworker"], *people, **(body | extra))["id"]

    def case_with_counsel(self, person: str) -> str:
        case = self.team.case(self.h["caseworker"], person, priority="urgent")["id"]
        assigned = self.team.assign(self.h["supervisor"], case, self.users["lawyer"])
        assert assigned.status_code == 201, assigned.text
        return case


@pytest.fixture
def office(app: FastAPI, client: TestClient) -> Office:
    return Office(app, client)


def test_scenario_1_revocation_lists_overlap_without_duplicates(office: Office) -> None:
    numbers = [f"N{uuid.uuid4().int % 10**8:08d}" for _ in range(15)]
    for number in numbers:
        person = office.person()
        office.post(
            "caseworker",
            f"/individuals/{person}/documents",
            {"type": "passport", "number": number, "issuing_country": "KHM", "status": "valid"},
        )
    first = office.post(
        "supervisor",
        "/documents/revocations",
        {
            "issuing_country": "KHM",
            "numbers": [*numbers[:10], "N00000001", "N00000002"],
            "effective_date": day(10),
            "source": "Decree (invented)",
        },
        200,
    )
    assert first["matched"] == 10 and sorted(first["unmatched"]) == ["N00000001", "N00000002"]
    longer = numbers + [f"X{i:07d}" for i in range(24)]
    second = office.post(
        "supervisor",
        "/documents/revocations",
        {
            "issuing_country": "KHM",
            "numbers": longer,
            "effective_date": day(5),
            "source": "Decree 2",
        },
        200,
    )
    assert len(longer) == 39 and second["matched"] == 15 and second["newly_revoked"] == 5


def test_scenario_4_recognition_is_kept_beside_the_attack(office: Office) -> None:
    activist = office.person(native_name="សុខ ដារ៉ា", current_location="Bangkok")
    office.incident(
        "abduction_attempt",
        12,
        "THA",
        [activist],
        perpetrator="Unidentified men",
        description="Tasered on the street; escaped.",
    )
    office.post(
        "caseworker",
        f"/individuals/{activist}/unhcr-status",
        {"status": "person_of_concern", "effective_date": day(10)},
    )
    person = office.get("caseworker", f"/individuals/{activist}")
    assert person["unhcr_status"]["status"] == "person_of_concern"
    assert person["native_name"] == "សុខ ដារ៉ា"
    incidents = office.get("caseworker", "/incidents", individual_id=activist)["items"]
    assert [i["type"] for i in incidents] == ["abduction_attempt"]


def test_scenario_5_the_lawyer_sees_every_step_in_order(office: Office) -> None:
    couple = [office.person(), office.person()]
    for person in couple:
        office.post(
            "caseworker",
            f"/individuals/{person}/unhcr-status",
            {"status": "person_of_concern", "effective_date": day(60)},
        )
    office.incident("arrest", 9, "THA", couple)
    office.incident("forced_return", 7, "THA", couple)
    office.incident(
        "coerced_confession", 4, "KHM", couple, description="Shown on state television."
    )
    case = office.case_with_counsel(couple[0])
    history = office.get("lawyer", f"/cases/{case}/history")["entries"]
    kinds = [e["kind"] for e in history]
    steps = [
        k for k in kinds if k in ("individual.created", "unhcr_status.added", "incident.recorded")
    ]
    assert steps == ["individual.created", "unhcr_status.added"] + ["incident.recorded"] * 3
    assert [e["at"] for e in history] == sorted(e["at"] for e in history)
    summaries = " ".join(e["summary"] for e in history)
    assert "forced_return" in summaries or "forced return" in summaries
    export = office.client.get(
        f"{API}/cases/{case}/export", params={"format": "json"}, headers=office.h["lawyer"]
    )
    assert export.status_code == 200
    assert export.headers["x-content-sha256"] == hashlib.sha256(export.content).hexdigest()


def test_scenario_10_a_bad_check_digit_is_refused_naming_the_field(office: Office) -> None:
    holder = office.person()
    good = make_mrz("Ros", "Bopha", "N01234567", "1985-03-15", "F", "2030-01-01")
    line1, line2 = good.split("\n")
    bad_dob = line2[:19] + str((int(line2[19]) + 1) % 10) + line2[20:]
    response = office.client.post(
        f"{API}/individuals/{holder}/documents",
        headers=office.h["caseworker"],
        json={"type": "passport", "mrz": f"{line1}\n{bad_dob}", "status": "valid"},
    )
    assert response.status_code == 422 and "date_of_birth" in response.text
    office.post(
        "caseworker",
        f"/individuals/{holder}/documents",
        {"type": "passport", "mrz": good, "status": "valid"},
    )


def test_scenario_11_an_unassigned_lawyer_finds_nothing_and_analysts_get_counts(
    office: Office,
) -> None:
    person = office.person()
    case = office.case_with_counsel(person)
    for path in (
        f"/cases/{case}",
        f"/cases/{case}/history",
        f"/cases/{case}/export",
        f"/individuals/{person}",
    ):
        office.get("other_lawyer", path, expect=404)
    assert office.get("other_lawyer", "/cases")["items"] == []
    for country in ["MYS"] * 5 + ["IDN"] * 2:
        office.person(current_country=country)
    cells = {c["key"]: c for c in office.get("analyst", "/stats", by="country")["cells"]}
    assert cells["MYS"]["count"] == 5
    for small in ("THA", "IDN"):  # one and two people: withheld
        assert cells[small]["suppressed"] and cells[small]["count"] is None


def test_scenario_12_erasure_leaves_nothing_that_decrypts(app: FastAPI, office: Office) -> None:
    name = unique("Kim Veasna")
    person = office.person(full_name=name, current_location="Room 4")
    office.post(
        "caseworker",
        f"/individuals/{person}/documents",
        {"type": "passport", "number": "N55501234", "issuing_country": "KHM", "status": "valid"},
    )
    office.post(
        "caseworker",
        f"/individuals/{person}/unhcr-status",
        {"status": "asylum_seeker", "effective_date": day(30), "unhcr_reference": "BKK-0001"},
    )
    case = office.case_with_counsel(person)
    office.post("caseworker", f"/cases/{case}/notes", {"body": "Lives with her sister."})
    response = office.client.request(
        "DELETE",
        f"{API}/individuals/{person}",
        json={"reason": "Consent withdrawn"},
        headers=office.h["supervisor"],
    )
    assert response.status_code == 204
    office.get("supervisor", f"/individuals/{person}", expect=404)
    assert office.get("supervisor", "/individuals", name=name)["items"] == []
    assert office.get("supervisor", "/individuals", document_number="N55501234")["items"] == []
    office.get("lawyer", f"/cases/{case}/history", expect=404)

    pid = uuid.UUID(person)
    with transaction(app.state.sessionmaker) as session:
        crypto = app.state.crypto
        blobs: list[tuple[bytes, uuid.UUID]] = []
        for model, owner in (
            (Individual, Individual.id),
            (TravelDocument, TravelDocument.individual_id),
            (UnhcrStatus, UnhcrStatus.individual_id),
            (HistoryEntry, HistoryEntry.individual_id),
        ):
            for row in session.scalars(select(model).where(owner == pid)):
                blobs += [
                    (getattr(row, c.key), pid)
                    for c in model.__table__.columns
                    if c.key.endswith("_ct") and getattr(row, c.key)
                ]
        for row in session.scalars(
            select(CaseNote)
            .join(Case, Case.id == CaseNote.case_id)
            .where(Case.individual_id == pid)
        ):
            blobs.append((row.body_ct, pid))
        # Documents and UNHCR statuses went with the record; what stays (the case's notes) is
        # ciphertext whose key is gone.
        assert blobs
        for model, owner in (
            (TravelDocument, TravelDocument.individual_id),
            (UnhcrStatus, UnhcrStatus.individual_id),
        ):
            assert session.scalars(select(model).where(owner == pid)).all() == []
        keys = session.scalars(select(RecordKey).where(RecordKey.owner_id == pid)).all()
        assert keys and all(k.wrapped is None and k.destroyed_at is not None for k in keys)
        for blob, owner in blobs:
            with pytest.raises(CryptoError):
                crypto.keys.by_id(session, header_key_id(blob), owner)
        history = session.scalars(
            select(HistoryEntry.kind).where(HistoryEntry.individual_id == pid)
        ).all()
        assert "individual.erased" in history  # the fact stays
