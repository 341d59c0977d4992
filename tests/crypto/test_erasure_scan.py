"""After erasure, a copy of the database and the keyring describe nothing of the person.

The adversary of issue 13 (item 2) holds the server's disk and keyring: every key still wrapped
in ``record_key`` opens. So erasure must destroy, not hide: what only the person's record
explained goes with their keys, and what is shared with others loses its link to them.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Uuid, func, select
from sqlalchemy.orm import Session

from app.crypto import CryptoError, Pad, crypto_of
from app.crypto.erasure import POSTGRES_NOTE
from app.db import transaction
from app.incidents.service import SEALED
from app.models import Base
from app.models.alert import Alert, CheckIn, ListMatch, OutboxMessage
from app.models.case import Attachment, Case
from app.models.consent import Consent
from app.models.document import TravelDocument
from app.models.history import HistoryEntry
from app.models.incident import Incident, IncidentSubject
from app.models.individual import Individual, IndividualNameIndex
from app.models.keys import RecordKey
from app.models.risk import RiskAssessment, RiskOverride
from app.models.unhcr import UnhcrStatus
from tests.factories import API, Team

from .support import NAME, cold_sessions, name_of, seal_names

PHONE = "+66 81 234 5678"
# Words the history's plaintext summaries used for what happened to the person.
DESCRIBING = ("detention", "critical", "list", "risk", "incident", "check-in", "attachment")
# Tables that may still name an erased person's id, and why: the tombstone itself, the fact of
# the erasure in the history and audit trail, the key tombstones, and the organisation's own
# process records about the closed case (the case shell, its referrals and emergency-access
# grants), whose sealed values died with the key.
MAY_NAME_THE_ID = {
    "individual",
    "history_entry",
    "audit_entry",
    "record_key",
    "case",
    "referral",
    "break_glass_grant",
}


def _world(client: TestClient, team: Team) -> dict[str, Any]:
    """A person with everything issue 13 found surviving their erasure, and a companion."""
    worker, boss = team.caseworker, team.supervisor
    tag = uuid.uuid4().hex[:8]
    person = team.person(
        worker, full_name=f"Erased Person {tag}", aliases=[f"Alias One {tag}", f"Alias Two {tag}"]
    )
    companion = team.person(worker, full_name=f"Companion {tag}")
    alone = team.incident(worker, person, description=f"Only theirs {tag}")
    shared = team.incident(worker, person, companion, description=f"Shared {tag}")
    response = client.post(
        f"{API}/individuals/{person}/check-ins",
        json={"channel": PHONE, "note": "Safe."},
        headers=worker.headers,
    )
    assert response.status_code == 201, response.text
    response = client.post(
        f"{API}/lists/match",
        json={
            "names": [f"Erased Person {tag}"],
            "source": f"State television {tag}",
            "published_on": "2024-01-02",
        },
        headers=boss.headers,
    )
    assert response.status_code == 200 and len(response.json()["matched"]) == 1, response.text
    list_id = uuid.UUID(response.json()["list_id"])
    response = client.post(
        f"{API}/individuals/{person}/risk/override",
        json={"level": "critical", "justification": "Named on state television."},
        headers=boss.headers,
    )
    assert response.status_code == 201, response.text
    case = team.case(worker, person)
    response = client.post(
        f"{API}/cases/{case['id']}/attachments",
        files={"file": ("statement.pdf", b"%PDF-1.7\n" + tag.encode(), "application/pdf")},
        headers=worker.headers,
    )
    assert response.status_code == 201, response.text
    # What else describes them: a passport, a UNHCR status, their consent; and a colleague's
    # emergency access, whose alert is about staff and must outlive the record.
    team.document(worker, person)
    team.unhcr_status(worker, person)
    response = client.post(
        f"{API}/individuals/{person}/consent",
        json={
            "store": True,
            "share_with_partners": False,
            "method": "verbal",
            "recorded_on": dt.date.today().isoformat(),
        },
        headers=worker.headers,
    )
    assert response.status_code == 201, response.text
    response = client.post(
        f"{API}/cases/{case['id']}/break-glass",
        json={"reason": "Detained at the airport; the caseworker is unreachable."},
        headers=team.member("caseworker").headers,
    )
    assert response.status_code == 201, response.text
    return {
        "person": person,
        "companion": companion,
        "alone": uuid.UUID(alone["id"]),
        "shared": uuid.UUID(shared["id"]),
        "list": list_id,
        "case": uuid.UUID(case["id"]),
    }


def _erase(client: TestClient, team: Team, person: uuid.UUID) -> None:
    response = client.request(
        "DELETE",
        f"{API}/individuals/{person}",
        json={"reason": "Asked to be forgotten"},
        headers=team.supervisor.headers,
    )
    assert response.status_code == 204, response.text


def _count(session: Session, model: Any, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _tables_naming(session: Session, who: uuid.UUID) -> set[str]:
    """Every table with a row whose UUID column holds ``who``."""
    found = set()
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, Uuid) and _count(session, table, column == who):
                found.add(table.name)
    return found


def _opens(session: Session, incident: Incident) -> list[str]:
    """The incident's sealed fields that still open with the keyring."""
    crypto = crypto_of(session)
    opened = []
    for name, (slot, pad) in SEALED.items():
        sealed = getattr(incident, f"{name}_ct")
        if sealed is None:
            continue
        try:
            crypto.open(session, slot, incident.id, incident.id, sealed, pad=pad)
            opened.append(name)
        except CryptoError:
            pass
    return opened


def test_erasure_leaves_nothing_that_describes_the_person(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    world = _world(client, team)
    person = world["person"]
    with transaction(app.state.sessionmaker) as session:  # controls: it was all there
        assert (
            _count(session, IndividualNameIndex, IndividualNameIndex.individual_id == person) == 3
        )
        assert _count(session, ListMatch, ListMatch.individual_id == person) == 1
        assert _count(session, CheckIn, CheckIn.individual_id == person) == 1
        assert _count(session, RiskOverride, RiskOverride.individual_id == person) == 1
        assert _count(session, Alert, Alert.individual_id == person) >= 3
        assert _count(session, TravelDocument, TravelDocument.individual_id == person) == 1
        assert _count(session, UnhcrStatus, UnhcrStatus.individual_id == person) == 1
        assert _count(session, Consent, Consent.individual_id == person) == 1

    _erase(client, team, person)

    # A thief's view: a brand-new process holding the keyring, nothing cached.
    with transaction(cold_sessions(app)) as session:
        alone = session.get(Incident, world["alone"])
        if alone is not None:
            assert _opens(session, alone) == []
            assert all(getattr(alone, f"{name}_ct") is None for name in SEALED)
        assert (
            session.scalar(
                select(func.count())
                .select_from(RecordKey)
                .where(RecordKey.owner_id == world["alone"], RecordKey.wrapped.is_not(None))
            )
            == 0
        )
        shared = session.get_one(Incident, world["shared"])
        assert sorted(_opens(session, shared)) == sorted(SEALED)  # the companion keeps it
        subjects = session.scalars(
            select(IncidentSubject.individual_id).where(
                IncidentSubject.incident_id == world["shared"]
            )
        ).all()
        assert subjects == [world["companion"]]
        assert _count(session, IncidentSubject, IncidentSubject.individual_id == person) == 0
        assert _count(session, ListMatch, ListMatch.individual_id == person) == 0
        assert _count(session, RiskAssessment, RiskAssessment.individual_id == person) == 0
        assert _count(session, RiskOverride, RiskOverride.individual_id == person) == 0
        row = session.get_one(Individual, person)
        assert row.risk_level is None and row.risk_score is None
        assert _count(session, CheckIn, CheckIn.individual_id == person) == 0
        assert _count(session, Attachment, Attachment.case_id == world["case"]) == 0
        assert (
            _count(session, IndividualNameIndex, IndividualNameIndex.individual_id == person) == 0
        )
        assert _tables_naming(session, person) <= MAY_NAME_THE_ID
        # What threatened them is gone with their alerts and notices; the supervisors keep the
        # alert about a colleague's emergency access, no longer naming the person.
        assert _count(session, Alert, Alert.individual_id == person) == 0
        assert (
            _count(session, Alert, Alert.case_id == world["case"], Alert.rule != "break_glass") == 0
        )
        (access,) = session.scalars(
            select(Alert).where(Alert.case_id == world["case"], Alert.rule == "break_glass")
        ).all()
        assert access.individual_id is None
        assert _count(session, OutboxMessage, OutboxMessage.payload.contains(str(person))) == 0
        assert _count(session, Case, Case.id == world["case"]) == 1  # the closed shell stays
        # The history keeps that things happened and that the record was erased, not what.
        entries = session.execute(
            select(
                HistoryEntry.kind,
                HistoryEntry.summary,
                HistoryEntry.subject_id,
                HistoryEntry.changes_ct,
            ).where(HistoryEntry.individual_id == person)
        ).all()
        assert any(kind == "individual.erased" for kind, *_ in entries)
        linked = {world["alone"], world["shared"], world["list"]}
        for kind, summary, subject, changes in entries:
            if kind == "individual.erased":
                continue
            assert changes is None and subject not in linked, kind
            assert not any(word in summary.lower() for word in DESCRIBING), summary

    # The companion's record and their view of the shared incident are untouched.
    response = client.get(f"{API}/incidents/{world['shared']}", headers=team.caseworker.headers)
    assert response.status_code == 200, response.text
    assert response.json()["individual_ids"] == [str(world["companion"])]
    assert response.json()["description"].startswith("Shared ")
    response = client.get(f"{API}/incidents/{world['alone']}", headers=team.caseworker.headers)
    assert response.status_code == 404


def test_another_process_cached_key_stops_at_once(app: FastAPI) -> None:
    """Two instances on one database: one erases, the other's cached key must not open."""
    here, there = app.state.sessionmaker, cold_sessions(app)
    sealed = seal_names(here, 2)
    victim, survivor = list(sealed)

    def opened(factory: Any, owner: uuid.UUID) -> str:
        with transaction(factory) as session:
            value: str = crypto_of(session).open(
                session, NAME, owner, owner, sealed[owner], pad=Pad.SHORT
            )
            return value

    assert opened(there, victim) == name_of(victim)  # now cached in the other instance
    assert opened(there, survivor) == name_of(survivor)
    with transaction(here) as session:
        crypto_of(session).keys.destroy(session, victim)

    with pytest.raises(CryptoError):
        opened(there, victim)
    assert opened(there, survivor) == name_of(survivor)  # others keep working


def test_operator_is_told_how_dead_tuples_are_reclaimed(
    app: FastAPI, client: TestClient, team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    """On PostgreSQL the old row version of the destroyed key stays until VACUUM: the log says
    so (without saying who); on SQLite freed pages are zeroed and nothing needs saying."""
    person = team.person(team.caseworker)
    caplog.set_level(logging.WARNING, logger="haven.erasure")
    _erase(client, team, person)
    said = [r.getMessage() for r in caplog.records if r.name == "haven.erasure"]
    if app.state.engine.dialect.name == "postgresql":
        assert said == [POSTGRES_NOTE]
        assert "VACUUM (FULL) record_key" in said[0]
    else:
        assert said == []
    assert not any(str(person) in m or person.hex in m for m in said)
