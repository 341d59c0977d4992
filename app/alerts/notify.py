"""Notices of alert changes, written to the outbox in the same transaction as the change.

Nothing is sent from here: each notice is an ``OutboxMessage`` row (one per subscribed
webhook, and one per person and channel — e-mail, and push per browser — as the notification
planner decides: ``app.alerts.notifications.planner``) that the delivery engine
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
from app.alerts.notifications import dispatch, planner, push
from app.models.alert import Alert, OutboxMessage, Webhook
from app.models.base import utcnow

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
    session: Session,
    alert: Alert,
    kind: str,
    *,
    now: Any,
    became_critical: bool = False,
    escalation_step: int = 0,
) -> int:
    """Outbox rows for one event of one alert, as the planner decides (none while muted)."""
    notice = planner.Notice(
        event=kind,
        rule=alert.rule,
        severity=alert.severity,
        muted=alert.inhibited_by is not None,
        became_critical=became_critical,
        escalation_step=escalation_step,
    )
    body = _body(kind, now, alert_data(session, alert))
    people = [alert.individual_id] if alert.individual_id else []
    decided, rows = dispatch.write(
        session,
        notice,
        organisation_id=alert.organisation_id,
        individual_ids=people,
        alert_id=alert.id,
        body=body,
        push_body=push.payload(alert.id, alert.severity, alert.rule, f"/alerts/{alert.id}"),
        now=now,
    )
    if decided.webhooks:
        hooks = [
            _row(alert.id, kind, "webhook", target, body)
            for target in _webhooks(session, alert.organisation_id, (kind,))
        ]
        session.add_all(hooks)
        dispatch.track(session, hooks)
        rows = rows + hooks
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
        # An alert muted since it joined the group (by a later alert of the same change) is
        # announced to nobody.
        alerts = sorted(
            (a for a in group.alerts.values() if a.inhibited_by is None), key=lambda a: str(a.id)
        )
        if not alerts:
            continue
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
        first = alerts[0]
        notice = planner.Notice(
            event=GROUP_EVENT,
            rule=group.rule,
            severity=severity,
            became_critical=group.critical_news,
        )
        link = f"/alerts?group_key={group.group_key}"
        decided, rows = dispatch.write(
            session,
            notice,
            organisation_id=group.organisation_id,
            individual_ids=[a.individual_id for a in alerts if a.individual_id is not None],
            alert_id=None,
            body=body,
            push_body=push.payload(first.id, severity, group.rule, link),
            now=group.at,
        )
        if decided.webhooks:
            rows += [
                _row(None, GROUP_EVENT, "webhook", target, body)
                for target in _webhooks(session, group.organisation_id, names)
            ]
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
