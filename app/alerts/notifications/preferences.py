"""A user's notification preferences (stored, or their role's defaults) and their time zone.

The time zone is the profile's ``User.time_zone`` (the organisation's ``time_zone`` when the
user has none, then UTC): it is stored there, not here, and changing it here changes the profile.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.alerts import rules
from app.alerts.notifications import planner
from app.audit import service as audit
from app.errors import NotFound, Unprocessable
from app.models.base import utcnow
from app.models.notification import NotificationPreference
from app.models.organisation import Organisation
from app.models.user import User

HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class QuietHoursView(TypedDict):
    start: str
    end: str


class PreferencesView(TypedDict):
    email: bool
    push: bool
    min_severity: str
    quiet_hours: QuietHoursView | None
    time_zone: str
    time_zone_is_default: bool  # the user has none of their own: the organisation's, or UTC


def parse_time(text: str, field: str) -> dt.time:
    match = HHMM.match(text)
    if not match:
        raise Unprocessable(f"{field}: a time of day as HH:MM (24 hours)", field=field)
    return dt.time(int(match[1]), int(match[2]))


def check_zone(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or planner.zone(name).key != name:
        raise Unprocessable("time_zone: an IANA time zone such as Asia/Bangkok", field="time_zone")
    return name


def stored(row: NotificationPreference | None, role: str) -> planner.Preferences:
    if row is None:
        return planner.defaults(role)
    quiet = None
    if row.quiet_start and row.quiet_end:
        quiet = planner.QuietHours(
            parse_time(row.quiet_start, "start"), parse_time(row.quiet_end, "end")
        )
    return planner.Preferences(row.email, row.push, row.min_severity, quiet)


def time_zone(session: Session, user: User) -> tuple[str, bool]:
    """(zone, whether it is a default rather than the user's own)."""
    if user.time_zone:
        return user.time_zone, False
    org = session.get(Organisation, user.organisation_id)
    return (org.time_zone if org and org.time_zone else "UTC"), True


def _user(session: Session, actor: Actor) -> User:
    user = session.get(User, actor.id)
    if user is None or actor.kind != "user":
        raise NotFound("no such user")
    return user


def _view(session: Session, user: User, prefs: planner.Preferences) -> PreferencesView:
    zone, is_default = time_zone(session, user)
    quiet: QuietHoursView | None = None
    if prefs.quiet_hours is not None:
        quiet = {
            "start": prefs.quiet_hours.start.strftime("%H:%M"),
            "end": prefs.quiet_hours.end.strftime("%H:%M"),
        }
    return {
        "email": prefs.email,
        "push": prefs.push,
        "min_severity": prefs.min_severity,
        "quiet_hours": quiet,
        "time_zone": zone,
        "time_zone_is_default": is_default,
    }


def read(session: Session, actor: Actor) -> PreferencesView:
    user = _user(session, actor)
    row = session.get(NotificationPreference, user.id)
    return _view(session, user, stored(row, user.role))


def update(
    session: Session,
    actor: Actor,
    *,
    email: bool,
    push: bool,
    min_severity: str,
    quiet_hours: tuple[str, str] | None,
    time_zone: str | None,
) -> PreferencesView:
    user = _user(session, actor)
    if min_severity not in rules.RANK:
        raise Unprocessable(
            f"min_severity: one of {', '.join(rules.SEVERITIES)}", field="min_severity"
        )
    start = end = None
    if quiet_hours is not None:
        start, end = quiet_hours
        if parse_time(start, "quiet_hours.start") == parse_time(end, "quiet_hours.end"):
            raise Unprocessable(
                "quiet_hours: start and end must differ (null for none)", field="quiet_hours"
            )
    row = session.get(NotificationPreference, user.id)
    if row is None:
        row = NotificationPreference(user_id=user.id, email=email, push=push)
        session.add(row)
    row.email, row.push, row.min_severity = email, push, min_severity
    row.quiet_start, row.quiet_end = start, end
    row.updated_at = utcnow()
    changed = ["email", "push", "min_severity", "quiet_hours"]
    if time_zone is not None:
        zone = check_zone(time_zone)
        if zone != user.time_zone:
            user.time_zone = zone
            changed.append("time_zone")
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="notifications.update",
        subject_type="user",
        subject_id=user.id,
        details={"fields": changed},
    )
    return _view(session, user, stored(row, user.role))


def of_users(
    session: Session, users: list[User]
) -> dict[uuid.UUID, tuple[planner.Preferences, str]]:
    """Each user's preferences and time zone, for the planner."""
    if not users:
        return {}
    rows = {
        r.user_id: r
        for r in session.scalars(
            select(NotificationPreference).where(
                NotificationPreference.user_id.in_([u.id for u in users])
            )
        )
    }
    zones: dict[uuid.UUID, str | None] = {}
    found = {}
    for user in users:
        if user.organisation_id not in zones:
            org = session.get(Organisation, user.organisation_id)
            zones[user.organisation_id] = org.time_zone if org else None
        zone = user.time_zone or zones[user.organisation_id] or "UTC"
        found[user.id] = (stored(rows.get(user.id), user.role), zone)
    return found
