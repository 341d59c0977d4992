"""A supervisor's overview of the organisation's work (the service behind /supervisor): open
alerts by severity and age, open cases with no caseworker, and people whose welfare check-in is
overdue. Counts and ids only (nothing decrypted); reading it is audited as
``supervisor.dashboard``."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.alerts.rules import SEVERITIES
from app.audit import service as audit
from app.models.alert import Alert
from app.models.base import utcnow
from app.models.case import Case, CaseAssignment
from app.models.individual import Individual

AGES = (
    ("under an hour", dt.timedelta(hours=1)),
    ("1 to 24 hours", dt.timedelta(days=1)),
    ("1 to 7 days", dt.timedelta(days=7)),
    ("over 7 days", dt.timedelta.max),
)
LISTED = 20


@dataclass(frozen=True)
class UnassignedCase:
    id: uuid.UUID
    priority: str
    opened: dt.datetime


@dataclass(frozen=True)
class OverdueCheckIn:
    individual_id: uuid.UUID
    due_since: dt.datetime
    every_hours: int


@dataclass
class Overview:
    # severity (most severe first) → counts per age bucket (AGES' order)
    alerts: dict[str, list[int]] = field(default_factory=dict)
    open_alerts: int = 0
    unassigned: list[UnassignedCase] = field(default_factory=list)
    unassigned_total: int = 0
    overdue: list[OverdueCheckIn] = field(default_factory=list)
    overdue_total: int = 0


def _bucket(age: dt.timedelta) -> int:
    return next(i for i, (_, limit) in enumerate(AGES) if age < limit)


def overview(session: Session, actor: Actor, now: dt.datetime | None = None) -> Overview:
    now = now or utcnow()
    org = actor.organisation_id
    found = Overview(alerts={s: [0] * len(AGES) for s in reversed(SEVERITIES)})
    for severity, raised in session.execute(
        select(Alert.severity, Alert.created_at).where(
            Alert.organisation_id == org, Alert.status != "resolved"
        )
    ):
        if severity in found.alerts:
            found.alerts[severity][_bucket(now - raised)] += 1
            found.open_alerts += 1
    staffed = exists().where(
        and_(
            CaseAssignment.case_id == Case.id,
            CaseAssignment.role == "caseworker",
            CaseAssignment.removed_at.is_(None),
        )
    )
    cases = list(
        session.execute(
            select(Case.id, Case.priority, Case.created_at)
            .where(Case.organisation_id == org, Case.status != "closed", ~staffed)
            .order_by(Case.created_at)
        )
    )
    found.unassigned_total = len(cases)
    found.unassigned = [UnassignedCase(i, p, c) for i, p, c in cases[:LISTED]]
    due: list[OverdueCheckIn] = []
    for person_id, every, last in session.execute(
        select(Individual.id, Individual.check_in_every_hours, Individual.last_check_in_at).where(
            Individual.organisation_id == org,
            Individual.erased_at.is_(None),
            Individual.check_in_every_hours.is_not(None),
            Individual.last_check_in_at.is_not(None),
        )
    ):
        if every is None or last is None:  # excluded by the query; for the type checker
            continue
        since = last + dt.timedelta(hours=every)
        if since <= now:
            due.append(OverdueCheckIn(person_id, since, every))
    due.sort(key=lambda d: d.due_since)
    found.overdue_total = len(due)
    found.overdue = due[:LISTED]
    audit.record(
        session,
        actor=actor,
        action="supervisor.dashboard",
        details={
            "open_alerts": found.open_alerts,
            "unassigned_cases": found.unassigned_total,
            "overdue_check_ins": found.overdue_total,
        },
    )
    return found
