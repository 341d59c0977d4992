"""The on-call rota of an organisation: who answers critical alerts nobody acknowledged."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.auth.roles import Role
from app.errors import NotFound, Unprocessable
from app.models.notification import OnCallShift
from app.models.user import User

ON_CALL_ROLES = frozenset({Role.CASEWORKER, Role.SUPERVISOR})
MAX_SHIFT = dt.timedelta(days=31)
LISTED = dt.timedelta(days=62)


class ShiftView(TypedDict):
    id: str
    user_id: str
    username: str
    starts_at: dt.datetime
    ends_at: dt.datetime


class RotaView(TypedDict):
    on_call_now: ShiftView | None
    shifts: list[ShiftView]


def on_call(session: Session, organisation_id: uuid.UUID, now: dt.datetime) -> uuid.UUID | None:
    """Who is on call now (of overlapping shifts, the one that started last), if anyone
    with an enabled account is."""
    return session.scalar(
        select(OnCallShift.user_id)
        .join(User, User.id == OnCallShift.user_id)
        .where(
            OnCallShift.organisation_id == organisation_id,
            OnCallShift.starts_at <= now,
            OnCallShift.ends_at > now,
            User.disabled.is_(False),
        )
        .order_by(OnCallShift.starts_at.desc(), OnCallShift.id)
        .limit(1)
    )


def _view(shift: OnCallShift, username: str) -> ShiftView:
    return {
        "id": str(shift.id),
        "user_id": str(shift.user_id),
        "username": username,
        "starts_at": shift.starts_at,
        "ends_at": shift.ends_at,
    }


def rota(session: Session, actor: Actor, now: dt.datetime) -> RotaView:
    """The organisation's shifts from now on (and the one in progress)."""
    rows = session.execute(
        select(OnCallShift, User.username)
        .join(User, User.id == OnCallShift.user_id)
        .where(
            OnCallShift.organisation_id == actor.organisation_id,
            OnCallShift.ends_at > now,
            OnCallShift.starts_at < now + LISTED,
        )
        .order_by(OnCallShift.starts_at, OnCallShift.id)
    ).all()
    shifts = [_view(shift, name) for shift, name in rows]
    current = on_call(session, actor.organisation_id, now)
    now_shift = None
    if current is not None:
        now_shift = next(
            (s for s in reversed(shifts) if s["user_id"] == str(current) and s["starts_at"] <= now),
            None,
        )
    return {"on_call_now": now_shift, "shifts": shifts}


def add_shift(
    session: Session,
    actor: Actor,
    *,
    user_id: uuid.UUID,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
) -> ShiftView:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise Unprocessable("starts_at, ends_at: give a time zone offset", field="starts_at")
    try:
        ordered = starts_at < ends_at <= starts_at + MAX_SHIFT
    except OverflowError:  # the last days of year 9999
        ordered = False
    if not ordered:
        raise Unprocessable("ends_at: after starts_at, at most 31 days later", field="ends_at")
    user = session.scalar(
        select(User).where(User.id == user_id, User.organisation_id == actor.organisation_id)
    )
    if user is None:
        raise NotFound("no such user in this organisation")
    if user.disabled or user.role not in ON_CALL_ROLES:
        raise Unprocessable(
            "user_id: only an enabled caseworker or supervisor can be on call", field="user_id"
        )
    shift = OnCallShift(
        id=uuid.uuid4(),
        organisation_id=actor.organisation_id,
        user_id=user.id,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=actor.id,
    )
    session.add(shift)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="on_call.add",
        subject_type="user",
        subject_id=user.id,
        details={"shift_id": str(shift.id)},
    )
    return _view(shift, user.username)


def remove_shift(session: Session, actor: Actor, shift_id: uuid.UUID) -> None:
    shift = session.scalar(
        select(OnCallShift).where(
            OnCallShift.id == shift_id, OnCallShift.organisation_id == actor.organisation_id
        )
    )
    if shift is None:
        raise NotFound("no such shift")
    session.delete(shift)
    audit.record(
        session,
        actor=actor,
        action="on_call.remove",
        subject_type="user",
        subject_id=shift.user_id,
        details={"shift_id": str(shift_id)},
    )
