"""The alert page (/alerts/{id}), the inbox's cards, filters and groups, acknowledging from the
person's page, and the profile's time zone on every page."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.models.alert import Alert
from app.models.audit import AuditEntry
from tests.conftest import fresh_address
from tests.factories import Team, db
from tests.web.support import sign_in


def _custody(app: FastAPI, team: Team, name: str = "Sok Dara") -> tuple[uuid.UUID, uuid.UUID]:
    """A person recorded in Cambodia, held in Malaysia: (person, alert)."""
    cw = team.caseworker
    person = team.person(cw, full_name=name, current_country="KHM", current_location="Phnom Penh")
    team.case(cw, person)
    team.incident(cw, person, country="MYS", location="Bukit Jalil depot")
    with db(app) as session:
        alert = session.scalar(
            select(Alert.id).where(Alert.individual_id == person, Alert.rule == "host_custody")
        )
    assert alert is not None
    return person, alert


def _browser(app: FastAPI, team: Team, role: str = "caseworker") -> tuple[TestClient, str]:
    client = TestClient(app, client=(fresh_address(), 1))
    user = team.user(role) if role != "caseworker" else team.caseworker.user
    return client, sign_in(client, user)


def test_the_link_in_a_webhook_signs_in_first_then_opens_the_alert(
    app: FastAPI, team: Team
) -> None:
    _, alert = _custody(app, team)
    client = TestClient(app, client=(fresh_address(), 1))
    answer = client.get(f"/alerts/{alert}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next=%2Falerts%2F{alert}"


def test_the_alert_page_says_who_what_where_when_and_who_did_what(app: FastAPI, team: Team) -> None:
    person, alert = _custody(app, team)
    client, token = _browser(app, team)
    page = client.get(f"/alerts/{alert}")
    assert page.status_code == 200
    text = page.text
    assert "Sok Dara" in text and "Held in custody" in text
    assert "Malaysia" in text and "Bukit Jalil depot" in text  # the caseworker works the case
    assert "Raised</dt>" in text and ("(just now)" in text or " ago)" in text)
    assert "Immigration police" in text  # the evidence: the incident
    assert 'action="/alerts/' + str(alert) + '/acknowledge"' in text
    done = client.post(
        f"/alerts/{alert}/acknowledge",
        data={"csrf_token": token, "next": f"/alerts/{alert}"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith(f"/alerts/{alert}?")
    after = client.get(f"/alerts/{alert}").text
    username = team.caseworker.user.username
    assert f"being handled by <bdi>{username}</bdi>" in after
    assert f"Acknowledged by <bdi>{username}</bdi>" in after
    # Resolving without a note keeps the page (and says what is missing) …
    empty = client.post(
        f"/alerts/{alert}/resolve",
        data={"csrf_token": token, "note": "", "next": f"/alerts/{alert}"},
    )
    assert empty.status_code == 422 and "Write a note" in empty.text and "Sok Dara" in empty.text
    # … and with one, the history says who resolved it and how.
    client.post(
        f"/alerts/{alert}/resolve",
        data={"csrf_token": token, "note": "Released on bail", "next": f"/alerts/{alert}"},
    )
    resolved = client.get(f"/alerts/{alert}").text
    assert "Resolved by" in resolved and "Released on bail" in resolved
    with db(app) as session:
        actions = set(
            session.scalars(
                select(AuditEntry.action).where(AuditEntry.subject_id.in_([alert, person]))
            )
        )
    assert {"alert.read", "alert.acknowledge", "alert.resolve", "individual.read"} <= actions


def test_the_alert_page_is_404_outside_the_scope(app: FastAPI, team: Team) -> None:
    _, alert = _custody(app, team)
    stranger = team.elsewhere()
    client = TestClient(app, client=(fresh_address(), 1))
    sign_in(client, stranger.user("supervisor"))
    assert client.get(f"/alerts/{alert}").status_code == 404
    assert client.get(f"/alerts/{uuid.uuid4()}").status_code == 404
    analyst = TestClient(app, client=(fresh_address(), 1))
    sign_in(analyst, team.user("analyst"))
    assert analyst.get(f"/alerts/{alert}").status_code == 403


def test_inbox_cards_name_the_person_country_and_event_and_group_them(
    app: FastAPI, team: Team
) -> None:
    person, alert = _custody(app, team)
    team.incident(team.caseworker, person, type="deportation_order", country="MYS")
    client, _ = _browser(app, team)
    inbox = client.get("/").text
    assert "<bdi>Sok Dara</bdi>: Held in custody" in inbox
    assert "In Malaysia" in inbox and "happened " in inbox
    assert "more alert" in inbox and "about <bdi>Sok Dara</bdi>" in inbox  # grouped
    assert f'href="/alerts/{alert}"' in inbox
    hidden = client.get("/", params={"names": "off"}).text
    assert "Sok Dara" not in hidden and "In Malaysia" in hidden
    mine = client.get("/", params={"handler": "me"}).text
    assert "Needs attention" not in mine and "Sok Dara" not in mine
    critical = client.get("/", params={"severity": "info"}).text
    assert "Sok Dara" not in critical and "that match the filters" in critical
    one = client.get("/", params={"person": str(person)}).text
    assert "Showing one person" in one and "Sok Dara" in one
    assert client.get("/", params={"severity": "x", "rule": "y", "person": "z"}).status_code == 200


def test_a_person_page_acknowledges_and_says_where_the_alert_places_them(
    app: FastAPI, team: Team
) -> None:
    person, alert = _custody(app, team)
    client, token = _browser(app, team)
    page = client.get(f"/people/{person}").text
    assert "Recorded as in</dt><dd>Cambodia" in page
    assert "an open alert places them in Malaysia" in page
    assert "Now in" not in page
    answer = client.post(
        f"/alerts/{alert}/acknowledge",
        data={"csrf_token": token, "next": f"/people/{person}#person-alerts"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == f"/people/{person}?done=acknowledged#person-alerts"
    assert (
        f"being handled by <bdi>{team.caseworker.user.username}</bdi>"
        in client.get(f"/people/{person}").text
    )
    outside = client.post(
        f"/alerts/{alert}/acknowledge",
        data={"csrf_token": token, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert outside.headers.get("location", "/").startswith("/")


def test_times_follow_the_profile_time_zone(app: FastAPI, team: Team) -> None:
    _, alert = _custody(app, team)
    client, token = _browser(app, team)
    assert " UTC</time>" in client.get(f"/alerts/{alert}").text
    bad = client.post("/account/profile", data={"csrf_token": token, "time_zone": "Mars/Olympus"})
    assert bad.status_code == 422
    assert 'value="Mars/Olympus"' in bad.text and "Time zone: " in bad.text
    saved = client.post("/account/profile", data={"csrf_token": token, "time_zone": "Asia/Bangkok"})
    assert saved.status_code == 200 and "Asia/Bangkok" in saved.text
    assert " UTC+7</time>" in client.get(f"/alerts/{alert}").text
    assert "UTC+7" in client.get("/").text
    client.post("/account/profile", data={"csrf_token": token, "time_zone": ""})
    assert " UTC</time>" in client.get(f"/alerts/{alert}").text


def test_a_form_answered_in_a_write_transaction_reads_the_zone_without_waiting(
    app: FastAPI, team: Team
) -> None:
    """The reader's zone is read in a read-only session of its own: while a posted form's
    transaction holds SQLite's write lock, that read must not wait for it (it once did, until
    the busy timeout, whenever the zone's cached copy had expired)."""
    import time

    from app.web import zones

    client, token = _browser(app, team)
    zones._cache.clear()
    started = time.monotonic()
    answer = client.post("/people", data={"csrf_token": token, "q": "Nobody"})
    assert answer.status_code == 200
    assert time.monotonic() - started < 5
