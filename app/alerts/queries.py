"""Which alerts a caller may see, as SQL, and how they are shown.

- people's alerts: when the person is in ``visible_individuals(actor)``;
- alerts about staff (``break_glass``) and organisation-wide alerts (no person): supervisors;
- automated systems (``service`` keys): every alert of their organisation — alerts carry ids,
  rule and severity only, never a name, so nothing more is revealed than a webhook would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from typing import Any, TypedDict

from sqlalchemy import Select, and_, case, false, or_, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.alerts import rules
from app.audit import service as audit
from app.auth.roles import Role
from app.auth.scope import OWN, visible_individuals
from app.crypto import CryptoError, FieldSlot, Pad, crypto_of
from app.errors import NotFound, Unprocessable
from app.models.alert import Alert
from app.models.case import Case
from app.models.individual import Individual
from app.models.notification import AlertEscalation

NOTE = FieldSlot("alert", "resolution_note")
# Cursors carry the time as microseconds: nothing in them needs escaping in a URL.
EPOCH, MICROSECOND = dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.timedelta(microseconds=1)
severity_rank = case(
    {name: rank for name, rank in rules.RANK.items()}, value=Alert.severity, else_=0
)


def visible_alerts(actor: Actor) -> Select[uuid.UUID]:
    """Ids of the alerts the actor may see."""
    own = Alert.organisation_id == actor.organisation_id
    if actor.role == Role.SERVICE:
        live = select(Individual.id).where(
            Individual.organisation_id == actor.organisation_id, Individual.erased_at.is_(None)
        )
        # Never the alerts about what staff did: those are for supervisors alone.
        return select(Alert.id).where(
            own,
            or_(Alert.individual_id.is_(None), Alert.individual_id.in_(live)),
            Alert.rule.not_in(rules.SUPERVISOR_ONLY),
        )
    if actor.role not in (Role.SUPERVISOR, Role.CASEWORKER, Role.LAWYER):
        return select(Alert.id).where(false())
    # Correlated: one probe per alert, never the list of everyone in scope (SQLite would
    # materialise 100,000 ids on every statement).
    people = visible_individuals(actor, OWN).where(Individual.id == Alert.individual_id).exists()
    if actor.role == Role.SUPERVISOR:
        return select(Alert.id).where(own, or_(people, Alert.individual_id.is_(None)))
    # The person on call sees the alerts escalated to them, to acknowledge one; the person's
    # records stay out of reach (opening the case is emergency access, audited and told).
    escalated = select(AlertEscalation.alert_id).where(AlertEscalation.to_user_id == actor.id)
    return select(Alert.id).where(
        own, or_(people, Alert.id.in_(escalated)), Alert.rule.not_in(rules.SUPERVISOR_ONLY)
    )


def get_visible(
    session: Session, actor: Actor, alert_id: uuid.UUID, *, for_update: bool = False
) -> Alert:
    """The alert if it is in the actor's scope; 404 otherwise, whatever the reason."""
    query = select(Alert).where(Alert.id == alert_id, Alert.id.in_(visible_alerts(actor)))
    alert = session.scalar(query.with_for_update() if for_update else query)
    if alert is None:
        raise NotFound()
    return alert


class AlertView(TypedDict):
    """An alert as lists, the stream and webhooks' readers see it (AlertRead)."""

    id: uuid.UUID
    rule: str
    severity: str
    status: str
    individual_id: uuid.UUID | None
    case_id: uuid.UUID | None
    summary: str
    created_at: dt.datetime
    dedup_key: str
    occurrences: int
    updated_at: dt.datetime
    inhibited: bool


class AlertDetailView(AlertView):
    """One alert with its lifecycle (AlertDetail)."""

    last_seen_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: uuid.UUID | None
    resolved_at: dt.datetime | None
    resolved_by: uuid.UUID | None
    escalated_at: dt.datetime | None
    inhibited_by: uuid.UUID | None
    group_key: str | None
    subject_id: uuid.UUID | None
    resolution_note: str | None


def present(alert: Alert) -> AlertView:
    """An alert as lists, the stream and webhooks' readers see it: no personal data."""
    return {
        "id": alert.id,
        "rule": alert.rule,
        "severity": alert.severity,
        "status": alert.status,
        "individual_id": alert.individual_id,
        "case_id": alert.case_id,
        "summary": alert.summary,
        "created_at": alert.created_at,
        "dedup_key": alert.dedup_key,
        "occurrences": alert.occurrences,
        "updated_at": alert.updated_at,
        "inhibited": alert.inhibited_by is not None,
    }


def present_detail(session: Session, actor: Actor, alert: Alert) -> AlertDetailView:
    """One alert with its lifecycle; the resolution note for people, not for machines."""
    item: AlertDetailView = {
        **present(alert),
        "last_seen_at": alert.last_seen_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "resolved_at": alert.resolved_at,
        "resolved_by": alert.resolved_by,
        "escalated_at": alert.escalated_at,
        "inhibited_by": alert.inhibited_by,
        "group_key": alert.group_key,
        "subject_id": alert.subject_id,
        "resolution_note": None,
    }
    if alert.resolution_note_ct is not None and actor.role != Role.SERVICE:
        owner = alert.individual_id or alert.id
        # After erasure the fact of the resolution stays and the note is gone.
        with contextlib.suppress(CryptoError):
            item["resolution_note"] = crypto_of(session).open(
                session, NOTE, alert.id, owner, alert.resolution_note_ct, pad=Pad.TEXT
            )
    return item


def list_alerts(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    severity: str | None = None,
    individual_id: uuid.UUID | None = None,
    group_key: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    rule: str | None = None,
    acknowledged_by: uuid.UUID | None = None,
) -> tuple[list[AlertView], str | None]:
    """Alerts in scope, most severe first, then newest."""
    query = select(Alert).where(Alert.id.in_(visible_alerts(actor)))
    if rule is not None:
        query = query.where(Alert.rule == rule)
    if acknowledged_by is not None:
        query = query.where(Alert.acknowledged_by == acknowledged_by)
    if status is not None:
        query = query.where(Alert.status == status)
    if severity is not None:
        query = query.where(Alert.severity == severity)
    if individual_id is not None:
        query = query.where(Alert.individual_id == individual_id)
    if group_key is not None:
        query = query.where(Alert.group_key == group_key)
    if cursor is not None:
        rank, created_at, last_id = _parse_cursor(cursor)
        query = query.where(
            or_(
                severity_rank < rank,
                and_(severity_rank == rank, Alert.created_at < created_at),
                and_(severity_rank == rank, Alert.created_at == created_at, Alert.id < last_id),
            )
        )
    order = (severity_rank.desc(), Alert.created_at.desc(), Alert.id.desc())
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        micros = (last.created_at - EPOCH) // MICROSECOND
        next_cursor = f"{rules.RANK[last.severity]}_{micros}_{last.id}"
    return [present(row) for row in rows], next_cursor


def _parse_cursor(cursor: str) -> tuple[int, dt.datetime, uuid.UUID]:
    try:
        rank, micros, last = cursor.split("_")
        if int(rank) not in rules.RANK.values():  # a rank no severity has: not our cursor
            raise ValueError(rank)
        return int(rank), EPOCH + int(micros) * MICROSECOND, uuid.UUID(last)
    except (ValueError, OverflowError):
        raise Unprocessable("malformed cursor") from None


def changed_since(
    session: Session, actor: Actor, since: dt.datetime, *, limit: int = 500
) -> list[AlertView]:
    """Alerts in scope changed at or after ``since``, oldest change first (the stream)."""
    rows = session.scalars(
        select(Alert)
        .where(Alert.id.in_(visible_alerts(actor)), Alert.updated_at >= since)
        .order_by(Alert.updated_at, Alert.id)
        .limit(limit)
    )
    return [present(row) for row in rows]


def latest_open_case(session: Session, individual_id: uuid.UUID) -> uuid.UUID | None:
    """The person's most recently opened case that is not closed."""
    return session.scalar(
        select(Case.id)
        .where(Case.individual_id == individual_id, Case.status != "closed")
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(1)
    )


# Use cases: what the API's routes and the web pages read, each with its audit entry ------------
def read_alerts(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    severity: str | None = None,
    individual_id: uuid.UUID | None = None,
    group_key: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[AlertView], str | None]:
    """``list_alerts``, audited as ``alert.list`` (GET /alerts)."""
    items, next_cursor = list_alerts(
        session,
        actor,
        status=status,
        severity=severity,
        individual_id=individual_id,
        group_key=group_key,
        limit=limit,
        cursor=cursor,
    )
    audit.record(session, actor=actor, action="alert.list", details={"results": len(items)})
    return items, next_cursor


def read_inbox(
    session: Session,
    actor: Actor,
    *,
    waiting: int,
    handling: int,
    open_after: str | None = None,
    handling_after: str | None = None,
    severity: str | None = None,
    rule: str | None = None,
    individual_id: uuid.UUID | None = None,
    handler: str | None = None,
) -> dict[str, Any]:
    """The web inbox's two lists, open alerts and acknowledged ones, audited as one
    ``alert.list`` (``via: web``). ``handler``: ``me`` (acknowledged by the actor: the
    second list alone) or ``none`` (nobody has acknowledged them: the first list alone)."""
    common: dict[str, Any] = {"severity": severity, "rule": rule, "individual_id": individual_id}
    open_items: list[AlertView] = []
    open_next = handled_next = None
    handled: list[AlertView] = []
    if handler != "me":
        open_items, open_next = list_alerts(
            session, actor, status="open", limit=waiting, cursor=open_after, **common
        )
    if handler != "none":
        handled, handled_next = list_alerts(
            session,
            actor,
            status="acknowledged",
            limit=handling,
            cursor=handling_after,
            acknowledged_by=actor.id if handler == "me" else None,
            **common,
        )
    audit.record(
        session,
        actor=actor,
        action="alert.list",
        details={"results": len(open_items) + len(handled), "via": "web"},
    )
    return {
        "waiting": open_items,
        "waiting_next": open_next,
        "handling": handled,
        "handling_next": handled_next,
    }


def open_stream(session: Session, actor: Actor, *, once: bool) -> None:
    """Record that the actor opened the alert stream (GET /alerts/stream)."""
    audit.record(session, actor=actor, action="alert.stream", details={"once": once})


def read_alert(session: Session, actor: Actor, alert_id: uuid.UUID) -> AlertDetailView:
    """One alert in the actor's scope with its lifecycle, audited as ``alert.read``; 404
    outside the scope."""
    alert = get_visible(session, actor, alert_id)
    audit.record(
        session, actor=actor, action="alert.read", subject_type="alert", subject_id=alert.id
    )
    return present_detail(session, actor, alert)
