"""The notification planner as a pure function: one table of cases, each a notice, the people
who might be told, the moment, and who gets it on which channel (and when)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field, replace

import pytest

from app.alerts.notifications import planner
from app.alerts.notifications.planner import Notice, Preferences, QuietHours, Recipient

WORKER, BOSS, NIGHT, OTHER = (uuid.UUID(int=i) for i in (1, 2, 3, 4))
NAMES = {WORKER: "worker", BOSS: "boss", NIGHT: "night", OTHER: "other"}
DEFAULT = planner.defaults("caseworker")
ALL = Preferences(email=True, push=True, min_severity="info")
QUIET = QuietHours(dt.time(22), dt.time(7))
# 23:30 in Bangkok (UTC+7) and 12:00 there.
LATE = dt.datetime(2026, 12, 4, 16, 30, tzinfo=dt.UTC)
NOON = dt.datetime(2026, 12, 4, 5, 0, tzinfo=dt.UTC)
MORNING = dt.datetime(2026, 12, 5, 0, 0, tzinfo=dt.UTC)  # 07:00 in Bangkok


def person(who: uuid.UUID, **fields: object) -> Recipient:
    values: dict[str, object] = {
        "user_id": who,
        "preferences": DEFAULT,
        "time_zone": "Asia/Bangkok",
        "has_email": True,
        "push_devices": 1,
    }
    values.update(fields)
    return Recipient(**values)  # type: ignore[arg-type]


WORKER_P = person(WORKER, assigned=True)
BOSS_P = person(BOSS, supervisor=True)
NIGHT_P = person(NIGHT, on_call=True, preferences=Preferences(False, False, "critical"))
TEAM = [WORKER_P, BOSS_P, NIGHT_P]


@dataclass(frozen=True)
class Case:
    name: str
    notice: Notice
    people: list[Recipient]
    expect: set[str]  # "worker:email", "boss:push@held" …
    now: dt.datetime = NOON
    channels: tuple[str, ...] = planner.CHANNELS
    already: frozenset[tuple[uuid.UUID, str]] = field(default_factory=frozenset)
    webhooks: bool = True


def n(event: str, severity: str = "critical", rule: str = "host_custody", **kw: object) -> Notice:
    return Notice(event=event, rule=rule, severity=severity, **kw)  # type: ignore[arg-type]


BOTH = {"worker:email", "worker:push", "boss:email", "boss:push"}
CASES = [
    Case(
        "critical opened: assigned and supervisors, both channels", n("alert.created"), TEAM, BOTH
    ),
    Case(
        "muted: nobody, no webhook",
        n("alert.created", muted=True),
        TEAM,
        set(),
        webhooks=False,
    ),
    Case("high opened: below everyone's default minimum", n("alert.created", "high"), TEAM, set()),
    Case(
        "high opened: a caseworker who asked for high",
        n("alert.created", "high"),
        [replace(WORKER_P, preferences=ALL), BOSS_P],
        {"worker:email", "worker:push"},
    ),
    Case(
        "e-mail off, push on",
        n("alert.created"),
        [replace(WORKER_P, preferences=Preferences(False, True, "critical"))],
        {"worker:push"},
    ),
    Case(
        "no address and no browser: nothing to send on",
        n("alert.created"),
        [replace(WORKER_P, has_email=False, push_devices=0)],
        set(),
    ),
    Case(
        "a channel the server does not have",
        n("alert.created"),
        [WORKER_P],
        {"worker:email"},
        channels=("email",),
    ),
    Case("a repeat of the same threat", n("alert.updated"), TEAM, set()),
    Case(
        "raised to critical by a repeat",
        n("alert.updated", became_critical=True),
        TEAM,
        BOTH,
    ),
    Case("critical acknowledged: who was woken hears it", n("alert.acknowledged"), TEAM, BOTH),
    Case("high resolved: no message", n("alert.resolved", "high"), TEAM, set()),
    Case(
        "quiet hours hold back a high alert until they end",
        n("alert.created", "high"),
        [replace(WORKER_P, preferences=replace(ALL, quiet_hours=QUIET))],
        {"worker:email@held", "worker:push@held"},
        now=LATE,
    ),
    Case(
        "quiet hours never hold back a critical alert",
        n("alert.created"),
        [replace(WORKER_P, preferences=replace(DEFAULT, quiet_hours=QUIET))],
        {"worker:email", "worker:push"},
        now=LATE,
    ),
    Case(
        "outside quiet hours a high alert goes at once",
        n("alert.created", "high"),
        [replace(WORKER_P, preferences=replace(ALL, quiet_hours=QUIET))],
        {"worker:email", "worker:push"},
        now=NOON,
    ),
    Case(
        "quiet hours are read in the person's time zone (23:30 UTC is not quiet in Bangkok)",
        n("alert.created", "high"),
        [replace(WORKER_P, preferences=replace(ALL, quiet_hours=QUIET))],
        {"worker:email", "worker:push"},
        now=dt.datetime(2026, 12, 4, 23, 30, tzinfo=dt.UTC) - dt.timedelta(hours=18),
    ),
    Case(
        "escalation: the person on call by every channel, whatever they chose",
        n("alert.escalated", escalation_step=1),
        TEAM,
        {"night:email", "night:push"},
    ),
    Case(
        "escalation with nobody on call: the supervisors",
        n("alert.escalated", escalation_step=1),
        [WORKER_P, BOSS_P],
        {"boss:email", "boss:push"},
    ),
    Case(
        "escalation, second step: every supervisor; partners heard at the first",
        n("alert.escalated", escalation_step=2),
        TEAM,
        {"boss:email", "boss:push"},
        webhooks=False,
    ),
    Case(
        "escalation, second step: the on-call supervisor is not told twice",
        n("alert.escalated", escalation_step=2),
        [replace(BOSS_P, on_call=True)],
        set(),
        already=frozenset({(BOSS, "email"), (BOSS, "push")}),
        webhooks=False,
    ),
    Case(
        "a supervisor also assigned gets one message per channel",
        n("alert.created"),
        [replace(BOSS_P, assigned=True)],
        {"boss:email", "boss:push"},
    ),
    Case(
        "emergency access: supervisors only",
        n("alert.created", "high", rule="break_glass"),
        [WORKER_P, replace(BOSS_P, preferences=replace(DEFAULT, quiet_hours=QUIET))],
        {"boss:email", "boss:push"},
        now=LATE,
    ),
    Case(
        "emergency access acknowledged: no message",
        n("alert.acknowledged", "high", rule="break_glass"),
        TEAM,
        set(),
    ),
    Case(
        "a group with a new critical alert",
        n("alert.group", became_critical=True, rule="passport_revoked"),
        TEAM,
        BOTH,
    ),
    Case(
        "a group of repeats",
        n("alert.group", rule="passport_revoked"),
        TEAM,
        set(),
    ),
    Case("someone in no audience", n("alert.created"), [person(OTHER)], set()),
]


def _label(delivery: planner.Delivery) -> str:
    held = "@held" if delivery.not_before is not None else ""
    return f"{NAMES[delivery.user_id]}:{delivery.channel}{held}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan(case: Case) -> None:
    result = planner.plan(
        case.notice, case.people, case.now, channels=case.channels, already=case.already
    )
    assert {_label(d) for d in result.deliveries} == case.expect
    assert result.webhooks is case.webhooks
    assert result.stream is True  # the live inbox shows every change, muted ones marked


def test_held_back_until_the_end_of_quiet_hours_in_the_persons_zone() -> None:
    quiet = replace(WORKER_P, preferences=replace(ALL, quiet_hours=QUIET))
    (first, _) = planner.plan(n("alert.created", "high"), [quiet], LATE).deliveries
    assert first.not_before == MORNING
    # Just after midnight local time, the same morning.
    after_midnight = LATE + dt.timedelta(hours=1)
    assert planner.held_until(quiet, "high", after_midnight) == MORNING


def test_quiet_hours_within_one_day() -> None:
    siesta = replace(
        WORKER_P, preferences=replace(ALL, quiet_hours=QuietHours(dt.time(12), dt.time(14)))
    )
    assert planner.held_until(siesta, "medium", NOON) == NOON + dt.timedelta(hours=2)
    assert planner.held_until(siesta, "medium", NOON + dt.timedelta(hours=3)) is None


def test_an_unknown_zone_reads_as_utc() -> None:
    odd = replace(WORKER_P, time_zone="Mars/Olympus", preferences=replace(ALL, quiet_hours=QUIET))
    at = dt.datetime(2026, 12, 4, 23, 0, tzinfo=dt.UTC)
    assert planner.held_until(odd, "high", at) == dt.datetime(2026, 12, 5, 7, tzinfo=dt.UTC)


def test_defaults_per_role() -> None:
    assert planner.defaults("caseworker") == Preferences(True, True, "critical")
    assert planner.defaults("supervisor") == Preferences(True, True, "critical")
    assert planner.defaults("lawyer").push is False
    assert planner.defaults("analyst") == Preferences(False, False, "critical")


def test_unreachable() -> None:
    silent = person(OTHER, has_email=False, push_devices=0)
    off = person(BOSS, preferences=Preferences(False, False, "critical"))
    ok = person(WORKER)
    assert planner.unreachable([silent, off, ok], planner.CHANNELS) == [OTHER, BOSS]
    assert planner.unreachable([ok], ()) == [WORKER]
