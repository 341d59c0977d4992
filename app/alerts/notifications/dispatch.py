"""From a notice to outbox rows for people: gather who may be told, ask the planner, write.

Called by ``app.alerts.notify`` inside the transaction of the change. E-mail rows carry the
notice's stored body (ids, rule, severity, link); push rows carry the four fields of
``push.payload``, one row per subscribed browser. A reader who reads another language than
English gets it stamped on their rows: the e-mail's ``"locale"``, the push message's ``title``
and ``body`` in their words (Haven's own, never a name or a place). A row held back by quiet
hours waits in the outbox (``next_attempt_at``) until they end.

Rows written for an alert that is muted before the transaction commits (the alert that mutes
it came later in the same change) are withdrawn just before the commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.alerts import mail
from app.alerts.notifications import oncall, planner, preferences, push
from app.auth.roles import Role
from app.auth.users import USER_EMAIL
from app.crypto import CryptoError, Pad, crypto_of
from app.models.alert import Alert, OutboxMessage
from app.models.base import utcnow
from app.models.case import Case, CaseAssignment
from app.models.notification import PushSubscription
from app.models.user import User

_WRITTEN = "notices_written"
_LISTENING = "notices_listening"


def channels(session: Session) -> tuple[str, ...]:
    """The channels this deployment can send on (e-mail needs HAVEN_SMTP_URL, push
    HAVEN_PUSH_CONTACT)."""
    settings = session.info.get("settings")
    found = []
    if getattr(settings, "smtp_url", None):
        found.append(planner.EMAIL)
    if getattr(settings, "push_contact", None):
        found.append(planner.PUSH)
    return tuple(found)


def has_email(session: Session, user: User) -> bool:
    if user.email_ct is None:
        return False
    try:
        email = crypto_of(session).open(
            session, USER_EMAIL, user.id, user.id, user.email_ct, pad=Pad.SHORT
        )
    except CryptoError:
        return False
    return bool(email)


def _assigned(
    session: Session, organisation_id: uuid.UUID, individual_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    if not individual_ids:
        return set()
    return set(
        session.scalars(
            select(CaseAssignment.user_id)
            .join(Case, Case.id == CaseAssignment.case_id)
            .where(
                Case.individual_id.in_(list(individual_ids)),
                Case.organisation_id == organisation_id,
                Case.status != "closed",
                CaseAssignment.role == "caseworker",
                CaseAssignment.removed_at.is_(None),
            )
        )
    )


def recipients(
    session: Session,
    organisation_id: uuid.UUID,
    individual_ids: Sequence[uuid.UUID],
    now: dt.datetime,
    *,
    with_on_call: bool,
    enabled: Sequence[str],
) -> list[planner.Recipient]:
    """Everyone an alert of these people might reach: supervisors, the people's assigned
    caseworkers and (for escalation) whoever is on call; enabled accounts only."""
    supervisors = set(
        session.scalars(
            select(User.id).where(
                User.organisation_id == organisation_id, User.role == Role.SUPERVISOR
            )
        )
    )
    assigned = _assigned(session, organisation_id, individual_ids)
    on_call = oncall.on_call(session, organisation_id, now) if with_on_call else None
    ids = supervisors | assigned | ({on_call} if on_call else set())
    if not ids:
        return []
    users = list(
        session.scalars(
            select(User).where(User.id.in_(ids), User.disabled.is_(False)).order_by(User.username)
        )
    )
    prefs = preferences.of_users(session, users)
    devices = push.devices(session, [u.id for u in users]) if planner.PUSH in enabled else {}
    found = []
    for user in users:
        chosen, zone = prefs[user.id]
        found.append(
            planner.Recipient(
                user_id=user.id,
                preferences=chosen,
                time_zone=zone,
                has_email=planner.EMAIL in enabled and has_email(session, user),
                push_devices=len(devices.get(user.id, [])),
                assigned=user.id in assigned,
                supervisor=user.id in supervisors and user.organisation_id == organisation_id,
                on_call=user.id == on_call,
            )
        )
    return found


def _already(session: Session, alert_id: uuid.UUID | None, kind: str) -> set[tuple[uuid.UUID, str]]:
    """(user, channel) pairs already sent this event of this alert."""
    if alert_id is None:
        return set()
    rows = session.execute(
        select(OutboxMessage.channel, OutboxMessage.target_id).where(
            OutboxMessage.alert_id == alert_id,
            OutboxMessage.event == kind,
            OutboxMessage.channel.in_(planner.CHANNELS),
        )
    ).all()
    found = {(target, channel) for channel, target in rows if channel == planner.EMAIL}
    subs = [target for channel, target in rows if channel == planner.PUSH]
    if subs:
        owners = session.execute(
            select(PushSubscription.user_id).where(PushSubscription.id.in_(subs))
        )
        found |= {(user_id, planner.PUSH) for (user_id,) in owners}
    return found


def write(
    session: Session,
    notice: planner.Notice,
    *,
    organisation_id: uuid.UUID,
    individual_ids: Sequence[uuid.UUID],
    alert_id: uuid.UUID | None,
    body: str,
    push_body: str,
    now: dt.datetime,
) -> tuple[planner.Plan, list[OutboxMessage]]:
    """The plan for ``notice`` and the people's outbox rows it asks for (added to the
    session); webhooks are the caller's, if the plan says so."""
    enabled = channels(session)
    if notice.muted or not enabled:
        return planner.plan(notice, (), now, channels=enabled), []
    people = recipients(
        session,
        organisation_id,
        individual_ids,
        now,
        with_on_call=notice.event == planner.ESCALATED,
        enabled=enabled,
    )
    already = frozenset(_already(session, alert_id, notice.event))
    decided = planner.plan(notice, people, now, channels=enabled, already=already)
    subs = push.devices(session, [d.user_id for d in decided.deliveries if d.channel == "push"])
    rows: list[OutboxMessage] = []
    languages: dict[uuid.UUID, str] = {}
    for delivery in decided.deliveries:
        user_id = delivery.user_id
        if user_id not in languages:
            languages[user_id] = mail.reader_locale(session, user_id)
        locale = languages[user_id]
        if delivery.channel == planner.EMAIL:
            text = mail.for_reader(body, locale)
            rows.append(row(alert_id, notice.event, "email", user_id, text, delivery))
        else:
            text = push.for_reader(push_body, locale)
            for sub_id in subs.get(user_id, []):
                rows.append(row(alert_id, notice.event, "push", sub_id, text, delivery))
    session.add_all(rows)
    track(session, rows)
    return decided, rows


def row(
    alert_id: uuid.UUID | None,
    kind: str,
    channel: str,
    target: uuid.UUID,
    body: str,
    delivery: planner.Delivery | None = None,
) -> OutboxMessage:
    # Delivery is real time even when the rule ran with an injected clock; quiet hours
    # (computed on that clock) only ever move it later.
    at = utcnow()
    due = at
    if delivery is not None and delivery.not_before is not None:
        due = max(at, delivery.not_before)
    return OutboxMessage(
        id=uuid.uuid4(),
        alert_id=alert_id,
        event=kind,
        channel=channel,
        target_id=target,
        payload=body,
        status="pending",
        attempts=0,
        next_attempt_at=due,
        created_at=at,
    )


def track(session: Session, rows: list[OutboxMessage]) -> None:
    """Remember this transaction's rows of single alerts, to withdraw those of alerts muted
    before it commits."""
    written: list[OutboxMessage] = session.info.setdefault(_WRITTEN, [])
    written.extend(r for r in rows if r.alert_id is not None)
    if not session.info.get(_LISTENING):
        session.info[_LISTENING] = True
        event.listen(session, "before_commit", _withdraw_muted)
        event.listen(session, "after_commit", _forget)
        event.listen(session, "after_rollback", _forget)


def _withdraw_muted(session: Session) -> None:
    written: list[OutboxMessage] = session.info.pop(_WRITTEN, [])
    fresh = [m for m in written if m.event in ("alert.created", "alert.updated")]
    if not fresh:
        return
    ids = list({m.alert_id for m in fresh})
    muted = set(
        session.scalars(select(Alert.id).where(Alert.id.in_(ids), Alert.inhibited_by.is_not(None)))
    )
    for message in fresh:
        if message.alert_id in muted:
            if message in session.new:
                session.expunge(message)
            else:
                session.delete(message)


def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_WRITTEN, None)


HELD_BACK = dt.timedelta(minutes=1)


def stale(session: Session, message: OutboxMessage) -> bool:
    """A message held back by quiet hours whose alert was resolved or muted meanwhile: the
    morning brings no news of what is over."""
    if message.alert_id is None or message.next_attempt_at - message.created_at < HELD_BACK:
        return False
    if message.event not in ("alert.created", "alert.updated"):
        return False
    alert = session.get(Alert, message.alert_id)
    return alert is None or alert.status == "resolved" or alert.inhibited_by is not None
