"""Helpers for the alert tests: the alerts of a person, a detention and its alert, webhooks and
the outbox read straight from the database. People and incidents come from tests/factories.py."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.alerts import rules
from app.models.alert import Alert, OutboxMessage, Webhook
from app.models.history import HistoryEntry
from tests.factories import API, Member, Team, db

# The rules an incident can raise (risk reassessment may raise risk_escalated besides).
INCIDENT_RULES = rules.BY_PERSON


def alerts_of(
    client: TestClient,
    who: Member,
    person: uuid.UUID | str,
    *,
    rule: str | None = None,
    **params: Any,
) -> list[dict[str, Any]]:
    response = client.get(
        f"{API}/alerts", params={"individual_id": str(person), **params}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return [i for i in items if rule is None or i["rule"] == rule]


def detain(team: Team, who: Member, person: uuid.UUID, **fields: Any) -> dict[str, Any]:
    """Report a detention in a host state; returns the host_custody alert."""
    team.incident(who, person, **fields)
    (alert,) = alerts_of(team.client, who, person, rule=rules.HOST_CUSTODY, status="open")
    return alert


def add_webhook(
    app: FastAPI, organisation_id: uuid.UUID, events: list[str] | None = None
) -> uuid.UUID:
    """A webhook row of the organisation (delivery is another module's concern)."""
    with db(app) as session:
        hook = Webhook(
            id=uuid.uuid4(),
            organisation_id=organisation_id,
            url="https://hooks.example.org/haven",
            events=json.dumps(events or ["*"]),
            secret_ct=b"not used by these tests",
        )
        session.add(hook)
        return hook.id


def outbox(app: FastAPI, target: uuid.UUID, event: str | None = None) -> list[OutboxMessage]:
    with db(app) as session:
        query = select(OutboxMessage).where(OutboxMessage.target_id == target)
        if event is not None:
            query = query.where(OutboxMessage.event == event)
        return list(session.scalars(query.order_by(OutboxMessage.created_at)))


def payloads(rows: list[OutboxMessage]) -> list[dict[str, Any]]:
    return [json.loads(row.payload) for row in rows]


def stored(app: FastAPI, alert_id: str | uuid.UUID) -> Alert:
    with db(app) as session:
        alert = session.get(Alert, uuid.UUID(str(alert_id)))
        assert alert is not None
        return alert


def alert_history(app: FastAPI, alert_id: str | uuid.UUID) -> list[HistoryEntry]:
    with db(app) as session:
        return list(
            session.scalars(
                select(HistoryEntry)
                .where(HistoryEntry.subject_id == uuid.UUID(str(alert_id)))
                .order_by(HistoryEntry.at, HistoryEntry.id)
            )
        )
