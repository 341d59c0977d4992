"""The event seam: every fact has a reaction, reactions share the change's transaction, risk
reacts before alerts, and a fact nobody handles is an error."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import events
from app.alerts.engine import evaluate_time_rules
from app.db import transaction
from app.events import DocumentAdded, IncidentRecorded, UnhandledEvent
from app.models.alert import Alert
from app.models.base import utcnow
from app.models.incident import Incident
from app.models.individual import Individual
from app.models.risk import RiskAssessment
from app.reactions import TABLE
from tests.factories import API, Team


@pytest.fixture
def reactions(app: FastAPI) -> Iterator[dict[type[events.Event], Any]]:
    """The app's table of reactions, to change for one test; put back afterwards."""
    table: dict[type[events.Event], Any] = dict(TABLE)
    events.attach(app.state.sessionmaker, table)
    try:
        yield table
    finally:
        events.attach(app.state.sessionmaker, TABLE)


def test_every_kind_of_event_has_a_reaction() -> None:
    kinds = events.kinds()
    assert len(kinds) >= 15
    assert [k.__name__ for k in kinds if not TABLE.get(k)] == []
    assert set(TABLE) <= set(kinds)


def test_a_fact_nobody_handles_is_an_error(app: FastAPI, session: Session) -> None:
    fact = DocumentAdded(actor=None, individual_id=uuid.uuid4(), document_id=uuid.uuid4())
    events.attach(app.state.sessionmaker, {})
    try:
        with app.state.sessionmaker() as bare, pytest.raises(UnhandledEvent, match="DocumentAdded"):
            events.publish(bare, fact)
    finally:
        events.attach(app.state.sessionmaker, TABLE)
    unattached = Session(bind=session.get_bind())
    with pytest.raises(UnhandledEvent, match="no reactions attached"):
        events.publish(unattached, fact)


def test_a_failing_reaction_rolls_the_change_back(
    app: FastAPI, client: TestClient, team: Team, reactions: dict[type[events.Event], Any]
) -> None:
    person = team.person(team.caseworker)
    seen: list[IncidentRecorded] = []

    def broken(session: Session, event: IncidentRecorded) -> None:
        seen.append(event)
        raise RuntimeError("reaction failed")

    reactions[IncidentRecorded] = (*TABLE[IncidentRecorded], broken)
    events.attach(app.state.sessionmaker, reactions)
    with app.state.sessionmaker() as db:
        incidents_before = db.scalar(select(func.count()).select_from(Incident))
        assessed_before = db.scalar(
            select(func.count())
            .select_from(RiskAssessment)
            .where(RiskAssessment.individual_id == person)
        )
    failing = TestClient(app, raise_server_exceptions=False, client=("10.9.8.7", 50000))
    response = failing.post(
        f"{API}/incidents",
        json={
            "type": "detention",
            "occurred_on": "2026-11-29",
            "country": "THA",
            "description": "Held at the airport",
            "individual_ids": [str(person)],
            "source": {"name": "Partner monitor", "reliability": "B", "credibility": 2},
        },
        headers=team.caseworker.headers,
    )
    assert response.status_code == 500
    assert [e.individual_ids for e in seen] == [(person,)]
    with app.state.sessionmaker() as db:
        # The incident, the reassessment and the alert that ran before the failure: all gone.
        assert db.scalar(select(func.count()).select_from(Incident)) == incidents_before
        assert (
            db.scalar(
                select(func.count())
                .select_from(RiskAssessment)
                .where(RiskAssessment.individual_id == person)
            )
            == assessed_before
        )
        assert db.scalars(select(Alert).where(Alert.individual_id == person)).all() == []


def test_risk_reacts_before_alerts_and_the_answer_shows_it(client: TestClient, team: Team) -> None:
    worker = team.caseworker
    person = team.person(worker, current_country="THA", affiliation="CNRP")
    case = team.case(worker, person)
    team.incident(worker, person, type="detention")
    # The next read already shows the level the incident's reactions set.
    read = client.get(f"{API}/individuals/{person}", headers=worker.headers)
    assert read.json()["risk"]["level"] == "critical"
    entries = client.get(f"{API}/cases/{case['id']}/history", headers=worker.headers).json()[
        "entries"
    ]
    kinds = [e["kind"] for e in entries]
    recorded = kinds.index("incident.recorded")
    after = kinds[recorded:]
    # The reassessment (and its risk_escalated alert) comes before the incident's own alert.
    assert after[:2] == ["incident.recorded", "risk.reassessed"]
    summaries = [e["summary"] for e in entries[recorded:] if e["kind"] == "alert.raised"]
    assert summaries[0].startswith("Alert raised: risk_escalated")
    assert summaries[1].startswith("Alert raised: host_custody")


def test_a_check_in_resolves_the_overdue_alert_at_once(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    worker = team.caseworker
    person = team.person(worker, check_in_every_hours=24)
    now = utcnow()
    with transaction(app.state.sessionmaker) as db:
        stored = db.get(Individual, person)
        assert stored is not None
        stored.last_check_in_at = now - dt.timedelta(hours=30)
    with transaction(app.state.sessionmaker) as db:
        evaluate_time_rules(db, now)
    with app.state.sessionmaker() as db:
        (overdue,) = db.scalars(select(Alert).where(Alert.individual_id == person)).all()
        assert (overdue.rule, overdue.status) == ("check_in_overdue", "open")
    checked = client.post(
        f"{API}/individuals/{person}/check-ins", json={"channel": "phone"}, headers=worker.headers
    )
    assert checked.status_code == 201, checked.text
    # No engine tick in between: the check-in's own reaction resolved it.
    with app.state.sessionmaker() as db:
        resolved = db.get(Alert, overdue.id)
        assert resolved is not None and resolved.status == "resolved"
