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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.actor import Actor
from app.alerts import notify, queries, rules
from app.alerts.notifications import oncall
from app.audit import service as audit
from app.crypto import Pad, crypto_of
from app.errors import Conflict, Unprocessable
from app.models.alert import Alert
from app.models.base import utcnow
from app.models.case import Case
from app.models.notification import AlertEscalation
from app.records import history

MAX_NOTE = 2000
CHUNK = 500  # ids per IN (...) query
# Alert creation's advisory locks (``_serialise``): their own space among advisory locks, and a
# batch takes at most LOCK_STRIPES of them.
LOCK_SPACE = 0x48415645
LOCK_STRIPES = 512


@dataclass(frozen=True)
class AlertSpec:
    """One alert to raise with ``raise_many``: the arguments of ``raise_alert``."""

    rule: str
    severity: str
    organisation_id: uuid.UUID
    summary: str
    individual_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    subject_id: uuid.UUID | None = None
    group_key: str | None = None


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
    actor: Actor | None = None,
    now: dt.datetime | None = None,
) -> Alert | None:
    """Open an alert, or update the open one with the same dedup key.

    ``case_id`` defaults to the person's most recent open case. ``group_key`` (a revocation
    list's or country event's id) announces the alert with the rest of its group, once (see
    ``app.alerts.notify``). Returns the alert, muted or not.
    """
    spec = AlertSpec(
        rule, severity, organisation_id, summary, individual_id, case_id, subject_id, group_key
    )
    return raise_many(session, [spec], actor=actor, now=now)[0]


def raise_many(
    session: Session,
    specs: Sequence[AlertSpec],
    *,
    actor: Actor | None = None,
    now: dt.datetime | None = None,
) -> list[Alert]:
    """``raise_alert`` for each spec, in order, with the same outcome as one call each, but
    with a few queries per thousand alerts instead of several per alert."""
    for spec in specs:
        if spec.severity not in rules.RANK:
            raise ValueError(f"unknown severity {spec.severity!r}")
    if not specs:
        return []
    now = now or utcnow()
    keys = [rules.dedup_key(s.rule, s.individual_id, s.subject_id) for s in specs]
    cases = _latest_open_cases(
        session, {s.individual_id for s in specs if s.case_id is None and s.individual_id}
    )
    _serialise(session, keys)
    open_by_key: dict[str, Alert] = {}
    unique = sorted(set(keys))
    for start in range(0, len(unique), CHUNK):
        found = session.scalars(
            select(Alert)
            .where(
                Alert.dedup_key.in_(unique[start : start + CHUNK]), Alert.status.in_(rules.ACTIVE)
            )
            .order_by(Alert.created_at)
            .with_for_update()
        )
        for alert in found:
            open_by_key[alert.dedup_key] = alert  # the newest wins
    # Every active alert of these people, for inhibition; alerts opened below join it.
    people = sorted({s.individual_id for s in specs if s.individual_id is not None})
    active: dict[uuid.UUID, list[Alert]] = {person: [] for person in people}
    for start in range(0, len(people), CHUNK):
        for alert in session.scalars(
            select(Alert).where(
                Alert.individual_id.in_(people[start : start + CHUNK]),
                Alert.status.in_(rules.ACTIVE),
            )
        ):
            active[alert.individual_id].append(alert)  # type: ignore[index]

    raised: list[Alert] = []
    entries: list[history.Entry] = []
    for spec, key in zip(specs, keys, strict=True):
        case_id = spec.case_id
        if case_id is None and spec.individual_id is not None:
            case_id = cases.get(spec.individual_id)
        existing = open_by_key.get(key)
        created = existing is None
        became_critical = False
        if existing is None:
            alert = Alert(
                id=uuid.uuid4(),
                organisation_id=spec.organisation_id,
                individual_id=spec.individual_id,
                case_id=case_id,
                rule=spec.rule,
                severity=spec.severity,
                status="open",
                dedup_key=key,
                group_key=spec.group_key,
                subject_id=spec.subject_id,
                summary=spec.summary[:300],
                occurrences=1,
                created_at=now,
                updated_at=now,
                last_seen_at=now,
            )
            session.add(alert)
            open_by_key[key] = alert
            if spec.individual_id is not None:
                active[spec.individual_id].append(alert)
            became_critical = spec.severity == "critical"
        else:
            alert = existing
            alert.occurrences += 1
            alert.last_seen_at = alert.updated_at = now
            if rules.RANK[spec.severity] > rules.RANK[alert.severity]:
                became_critical = spec.severity == "critical"
                alert.severity, alert.summary = spec.severity, spec.summary[:300]
            alert.case_id = alert.case_id or case_id
            if spec.group_key is not None:
                alert.group_key = spec.group_key
        if alert.individual_id is not None:
            others = [a for a in active.get(alert.individual_id, ()) if a.id != alert.id]
            _inhibit(alert, others, now)
        entry = _entry(alert, "alert.raised" if created else "alert.updated", now)
        if entry is not None:
            entries.append(entry)
        if created:
            _audit(session, actor, alert, "alert.raise")
        kind = "alert.created" if created else "alert.updated"
        if spec.group_key is not None:
            notify.queue_group(session, alert, kind, now=now, became_critical=became_critical)
        else:
            notify.notify(session, alert, kind, now=now, became_critical=became_critical)
        raised.append(alert)
    history.record_many(session, actor=actor, entries=entries)
    session.flush()
    return raised


def _latest_open_cases(
    session: Session, individual_ids: set[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """``queries.latest_open_case`` for many people."""
    if len(individual_ids) == 1:
        (person,) = individual_ids
        case_id = queries.latest_open_case(session, person)
        return {} if case_id is None else {person: case_id}
    people = sorted(individual_ids)
    found: dict[uuid.UUID, uuid.UUID] = {}
    for start in range(0, len(people), CHUNK):
        rows = session.execute(
            select(Case.individual_id, Case.id)
            .where(Case.individual_id.in_(people[start : start + CHUNK]), Case.status != "closed")
            .order_by(Case.created_at.desc(), Case.id.desc())
        )
        for person, case_id in rows:
            found.setdefault(person, case_id)
    return found


def _serialise(session: Session, keys: Sequence[str]) -> None:
    """Two raises of one new threat at once must not open two alerts.

    Row locks cannot lock a row that does not exist yet, so on PostgreSQL a transaction-level
    advisory lock serialises them: one per stripe of dedup keys (the same key always falls in
    the same stripe), taken in one order so that two batches cannot deadlock (SQLite already
    serialises writers with BEGIN IMMEDIATE). Stripes, not one lock per key: PostgreSQL's lock
    table holds 64 locks per connection by default, and a country event raising alerts for
    33,000 people ran out of it ("out of shared memory").
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    stripes = sorted({int(key[:16], 16) % LOCK_STRIPES for key in keys})
    session.execute(
        text(
            "SELECT count(pg_advisory_xact_lock(:space, k)) "
            "FROM unnest(CAST(:stripes AS integer[])) AS t(k)"
        ),
        {"space": LOCK_SPACE, "stripes": stripes},
    )


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
    _inhibit(alert, active, now)


def _inhibit(alert: Alert, active: list[Alert], now: dt.datetime) -> None:
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
    session: Session, actor: Actor, alert_id: uuid.UUID, *, now: dt.datetime | None = None
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
    actor: Actor,
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
    session: Session, alert: Alert, *, actor: Actor | None, note: str | None, now: dt.datetime
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


def escalate(session: Session, alert: Alert, *, now: dt.datetime, step: int = 1) -> None:
    """A critical alert nobody acknowledged in time: first to the person on call (to the
    supervisors when nobody is), then (``step`` 2) to every supervisor."""
    on_call = oncall.on_call(session, alert.organisation_id, now) if step == 1 else None
    if step == 1:
        alert.escalated_at = alert.updated_at = now
    session.add(AlertEscalation(alert_id=alert.id, step=step, at=now, to_user_id=on_call))
    session.flush()
    _history(
        session, None, alert, "alert.escalated", now, changes={"step": 2} if step == 2 else None
    )
    _audit(session, None, alert, "alert.escalate" if step == 1 else "alert.escalate_supervisors")
    notify.notify(session, alert, "alert.escalated", now=now, escalation_step=step)


def _history(
    session: Session,
    actor: Actor | None,
    alert: Alert,
    kind: str,
    now: dt.datetime,
    changes: dict[str, Any] | None = None,
) -> None:
    entry = _entry(alert, kind, now, changes)
    if entry is not None:
        history.record_many(session, actor=actor, entries=[entry])


def _entry(
    alert: Alert, kind: str, now: dt.datetime, changes: dict[str, Any] | None = None
) -> history.Entry | None:
    if alert.individual_id is None:
        return None
    verb = kind.removeprefix("alert.")
    muted = " (muted)" if alert.inhibited_by is not None and verb in ("raised", "updated") else ""
    return history.Entry(
        individual_id=alert.individual_id,
        case_id=alert.case_id,
        kind=kind,
        summary=f"Alert {verb}: {alert.rule} ({alert.severity}){muted}",
        subject_type="alert",
        subject_id=alert.id,
        changes=changes,
        at=now,
    )


def _audit(session: Session, actor: Actor | None, alert: Alert, action: str) -> None:
    person = alert.individual_id
    audit.record(
        session,
        actor=actor,
        action=action,
        subject_type="individual" if person else "alert",
        subject_id=person or alert.id,
        details={"alert_id": str(alert.id), "rule": alert.rule, "severity": alert.severity},
    )
