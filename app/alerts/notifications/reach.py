"""Who a critical alert would reach by no channel at all, and whether anyone is on call: what
an organisation's administrators and supervisors need to see before the night it matters."""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.alerts.notifications import dispatch, oncall, planner, preferences, push
from app.auth.roles import Role
from app.models.user import User


class UnreachableView(TypedDict):
    user_id: str
    username: str
    role: str
    reasons: list[str]


class ReachView(TypedDict):
    channels: list[str]
    nobody_on_call: bool
    unreachable: list[UnreachableView]


def _reasons(person: planner.Recipient, channels: tuple[str, ...]) -> list[str]:
    found = []
    for channel, label in ((planner.EMAIL, "e-mail"), (planner.PUSH, "push")):
        if channel not in channels:
            found.append(f"{label} is not configured on this server")
        elif not (
            person.preferences.email if channel == planner.EMAIL else person.preferences.push
        ):
            found.append(f"{label} turned off")
        elif channel == planner.EMAIL and not person.has_email:
            found.append("no e-mail address")
        elif channel == planner.PUSH and not person.push_devices:
            found.append("no browser subscribed")
    return found


def unreachable(session: Session, actor: Actor, now: dt.datetime) -> ReachView:
    channels = dispatch.channels(session)
    users = list(
        session.scalars(
            select(User)
            .where(
                User.organisation_id == actor.organisation_id,
                User.role.in_([Role.CASEWORKER, Role.SUPERVISOR]),
                User.disabled.is_(False),
            )
            .order_by(User.username)
        )
    )
    prefs = preferences.of_users(session, users)
    devices = push.devices(session, [u.id for u in users])
    people = [
        planner.Recipient(
            user_id=u.id,
            preferences=prefs[u.id][0],
            time_zone=prefs[u.id][1],
            has_email=dispatch.has_email(session, u),
            push_devices=len(devices.get(u.id, [])),
        )
        for u in users
    ]
    missing = set(planner.unreachable(people, channels))
    by_id = {u.id: u for u in users}
    return {
        "channels": list(channels),
        "nobody_on_call": oncall.on_call(session, actor.organisation_id, now) is None,
        "unreachable": [
            {
                "user_id": str(p.user_id),
                "username": by_id[p.user_id].username,
                "role": by_id[p.user_id].role,
                "reasons": _reasons(p, channels),
            }
            for p in people
            if p.user_id in missing
        ],
    }
