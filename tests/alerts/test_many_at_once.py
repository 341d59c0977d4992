"""Thousands of alerts raised in one transaction (a country event, a revocation list): each
opens once, a repeat updates it, and PostgreSQL's lock table is not exhausted by the locks
that keep two raises of one threat from opening two alerts."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy import func, select, text

from app.alerts import service
from app.models.alert import Alert
from tests.factories import Team, db

MANY = 2000


def test_thousands_of_alerts_open_once_each_in_one_transaction(app: FastAPI, team: Team) -> None:
    organisation = team.organisation.id
    specs = [
        service.AlertSpec(
            rule="lookup_burst",
            severity="high",
            organisation_id=organisation,
            summary="Many lookups in a minute",
            subject_id=uuid.uuid4(),
        )
        for _ in range(MANY)
    ]
    with db(app) as session:
        raised = service.raise_many(session, specs)
        if session.get_bind().dialect.name == "postgresql":
            # One advisory lock per alert filled PostgreSQL's lock table (64 per connection by
            # default) when a country event raised alerts for 33,000 people.
            held = session.scalar(
                text(
                    "SELECT count(*) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                )
            )
            assert held is not None and 0 < held <= 512 < MANY
    assert len({a.id for a in raised}) == MANY
    with db(app) as session:
        again = service.raise_many(session, specs)  # the same threats: updated, not reopened
        count = session.scalar(
            select(func.count()).select_from(Alert).where(Alert.organisation_id == organisation)
        )
    assert [a.id for a in again] == [a.id for a in raised]
    assert count == MANY
