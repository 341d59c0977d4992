"""Caseworkers read their pages in their language: a user whose locale is Thai (or Khmer) sees
the alert inbox, a person's page and an alert's page with no English interface text left, only
the names and data typed in English (issue 18)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.i18n import translations
from app.models.alert import Alert
from tests.conftest import fresh_address
from tests.factories import Team, UserHandle, db, login, make_organisation
from tests.web.conftest import Live, screenshot
from tests.web.i18n_support import english_left
from tests.web.support import sign_in

NAME = "Sok Dara"
# The test's own data, typed in English: names, places, the incident's words, a reference.
DATA = (
    NAME,
    "Bukit Jalil depot",
    "Phnom Penh",
    "Held by immigration police after a raid on the flat.",
    "Immigration police",
    "Family member",
)


@dataclass
class Record:
    person: uuid.UUID
    alert: uuid.UUID
    user: UserHandle


def _record(app: FastAPI, team: Team) -> Record:
    """A person with a passport about to expire, a revoked one, a UNHCR status, a detention in
    Malaysia (risk evidence, a critical alert) and a case, in the caseworker's caseload."""
    cw = team.caseworker
    person = team.person(cw, full_name=NAME, current_country="KHM", current_location="Phnom Penh")
    team.case(cw, person)
    soon = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    team.document(cw, person, expires_on=soon)
    team.document(cw, person, status="revoked", status_date=dt.date.today().isoformat())
    team.unhcr_status(cw, person, unhcr_reference="KUL-26C01234")
    team.incident(cw, person, country="MYS", location="Bukit Jalil depot")
    with db(app) as session:
        alert = session.scalar(
            select(Alert.id).where(Alert.individual_id == person, Alert.rule == "host_custody")
        )
    assert alert is not None
    return Record(person, alert, cw.user)


def _reader(app: FastAPI, user: UserHandle, locale: str) -> TestClient:
    """``user`` chooses ``locale`` through the API, then signs in through the web form."""
    headers = login(TestClient(app, client=(fresh_address(), 1)), user)
    chosen = TestClient(app, client=(fresh_address(), 1)).patch(
        "/api/v1/auth/me", json={"locale": locale}, headers=headers
    )
    assert chosen.status_code == 200, chosen.text
    client = TestClient(app, client=(fresh_address(), 1))
    sign_in(client, user)
    return client


def _page(client: TestClient, path: str, lang: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert re.search(f'<html lang="{lang}"', response.text)
    return str(response.text)


def _allowed(record: Record) -> tuple[str, ...]:
    return (*DATA, record.user.username)


def test_a_thai_reader_sees_the_inbox_a_person_and_an_alert_in_thai(
    app: FastAPI, team: Team
) -> None:
    record = _record(app, team)
    client = _reader(app, record.user, "th")
    try:
        inbox = _page(client, "/", "th")
        person = _page(client, f"/people/{record.person}", "th")
        alert = _page(client, f"/alerts/{record.alert}", "th")
        for page in (inbox, person, alert):
            assert english_left(page, allowed=_allowed(record)) == []
        th = translations("th").gettext
        assert th("Needs attention") in inbox and th("Held in custody by a host state") in inbox
        assert th("Refoulement risk") in person
        assert '<table class="factors">' in person and th("Evidence") in person  # risk evidence
        assert th("Active alerts") in person and th("Travel documents") in person
        assert th("Revoked") in person and th("Asylum seeker") in person
        assert th("Detention") in person and th("Who did what") in alert
        assert "ความเสี่ยง" in person and "การแจ้งเตือน" in inbox  # Thai, not the English
        assert "มาเลเซีย" in person and "มาเลเซีย" in alert  # Malaysia
        assert NAME in person and "KUL-26C01234" in person  # the data as typed
        # The same pages in English still say it in English.
        english = client.get(f"/people/{record.person}?lang=en").text
        assert "Refoulement risk" in english and "Travel documents" in english
    finally:
        client.close()


def test_a_khmer_reader_sees_a_person_in_khmer(app: FastAPI, team: Team) -> None:
    record = _record(app, team)
    client = _reader(app, record.user, "km")
    try:
        person = _page(client, f"/people/{record.person}", "km")
        assert english_left(person, allowed=_allowed(record)) == []
        assert "ម៉ាឡេស៊ី" in person  # Malaysia
        alert = _page(client, f"/alerts/{record.alert}", "km")
        assert english_left(alert, allowed=_allowed(record)) == []
    finally:
        client.close()


def test_english_left_finds_english_and_leaves_data_alone() -> None:
    page = (
        "<html><head><title>การแจ้งเตือน · Haven</title><script>var x = 'Alerts';</script></head>"
        '<body><p>ผู้ถือ <bdi>Sok Dara</bdi> <span translate="no">N1234567</span></p>'
        '<input type="text" value="Typed words"><p title="Open the case">ปิด UTC+7</p>'
        "<p>Needs attention</p><textarea>A note</textarea></body></html>"
    )
    assert english_left(page) == ["Open the case", "Needs attention"]
    assert english_left("<p>Sok Dara ถูกควบคุมตัว</p>", allowed=["Sok Dara"]) == []


# In the browser -------------------------------------------------------------------------------
PHONE = {"width": 375, "height": 740}


def _expect(locator: Any) -> Any:
    from playwright.sync_api import expect

    return expect(locator)


def _sign_in(page: Any, live: Live, user: UserHandle) -> None:
    """Through the sign-in form, in English (the browser's language): the user's Thai wins."""
    page.goto(f"{live.url}/login")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    _expect(page.locator("html")).to_have_attribute("lang", "th")


def _in_thai(page: Any, record: Record) -> None:
    assert page.evaluate("document.documentElement.lang") == "th"
    page.evaluate("document.fonts.ready")
    assert english_left(page.content(), allowed=_allowed(record)) == []
    fonts = page.evaluate(
        "document.fonts.ready.then(() => [...document.fonts]"
        ".filter(f => f.status === 'loaded').map(f => f.family))"
    )
    assert any("Thai" in f for f in fonts), fonts


@pytest.mark.timeout(180)
def test_a_thai_caseworker_s_pages_in_chromium(live: Live, browser: Any) -> None:
    # Through the API, in-process (no lifespan: the live server's own runs)
    client = TestClient(live.app, client=(fresh_address(), 1))
    team = Team(live.app, client, make_organisation(live.app, "Chiang Mai Legal Aid"))
    record = _record(live.app, team)
    headers = login(client, record.user)
    chosen = client.patch("/api/v1/auth/me", json={"locale": "th"}, headers=headers)
    assert chosen.status_code == 200, chosen.text
    th = translations("th").gettext
    desktop = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    try:
        page = desktop.new_page()
        _sign_in(page, live, record.user)
        page.goto(f"{live.url}/")
        _expect(page.get_by_role("heading", level=1)).to_have_text(th("Alerts"))
        _expect(page.locator("#inbox")).to_contain_text(th("Held in custody by a host state"))
        _in_thai(page, record)
        screenshot(page, "inbox-th")

        page.goto(f"{live.url}/people/{record.person}")
        _expect(page.get_by_role("heading", level=1)).to_contain_text(NAME)
        _expect(page.locator("#risk")).to_contain_text(th("Refoulement risk"))
        _in_thai(page, record)
        screenshot(page, "person-th")

        page.goto(f"{live.url}/alerts/{record.alert}")
        _expect(page.get_by_role("heading", level=1)).to_contain_text(
            th("Held in custody by a host state")
        )
        _expect(page.locator("main")).to_contain_text("มาเลเซีย")  # Malaysia
        _in_thai(page, record)
        screenshot(page, "alert-th")
    finally:
        desktop.close()

    phone = browser.new_context(viewport=PHONE, is_mobile=True, locale="en-GB")
    try:
        small = phone.new_page()
        _sign_in(small, live, record.user)
        small.goto(f"{live.url}/people/{record.person}")
        _expect(small.get_by_role("heading", level=1)).to_contain_text(NAME)
        _in_thai(small, record)
        overflow = small.evaluate(
            "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
        )
        assert overflow <= 0  # long Thai words wrap: nothing wider than the phone
        screenshot(small, "phone-person-th")
    finally:
        phone.close()
