"""Alerts: raise with dedup and inhibition, acknowledge, resolve, notify through the outbox.

Lifecycle (PagerDuty): ``open`` → ``acknowledged`` → ``resolved``. Raising an alert whose dedup
key names an open or acknowledged alert updates that one (occurrences, last seen, severity
raised if higher); after resolution the same key opens a new alert. Every change is written
with its history entry (the person's timeline), its audit entry for human actions, and its
outbox rows, all in the caller's transaction: nothing is sent unless the change commits.
Rules, dedup keys and inhibition are decided in ``app.alerts.rules``; notices are written by
``app.alerts.notify``; the time-driven rules live in ``app.alerts.timed``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.alerts import notify, queries, rules
from app.audit import service as audit
from app.cases import history
from app.crypto import Pad, crypto_of
from app.errors import Conflict, Unprocessable
from app.models.alert import Alert
from app.models.base import utcnow

MAX_NOTE = 2000


def raise_alert(
    session: Session,
    *,
    rule: str,
    severity: str,
    organisation_id: uuid.UUID,
    summary: str,
    individual_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
    subject_id: uuid.UUID | None = None,
    group_key: str | None = None,
    actor: Any = None,
    now: dt.datetime | None = None,
) -> Alert | None:
    """Open an alert, or update the open one with the same dedup key.

    ``case_id`` defaults to the person's most recent open case. ``group_key`` (a revocation
    list's or country event's id) announces the alert with the rest of its group, once (see
    ``app.alerts.notify``). Returns the alert, muted or not.
    """
    if severity not in rules.RANK:
        raise ValueError(f"unknown severity {severity!r}")
    now = now or utcnow()
    if case_id is None and individual_id is not None:
        case_id = queries.latest_open_case(session, individual_id)
    key = rules.dedup_key(rule, individual_id, subject_id)
    _serialise(session, key)
    alert = session.scalar(
        select(Alert)
        .where(Alert.dedup_key == key, Alert.status.in_(rules.ACTIVE))
        .order_by(Alert.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    created = alert is None
    became_critical = False
    if alert is None:
        alert = Alert(
            id=uuid.uuid4(),
            organisation_id=organisation_id,
            individual_id=individual_id,
            case_id=case_id,
            rule=rule,
            severity=severity,
            status="open",
            dedup_key=key,
            group_key=group_key,
            subject_id=subject_id,
            summary=summary[:300],
            occurrences=1,
            created_at=now,
            updated_at=now,
            last_seen_at=now,
        )
        session.add(alert)
        became_critical = severity == "critical"
    else:
        alert.occurrences += 1
        alert.last_seen_at = alert.updated_at = now
        if rules.RANK[severity] > rules.RANK[alert.severity]:
            became_critical = severity == "critical"
            alert.severity, alert.summary = severity, summary[:300]
        alert.case_id = alert.case_id or case_id
        if group_key is not None:
            alert.group_key = group_key
    session.flush()
    _apply_inhibition(session, alert, now)
    _history(session, actor, alert, "alert.raised" if created else "alert.updated", now)
    if created:
        _audit(session, actor, alert, "alert.raise")
    kind = "alert.created" if created else "alert.updated"
    if group_key is not None:
        notify.queue_group(session, alert, kind, now=now, became_critical=became_critical)
    else:
        notify.notify(session, alert, kind, now=now, became_critical=became_critical)
    return alert


def _serialise(session: Session, key: str) -> None:
    """Two raises of one new threat at once must not open two alerts.

    Row locks cannot lock a row that does not exist yet, so on PostgreSQL a transaction-level
    advisory lock on the dedup key serialises them (SQLite already serialises writers with
    BEGIN IMMEDIATE).
    """
    if session.get_bind().dialect.name == "postgresql":
        number = int.from_bytes(bytes.fromhex(key[:16]), "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": number})


def _apply_inhibition(session: Session, alert: Alert, now: dt.datetime) -> None:
    """Mute the alert if an active alert inhibits it; if it inhibits others, mute them."""
    if alert.individual_id is None:
        return
    active = list(
        session.scalars(
            select(Alert).where(
                Alert.individual_id == alert.individual_id,
                Alert.status.in_(rules.ACTIVE),
                Alert.id != alert.id,
            )
        )
    )
    alert.inhibited_by = next(
        (
            source.id
            for source in sorted(active, key=lambda a: (a.created_at, str(a.id)))
            if rules.inhibits(
                source.rule,
                source.severity,
                source.subject_id,
                alert.rule,
                alert.severity,
                alert.subject_id,
            )
        ),
        None,
    )
    if not rules.may_inhibit(alert.rule, alert.severity):
        return
    for target in active:
        if target.inhibited_by is None and rules.inhibits(
            alert.rule,
            alert.severity,
            alert.subject_id,
            target.rule,
            target.severity,
            target.subject_id,
        ):
            target.inhibited_by, target.updated_at = alert.id, now


def acknowledge(
    session: Session, actor: Any, alert_id: uuid.UUID, *, now: dt.datetime | None = None
) -> Alert:
    """Someone is on it. Acknowledging an acknowledged alert changes nothing."""
    now = now or utcnow()
    alert = queries.get_visible(session, actor, alert_id, for_update=True)
    if alert.status == "resolved":
        raise Conflict("the alert is already resolved")
    if alert.status == "acknowledged":
        return alert
    alert.status = "acknowledged"
    alert.acknowledged_at = alert.updated_at = now
    alert.acknowledged_by = actor.id
    session.flush()
    _history(session, actor, alert, "alert.acknowledged", now)
    _audit(session, actor, alert, "alert.acknowledge")
    notify.notify(session, alert, "alert.acknowledged", now=now)
    return alert


def resolve(
    session: Session,
    actor: Any,
    alert_id: uuid.UUID,
    note: str,
    *,
    now: dt.datetime | None = None,
) -> Alert:
    """Close the alert with a note (sealed with the person's key); 409 if already closed."""
    note = (note or "").strip()
    if not 1 <= len(note) <= MAX_NOTE:
        raise Unprocessable(f"note: between 1 and {MAX_NOTE} characters", field="note")
    alert = queries.get_visible(session, actor, alert_id, for_update=True)
    if alert.status == "resolved":
        raise Conflict("the alert is already resolved")
    close(session, alert, actor=actor, note=note, now=now or utcnow())
    return alert


def close(
    session: Session, alert: Alert, *, actor: Any, note: str | None, now: dt.datetime
) -> None:
    """Resolve ``alert`` (already locked and in scope): by a person with a note, or by the
    time rules (no actor) when a reversible condition cleared."""
    alert.status = "resolved"
    alert.resolved_at = alert.updated_at = now
    alert.resolved_by = actor.id if actor else None
    if note is not None:
        crypto = crypto_of(session)
        key = (
            crypto.keys.current(session, alert.individual_id)
            if alert.individual_id
            else crypto.keys.current_or_create(session, alert.id, "alert")
        )
        alert.resolution_note_ct = crypto.seal(key, queries.NOTE, alert.id, note, pad=Pad.TEXT)
    session.flush()
    changes = {"note": note} if note is not None else {"condition": "cleared"}
    _history(session, actor, alert, "alert.resolved", now, changes=changes)
    _audit(session, actor, alert, "alert.resolve" if actor else "alert.auto_resolve")
    notify.notify(session, alert, "alert.resolved", now=now)
    _unmute(session, alert, now)


def _unmute(session: Session, source: Alert, now: dt.datetime) -> None:
    """Alerts this one muted fire again (re-checked against the other active alerts)."""
    muted = list(
        session.scalars(
            select(Alert).where(Alert.inhibited_by == source.id, Alert.status.in_(rules.ACTIVE))
        )
    )
    for alert in muted:
        alert.inhibited_by, alert.updated_at = None, now
    session.flush()
    for alert in muted:
        _apply_inhibition(session, alert, now)


def escalate(session: Session, alert: Alert, *, now: dt.datetime) -> None:
    """A critical alert nobody acknowledged in time: to the organisation's supervisors."""
    alert.escalated_at = alert.updated_at = now
    session.flush()
    _history(session, None, alert, "alert.escalated", now)
    _audit(session, None, alert, "alert.escalate")
    notify.notify(session, alert, "alert.escalated", now=now)


def _history(
    session: Session,
    actor: Any,
    alert: Alert,
    kind: str,
    now: dt.datetime,
    changes: dict[str, Any] | None = None,
) -> None:
    if alert.individual_id is None:
        return
    verb = kind.removeprefix("alert.")
    muted = " (muted)" if alert.inhibited_by is not None and verb in ("raised", "updated") else ""
    history.record(
        session,
        actor=actor,
        individual_id=alert.individual_id,
        case_id=alert.case_id,
        kind=kind,
        summary=f"Alert {verb}: {alert.rule} ({alert.severity}){muted}",
        subject_type="alert",
        subject_id=alert.id,
        changes=changes,
        at=now,
    )


def _audit(session: Session, actor: Any, alert: Alert, action: str) -> None:
    person = alert.individual_id
    audit.record(
        session,
        actor=actor,
        action=action,
        subject_type="individual" if person else "alert",
        subject_id=person or alert.id,
        details={"alert_id": str(alert.id), "rule": alert.rule, "severity": alert.severity},
    )


def evaluate_time_rules(session: Session, now: dt.datetime) -> int:
    """Expiring documents and certificates, overdue check-ins, escalations (app.alerts.timed)."""
    from app.alerts import timed

    return timed.evaluate(session, now)
