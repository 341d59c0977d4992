"""The one notification planner: who is told what, on which channel, and when (pure).

Every notice of an alert (opened, raised to critical, acknowledged, resolved, escalated, a group
of alerts announced once) goes through ``plan``; e-mail, Web Push, the live inbox (SSE),
webhooks and escalation are decided here and nowhere else:

- inhibition: a muted alert notifies nobody (no webhook, e-mail or push); it still shows,
  marked muted, in the live inbox of those who may see it;
- audience: the assigned caseworkers of the person and the organisation's supervisors; alerts
  about staff (emergency access, role grants, new keys) to supervisors only; an escalation's
  first step to the person on call (by every channel they have, whatever their preferences and
  quiet hours), or to the supervisors when nobody is on call; its second step to the supervisors;
- what is worth a message: an alert opened, or raised to critical (repeats of the same threat
  are not); acknowledged and resolved only for critical alerts (who was woken hears the end);
- preferences: e-mail and push each on or off, a minimum severity, quiet hours read in the
  user's time zone: during them everything but critical is held back until they end (alerts
  about what staff did count as critical);
- dedup: one message per person per channel per notice, none to whom already had this one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.alerts import rules

EMAIL, PUSH = "email", "push"
CHANNELS = (EMAIL, PUSH)
ESCALATED = "alert.escalated"
GROUP = "alert.group"
FOLLOW_UPS = frozenset({"alert.acknowledged", "alert.resolved"})


@dataclass(frozen=True)
class QuietHours:
    start: dt.time
    end: dt.time


@dataclass(frozen=True)
class Preferences:
    email: bool
    push: bool
    min_severity: str
    quiet_hours: QuietHours | None = None


# Defaults by role: those who carry a caseload and oversee it hear critical alerts everywhere;
# the other roles are never in an alert's audience, so nothing is turned on for them.
ROLE_DEFAULTS: dict[str, Preferences] = {
    "caseworker": Preferences(email=True, push=True, min_severity="critical"),
    "supervisor": Preferences(email=True, push=True, min_severity="critical"),
    "lawyer": Preferences(email=True, push=False, min_severity="critical"),
}
OTHER_ROLES = Preferences(email=False, push=False, min_severity="critical")


def defaults(role: str) -> Preferences:
    return ROLE_DEFAULTS.get(role, OTHER_ROLES)


@dataclass(frozen=True)
class Recipient:
    """A member of the organisation who may be told, with what they chose and what they have."""

    user_id: uuid.UUID
    preferences: Preferences
    time_zone: str = "UTC"
    has_email: bool = False  # an address on file
    push_devices: int = 0  # browsers subscribed
    assigned: bool = False  # assigned to a case of the alert's person
    supervisor: bool = False
    on_call: bool = False


@dataclass(frozen=True)
class Notice:
    """What happened to an alert (or a group of alerts announced once)."""

    event: str
    rule: str
    severity: str
    muted: bool = False
    became_critical: bool = False  # opened as, or raised to, critical by this event
    escalation_step: int = 0  # alert.escalated: 1 to the person on call, 2 to supervisors


@dataclass(frozen=True)
class Delivery:
    user_id: uuid.UUID
    channel: str
    not_before: dt.datetime | None  # held back by quiet hours until then
    why: str  # "assigned", "supervisor", "on call"


@dataclass(frozen=True)
class Plan:
    webhooks: bool  # the organisation's subscribed webhooks get the notice
    stream: bool  # the change shows in the live inbox (SSE) of those who may see it
    deliveries: tuple[Delivery, ...] = field(default=())


def plan(
    notice: Notice,
    people: Sequence[Recipient],
    now: dt.datetime,
    *,
    channels: Iterable[str] = CHANNELS,
    already: frozenset[tuple[uuid.UUID, str]] = frozenset(),
) -> Plan:
    """Who gets ``notice`` on which of the configured ``channels``; ``already`` holds the
    (user, channel) pairs that were sent this notice before."""
    if notice.muted:
        return Plan(webhooks=False, stream=True)
    enabled = [c for c in CHANNELS if c in set(channels)]
    # What staff did (emergency access, role grants, new keys) must not wait for morning.
    severity = "critical" if notice.rule in rules.SUPERVISOR_ONLY else notice.severity
    deliveries: list[Delivery] = []
    seen: set[tuple[uuid.UUID, str]] = set(already)
    for person, why, forced in _audience(notice, people):
        for channel in enabled:
            if (person.user_id, channel) in seen or not _has(person, channel):
                continue
            if forced:
                not_before = None
            elif not _wants(person.preferences, channel, severity):
                continue
            else:
                not_before = held_until(person, severity, now)
            seen.add((person.user_id, channel))
            deliveries.append(Delivery(person.user_id, channel, not_before, why))
    # Partners' webhooks hear of an escalation once, at its first step.
    webhooks = notice.escalation_step < 2
    return Plan(webhooks=webhooks, stream=True, deliveries=tuple(deliveries))


def stream(notice: Notice) -> bool:
    """Whether a change shows in the live inbox: always (muted ones marked as muted)."""
    return plan(notice, (), dt.datetime.now(dt.UTC)).stream


def _audience(notice: Notice, people: Sequence[Recipient]) -> list[tuple[Recipient, str, bool]]:
    """(person, why, forced) in order of precedence; forced ignores preferences."""
    supervisors = [(p, "supervisor", False) for p in people if p.supervisor]
    if notice.event == ESCALATED:
        if notice.escalation_step >= 2:
            return supervisors
        on_call = [(p, "on call", True) for p in people if p.on_call]
        return on_call or supervisors
    if notice.rule in rules.SUPERVISOR_ONLY:
        created = notice.event in ("alert.created", GROUP)
        return supervisors if created else []
    if not _worth_a_message(notice):
        return []
    assigned = [(p, "assigned", False) for p in people if p.assigned]
    return assigned + supervisors


def _worth_a_message(notice: Notice) -> bool:
    if notice.event == "alert.created":
        return True
    if notice.event in ("alert.updated", GROUP):
        return notice.became_critical
    if notice.event in FOLLOW_UPS:
        return notice.severity == "critical"
    return False


def _has(person: Recipient, channel: str) -> bool:
    return person.has_email if channel == EMAIL else person.push_devices > 0


def _wants(preferences: Preferences, channel: str, severity: str) -> bool:
    on = preferences.email if channel == EMAIL else preferences.push
    return on and rules.RANK[severity] >= rules.RANK[preferences.min_severity]


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def held_until(person: Recipient, severity: str, now: dt.datetime) -> dt.datetime | None:
    """The end of the person's quiet hours if ``now`` falls in them and the notice is not
    critical; None: send now."""
    quiet = person.preferences.quiet_hours
    if quiet is None or severity == "critical" or quiet.start == quiet.end:
        return None
    tz = zone(person.time_zone)
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        inside = quiet.start <= t < quiet.end
    else:  # across midnight, "22:00" to "07:00"
        inside = t >= quiet.start or t < quiet.end
    if not inside:
        return None
    end = dt.datetime.combine(local.date(), quiet.end, tzinfo=tz)
    if end <= local:
        end = dt.datetime.combine(local.date() + dt.timedelta(days=1), quiet.end, tzinfo=tz)
    return end.astimezone(dt.UTC)


def unreachable(people: Sequence[Recipient], channels: Iterable[str]) -> list[uuid.UUID]:
    """Of these people (each as if assigned), those a critical alert would reach by no
    channel at all: what an organisation's administrators need to see."""
    probe = Notice(event="alert.created", rule=rules.HOST_CUSTODY, severity="critical")
    now = dt.datetime.now(dt.UTC)
    found = []
    for person in people:
        as_assigned = Recipient(
            person.user_id,
            person.preferences,
            person.time_zone,
            person.has_email,
            person.push_devices,
            assigned=True,
        )
        if not plan(probe, [as_assigned], now, channels=channels).deliveries:
            found.append(person.user_id)
    return found
