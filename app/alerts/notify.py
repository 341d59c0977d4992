"""Notices of alert changes, written to the outbox in the same transaction as the change.

Nothing is sent from here: each notice is an ``OutboxMessage`` row (one per subscribed
webhook, and one per e-mail recipient when ``HAVEN_SMTP_URL`` is set) that the delivery engine
picks up once the transaction has committed, so an alert and its notices exist together or
not at all. Payloads hold ids, rule, severity, status and a link only — never a name, a
document number or a place::

    {"type": "alert.created", "timestamp": "...",
     "data": {"id", "rule", "severity", "status", "individual_id", "case_id", "dedup_key", "link"}}

Grouping (Alertmanager's "group notifications, not alerts"): alerts raised by one revocation
list or one country event share a ``group_key`` (the list's or event's id). Each person still
gets an alert of their own, to acknowledge and resolve, but the group is announced ONCE: one
row per webhook and one e-mail per recipient, event ``alert.group`` with data
``{"group_key", "rule", "severity", "count", "alert_ids", "link"}``. A partner's pager rings once
for a list of 39 annulled passports, not 39 times. Grouped alerts are collected on the session
and written by ``flush_groups`` — called by whoever raised them when done, and in any case just
before the transaction commits. A webhook receives a group notice when it subscribes to
``alert.group``, to ``*``, or to the event its alerts would have had (``alert.created`` /
``alert.updated``). Later events of a grouped alert (acknowledged, resolved, escalated) are
notified one by one.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.alerts import rules
from app.auth.roles import Role
from app.auth.users import USER_EMAIL
from app.crypto import CryptoError, Pad, crypto_of
from app.models.alert import Alert, OutboxMessage, Webhook
from app.models.base import utcnow
from app.models.case import Case, CaseAssignment
from app.models.user import User

GROUP_EVENT = "alert.group"
_GROUPS = "alert_groups"
_LISTENING = "alert_groups_listening"


@dataclass
class _Group:
    organisation_id: uuid.UUID
    group_key: str
    rule: str
    at: Any
    alerts: dict[uuid.UUID, Alert] = field(default_factory=dict)
    events: set[str] = field(default_factory=set)
    critical_news: bool = False


def _public_url(session: Session) -> str:
    settings = session.info.get("settings")
    url = getattr(settings, "public_url", None) or "http://127.0.0.1:8000"
    return url.rstrip("/")


def _smtp_on(session: Session) -> bool:
    return bool(getattr(session.info.get("settings"), "smtp_url", None))


def alert_data(session: Session, alert: Alert) -> dict[str, Any]:
    return {
        "id": str(alert.id),
        "rule": alert.rule,
        "severity": alert.severity,
        "status": alert.status,
        "individual_id": str(alert.individual_id) if alert.individual_id else None,
        "case_id": str(alert.case_id) if alert.case_id else None,
        "dedup_key": alert.dedup_key,
        "link": f"{_public_url(session)}/alerts/{alert.id}",
    }


def _body(kind: str, at: Any, data: dict[str, Any]) -> str:
    return json.dumps(
        {"type": kind, "timestamp": at.isoformat(), "data": data}, separators=(",", ":")
    )


def notify(
    session: Session, alert: Alert, kind: str, *, now: Any, became_critical: bool = False
) -> int:
    """Outbox rows for one event of one alert; none while the alert is muted."""
    if alert.inhibited_by is not None:
        return 0
    body = _body(kind, now, alert_data(session, alert))
    targets = _webhooks(session, alert.organisation_id, (kind,))
    rows = [_row(alert.id, kind, "webhook", target, body) for target in targets]
    audience = rules.email_audience(
        kind, alert.rule, alert.severity, became_critical=became_critical
    )
    if audience is not None and _smtp_on(session):
        people = [alert.individual_id] if audience == "assigned" and alert.individual_id else []
        for user_id in recipients(session, alert.organisation_id, people):
            rows.append(_row(alert.id, kind, "email", user_id, body))
    session.add_all(rows)
    return len(rows)


def queue_group(
    session: Session, alert: Alert, kind: str, *, now: Any, became_critical: bool = False
) -> None:
    """Collect a grouped alert's notice; ``flush_groups`` writes one per group."""
    if alert.inhibited_by is not None or alert.group_key is None:
        return
    groups: dict[tuple[uuid.UUID, str, str], _Group] = session.info.setdefault(_GROUPS, {})
    key = (alert.organisation_id, alert.group_key, alert.rule)
    group = groups.get(key)
    if group is None:
        group = groups[key] = _Group(alert.organisation_id, alert.group_key, alert.rule, now)
    group.alerts[alert.id] = alert
    group.events.add(kind)
    group.critical_news |= kind == "alert.created" and alert.severity == "critical"
    group.critical_news |= became_critical
    if not session.info.get(_LISTENING):
        session.info[_LISTENING] = True
        event.listen(session, "before_commit", flush_groups)
        event.listen(session, "after_rollback", _drop_groups)


def flush_groups(session: Session) -> int:
    """Write the notices of every group collected on this session; returns the rows."""
    groups: dict[tuple[uuid.UUID, str, str], _Group] = session.info.pop(_GROUPS, {})
    written = 0
    for group in groups.values():
        alerts = sorted(group.alerts.values(), key=lambda a: str(a.id))
        severity = max((a.severity for a in alerts), key=lambda s: rules.RANK[s])
        data = {
            "group_key": group.group_key,
            "rule": group.rule,
            "severity": severity,
            "count": len(alerts),
            "alert_ids": [str(a.id) for a in alerts],
            "link": f"{_public_url(session)}/alerts?group_key={group.group_key}",
        }
        body = _body(GROUP_EVENT, group.at, data)
        names = (GROUP_EVENT, *sorted(group.events))
        rows = [
            _row(None, GROUP_EVENT, "webhook", target, body)
            for target in _webhooks(session, group.organisation_id, names)
        ]
        if _smtp_on(session) and (group.critical_news or group.rule == rules.BREAK_GLASS):
            people = [a.individual_id for a in alerts if a.individual_id is not None]
            for user_id in recipients(session, group.organisation_id, people):
                rows.append(_row(None, GROUP_EVENT, "email", user_id, body))
        session.add_all(rows)
        written += len(rows)
    return written


def _drop_groups(session: Session, *_: Any) -> None:
    session.info.pop(_GROUPS, None)


def _row(
    alert_id: uuid.UUID | None, kind: str, channel: str, target: uuid.UUID, body: str
) -> OutboxMessage:
    # Delivery is real time even when the rule ran with an injected clock.
    at = utcnow()
    return OutboxMessage(
        id=uuid.uuid4(),
        alert_id=alert_id,
        event=kind,
        channel=channel,
        target_id=target,
        payload=body,
        status="pending",
        attempts=0,
        next_attempt_at=at,
        created_at=at,
    )


def _webhooks(session: Session, organisation_id: uuid.UUID, names: tuple[str, ...]) -> list[Any]:
    """Active webhooks of the organisation subscribed to any of ``names``."""
    found = []
    hooks = session.execute(
        select(Webhook.id, Webhook.events)
        .where(Webhook.organisation_id == organisation_id, Webhook.disabled_at.is_(None))
        .order_by(Webhook.created_at, Webhook.id)
    )
    for hook_id, events in hooks:
        try:
            wanted = json.loads(events or "[]")
        except ValueError:
            continue
        if isinstance(wanted, list) and rules.subscribed(wanted, names):
            found.append(hook_id)
    return found


def recipients(
    session: Session, organisation_id: uuid.UUID, individual_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """The organisation's supervisors and, for these people, their cases' assigned
    caseworkers: those with an e-mail address and an enabled account."""
    supervisors = select(User.id).where(
        User.organisation_id == organisation_id, User.role == Role.SUPERVISOR
    )
    ids = set(session.scalars(supervisors))
    if individual_ids:
        ids |= set(
            session.scalars(
                select(CaseAssignment.user_id)
                .join(Case, Case.id == CaseAssignment.case_id)
                .where(
                    Case.individual_id.in_(individual_ids),
                    Case.organisation_id == organisation_id,
                    Case.status != "closed",
                    CaseAssignment.role == "caseworker",
                    CaseAssignment.removed_at.is_(None),
                )
            )
        )
    if not ids:
        return []
    users = session.scalars(
        select(User)
        .where(User.id.in_(ids), User.disabled.is_(False), User.email_ct.is_not(None))
        .order_by(User.username)
    )
    return [user.id for user in users if _has_email(session, user)]


def _has_email(session: Session, user: User) -> bool:
    if user.email_ct is None:
        return False
    try:
        email = crypto_of(session).open(
            session, USER_EMAIL, user.id, user.id, user.email_ct, pad=Pad.SHORT
        )
    except CryptoError:
        return False
    return bool(email)
