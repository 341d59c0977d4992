"""A user's own profile: the time zone and language pages, e-mail and times are shown in.

The zone is an IANA name (``Asia/Bangkok``) checked against the system's zone database
(``zoneinfo``); a user without one reads times in their organisation's zone, or UTC.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.errors import NotFound, Unprocessable
from app.models.organisation import Organisation
from app.models.user import User

LOCALES = ("en", "km", "th", "th-u-ca-buddhist")  # the last: Thai, Buddhist-era years
UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class Profile:
    time_zone: str | None  # the user's own choice
    locale: str | None
    effective_time_zone: str  # what their pages use: their own, the organisation's, or UTC


def zone(name: str | None) -> ZoneInfo:
    """The zone of that name, UTC for none or an unknown one."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def check_zone(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or name not in zone_names():
        raise Unprocessable(
            "time_zone: not a time zone; use a name such as Asia/Bangkok", field="time_zone"
        )
    return name


_ZONES: frozenset[str] | None = None


def zone_names() -> frozenset[str]:
    """Every IANA zone name the system knows (read once)."""
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def effective_zone(session: Session, user_id: uuid.UUID) -> str:
    """The zone a user's times are shown in: their own, their organisation's, or UTC."""
    return effective(session, user_id)[0]


def effective(session: Session, user_id: uuid.UUID) -> tuple[str, str | None]:
    """A user's time zone (their own, their organisation's, or UTC) and interface language
    (their own, their organisation's, or None: the browser's)."""
    row = session.execute(
        select(User.time_zone, Organisation.time_zone, User.locale, Organisation.locale)
        .join(Organisation, Organisation.id == User.organisation_id)
        .where(User.id == user_id)
    ).first()
    if row is None:
        return "UTC", None
    return row[0] or row[1] or "UTC", row[2] or row[3]


def read(session: Session, actor: Actor) -> Profile:
    user = session.get(User, actor.id) if actor.kind == "user" else None
    if user is None:
        raise NotFound()
    return Profile(user.time_zone, user.locale, effective_zone(session, user.id))


def _choose(
    row: User | Organisation,
    time_zone: str | None,
    locale: str | None,
    *,
    clear_time_zone: bool = False,
    clear_locale: bool = False,
) -> list[str]:
    """Set a user's or an organisation's zone and language (checked; None for a clear); the
    names of what changed."""
    changed = []
    if clear_time_zone or time_zone is not None:
        zone_name = None if clear_time_zone else check_zone(time_zone or "")
        if zone_name != row.time_zone:
            row.time_zone = zone_name
            changed.append("time_zone")
    if clear_locale or locale is not None:
        if not clear_locale and locale not in LOCALES:
            raise Unprocessable(f"locale: one of {', '.join(LOCALES)}", field="locale")
        chosen = None if clear_locale else locale
        if chosen != row.locale:
            row.locale = chosen
            changed.append("locale")
    return changed


def update(
    session: Session,
    actor: Actor,
    *,
    time_zone: str | None = None,
    locale: str | None = None,
    clear_time_zone: bool = False,
) -> Profile:
    """Change the actor's own time zone or language (audited as ``user.profile``)."""
    user = session.get(User, actor.id) if actor.kind == "user" else None
    if user is None:
        raise NotFound()
    changed = _choose(user, time_zone, locale, clear_time_zone=clear_time_zone)
    audit.record(
        session,
        actor=actor,
        action="user.profile",
        subject_type="user",
        subject_id=user.id,
        details={"fields": changed},
    )
    return Profile(user.time_zone, user.locale, effective_zone(session, user.id))


def set_organisation_defaults(
    session: Session,
    actor: Actor,
    organisation_id: uuid.UUID,
    *,
    time_zone: str | None = None,
    locale: str | None = None,
    clear_time_zone: bool = False,
    clear_locale: bool = False,
) -> Organisation:
    """The time zone and language of an organisation's staff who have not chosen their own
    (audited as ``organisation.update``); 404 for an organisation that does not exist."""
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound()
    changed = _choose(
        organisation,
        time_zone,
        locale,
        clear_time_zone=clear_time_zone,
        clear_locale=clear_locale,
    )
    audit.record(
        session,
        actor=actor,
        action="organisation.update",
        subject_type="organisation",
        subject_id=organisation.id,
        details={"fields": changed},
    )
    return organisation


def local(moment: dt.datetime, name: str) -> dt.datetime:
    """``moment`` (aware, or naive UTC) in the zone of that name."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone(name))
