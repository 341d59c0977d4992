"""Preferences and escalation end to end, with the clock moved: the time rules run with an
injected ``now`` (as the engine runs them) and the engine delivers at an injected ``now``.

- a high alert (an overdue check-in) does not reach a caseworker whose minimum is critical
  (the default); once they ask for high it does, but at 23:00 in Bangkok, inside their quiet
  hours, it waits in the outbox until 07:00 there, and only then reaches the browser;
- a critical alert nobody acknowledges goes after HAVEN_ESCALATION_MINUTES to the person on
  call by every channel they have (though they turned push off), then to every supervisor;
- an organisation with nobody on call is told so on the supervisor's page.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.alerts import rules
from app.alerts.engine import Engine, evaluate_time_rules
from app.db import transaction
from app.models.alert import Alert, OutboxMessage
from app.models.individual import Individual
from tests.alerts.support import detain
from tests.delivery.support import Receiver
from tests.factories import API, Member, Team, db, unique
from tests.notifications.conftest import Browser
from tests.web.support import sign_in

MINUTE = dt.timedelta(minutes=1)
BANGKOK = ZoneInfo("Asia/Bangkok")


def evaluate(app: FastAPI, now: dt.datetime) -> int:
    with transaction(app.state.sessionmaker) as session:
        return evaluate_time_rules(session, now)


def rows(app: FastAPI, target: str | uuid.UUID, event: str | None = None) -> list[OutboxMessage]:
    with db(app) as session:
        query = select(OutboxMessage).where(OutboxMessage.target_id == uuid.UUID(str(target)))
        if event:
            query = query.where(OutboxMessage.event == event)
        return list(session.scalars(query.order_by(OutboxMessage.created_at)))


def next_night() -> dt.datetime:
    """The next 23:00 in Bangkok, in UTC."""
    local = dt.datetime.now(BANGKOK)
    night = dt.datetime.combine(local.date(), dt.time(23), tzinfo=BANGKOK)
    if night <= local:
        night += dt.timedelta(days=1)
    return night.astimezone(dt.UTC)


def overdue(app: FastAPI, person: uuid.UUID, at: dt.datetime) -> None:
    """A daily check-in last made 30 hours before ``at``."""
    with db(app) as session:
        session.execute(
            update(Individual)
            .where(Individual.id == person)
            .values(check_in_every_hours=24, last_check_in_at=at - dt.timedelta(hours=30))
        )


def prefs(client: TestClient, who: Member, **body: object) -> dict[str, object]:
    response = client.put(f"{API}/me/notifications", json=body, headers=who.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_minimum_severity_and_quiet_hours(
    push_app: FastAPI, papi: TestClient, pteam: Team, service: Receiver, engine: Engine
) -> None:
    worker = pteam.member("caseworker")
    browser = Browser()
    sub = browser.subscribe(papi, worker, service.url)
    defaults = papi.get(f"{API}/me/notifications", headers=worker.headers).json()
    assert defaults == {
        "email": True,
        "push": True,
        "min_severity": "critical",
        "quiet_hours": None,
        "time_zone": "UTC",
        "time_zone_is_default": True,
    }
    night = next_night()
    morning = night + dt.timedelta(hours=8)  # 07:00 in Bangkok

    first = pteam.person(worker)
    pteam.case(worker, first)
    overdue(push_app, first, night)
    evaluate(push_app, night)
    with db(push_app) as session:
        raised = session.scalars(
            select(Alert).where(Alert.individual_id == first, Alert.rule == rules.CHECK_IN_OVERDUE)
        ).all()
    assert [a.severity for a in raised] == ["high"]
    assert rows(push_app, sub) == []  # below the default minimum

    saved = prefs(
        papi,
        worker,
        email=False,
        push=True,
        min_severity="high",
        quiet_hours={"start": "22:00", "end": "07:00"},
        time_zone="Asia/Bangkok",
    )
    assert saved["time_zone"] == "Asia/Bangkok" and saved["time_zone_is_default"] is False
    me = papi.get(f"{API}/auth/me", headers=worker.headers).json()
    assert me.get("time_zone", "Asia/Bangkok") == "Asia/Bangkok"  # the profile's own field

    second = pteam.person(worker)
    pteam.case(worker, second)
    overdue(push_app, second, night)
    evaluate(push_app, night + MINUTE)
    (held,) = rows(push_app, sub)
    assert held.next_attempt_at == morning
    assert rows(push_app, worker.user.id) == []  # e-mail turned off

    engine.deliver(night + 2 * MINUTE)
    engine.deliver(morning - MINUTE)
    assert [r for r in service.snapshot() if browser.opens(r)] == []
    engine.deliver(morning + MINUTE)
    (received,) = [r for r in service.wait_for(1) if browser.opens(r)]
    message = browser.read(received)
    assert (message["rule"], message["severity"]) == (rules.CHECK_IN_OVERDUE, "high")
    assert received.headers["urgency"] == "normal"


def test_bad_preferences_are_refused(papi: TestClient, pteam: Team) -> None:
    worker = pteam.member("caseworker")
    base = {"email": True, "push": True, "min_severity": "critical"}
    for body in (
        base | {"min_severity": "urgent"},
        base | {"quiet_hours": {"start": "25:00", "end": "07:00"}},
        base | {"quiet_hours": {"start": "07:00", "end": "07:00"}},
        base | {"time_zone": "Mars/Olympus"},
        base | {"extra": 1},
        {"email": True},
    ):
        response = papi.put(f"{API}/me/notifications", json=body, headers=worker.headers)
        assert response.status_code == 422, (body, response.text)
    after = papi.get(f"{API}/me/notifications", headers=worker.headers).json()
    assert after["min_severity"] == "critical" and after["quiet_hours"] is None


def test_escalation_goes_to_the_person_on_call_then_to_every_supervisor(
    push_app: FastAPI, papi: TestClient, pteam: Team, service: Receiver, engine: Engine
) -> None:
    boss = pteam.member("supervisor")
    worker = pteam.member("caseworker")
    night_owl = pteam.member("caseworker", email=f"{unique('owl')}@example.org")
    owl_browser, boss_browser = Browser(), Browser()
    # Each browser has an endpoint of its own at the push service.
    owl_sub = owl_browser.subscribe(papi, night_owl, service.url + "/owl")
    boss_sub = boss_browser.subscribe(papi, boss, service.url + "/boss")
    prefs(papi, night_owl, email=False, push=False, min_severity="critical")
    now = dt.datetime.now(dt.UTC)
    shift = papi.post(
        f"{API}/on-call",
        json={
            "user_id": str(night_owl.user.id),
            "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
            "ends_at": (now + dt.timedelta(hours=12)).isoformat(),
        },
        headers=boss.headers,
    )
    assert shift.status_code == 201, shift.text
    rota = papi.get(f"{API}/on-call", headers=worker.headers).json()
    assert rota["on_call_now"]["user_id"] == str(night_owl.user.id)
    refused = papi.post(f"{API}/on-call", json={}, headers=worker.headers)
    assert refused.status_code == 403

    person = pteam.person(worker)
    pteam.case(worker, person)
    alert = detain(pteam, worker, person)
    with db(push_app) as session:
        raised_at = session.get(Alert, uuid.UUID(alert["id"])).created_at  # type: ignore[union-attr]
    engine.deliver()  # the alert itself: the supervisor's browser (critical, their default)
    assert rows(push_app, owl_sub) == []  # not assigned, not yet escalated

    evaluate(push_app, raised_at + 14 * MINUTE)
    assert rows(push_app, owl_sub, "alert.escalated") == []
    page = f"{API}/alerts/{alert['id']}"
    assert papi.get(page, headers=night_owl.headers).status_code == 404  # not theirs yet
    evaluate(push_app, raised_at + 16 * MINUTE)
    assert [r.channel for r in rows(push_app, owl_sub, "alert.escalated")] == ["push"]
    assert [r.channel for r in rows(push_app, night_owl.user.id, "alert.escalated")] == ["email"]
    assert rows(push_app, boss_sub, "alert.escalated") == []
    # On call, they may open the alert the push links to (not the person's records).
    assert papi.get(page, headers=night_owl.headers).status_code == 200
    person_page = papi.get(f"{API}/individuals/{person}", headers=night_owl.headers)
    assert person_page.status_code == 404
    other_worker = pteam.member("caseworker")
    assert papi.get(page, headers=other_worker.headers).status_code == 404
    engine.deliver(raised_at + 16 * MINUTE)
    (to_owl,) = [r for r in service.snapshot() if owl_browser.opens(r)]
    assert owl_browser.read(to_owl) == {
        "alert_id": alert["id"],
        "severity": "critical",
        "rule": rules.HOST_CUSTODY,
        "url": f"/alerts/{alert['id']}",
    }

    evaluate(push_app, raised_at + 31 * MINUTE)
    assert [r.channel for r in rows(push_app, boss_sub, "alert.escalated")] == ["push"]
    assert len(rows(push_app, owl_sub, "alert.escalated")) == 1  # not twice
    engine.deliver(raised_at + 31 * MINUTE)
    to_boss = [r for r in service.snapshot() if boss_browser.opens(r)]
    assert len(to_boss) == 2  # the alert itself, then its escalation
    assert boss_browser.read(to_boss[-1])["alert_id"] == alert["id"]

    evaluate(push_app, raised_at + 90 * MINUTE)
    assert len(rows(push_app, boss_sub, "alert.escalated")) == 1  # two steps, no more


def test_an_acknowledged_alert_reaches_nobody_on_call(
    push_app: FastAPI, papi: TestClient, pteam: Team, service: Receiver
) -> None:
    boss = pteam.member("supervisor")
    worker = pteam.member("caseworker")
    sub = Browser().subscribe(papi, worker, service.url)
    now = dt.datetime.now(dt.UTC)
    papi.post(
        f"{API}/on-call",
        json={
            "user_id": str(worker.user.id),
            "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
            "ends_at": (now + dt.timedelta(hours=12)).isoformat(),
        },
        headers=boss.headers,
    ).raise_for_status()
    other = pteam.member("caseworker")
    person = pteam.person(other)
    pteam.case(other, person)
    alert = detain(pteam, other, person)
    papi.post(f"{API}/alerts/{alert['id']}/acknowledge", headers=other.headers).raise_for_status()
    evaluate(push_app, now + 60 * MINUTE)
    assert rows(push_app, sub) == []


def test_the_supervisor_page_says_when_nobody_is_on_call(
    push_app: FastAPI, papi: TestClient, pteam: Team
) -> None:
    boss = pteam.member("supervisor")
    with TestClient(push_app) as browser:
        sign_in(browser, boss.user)
        page = browser.get("/supervisor")
        assert page.status_code == 200
        assert 'id="nobody-on-call"' in page.text
        now = dt.datetime.now(dt.UTC)
        papi.post(
            f"{API}/on-call",
            json={
                "user_id": str(boss.user.id),
                "starts_at": (now - dt.timedelta(minutes=5)).isoformat(),
                "ends_at": (now + dt.timedelta(hours=1)).isoformat(),
            },
            headers=boss.headers,
        ).raise_for_status()
        assert 'id="nobody-on-call"' not in browser.get("/supervisor").text
        rota = browser.get("/supervisor/on-call")
        assert rota.status_code == 200 and boss.user.username in rota.text


def test_administrators_see_who_a_critical_alert_would_not_reach(
    papi: TestClient, pteam: Team, service: Receiver
) -> None:
    admin = pteam.member("admin")
    silent = pteam.member("caseworker")  # no e-mail address, no browser
    reachable = pteam.member("caseworker")
    Browser().subscribe(papi, reachable, service.url)
    answer = papi.get(f"{API}/notifications/unreachable", headers=admin.headers).json()
    names = {u["username"]: u["reasons"] for u in answer["unreachable"]}
    assert silent.user.username in names
    assert "no browser subscribed" in names[silent.user.username]
    assert reachable.user.username not in names
    assert answer["nobody_on_call"] is True
    assert set(answer["channels"]) == {"email", "push"}
    worker_view = papi.get(f"{API}/notifications/unreachable", headers=reachable.headers)
    assert worker_view.status_code == 403
