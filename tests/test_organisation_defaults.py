"""An organisation's defaults: the language and time zone of its staff who have not chosen their
own (PATCH /api/v1/organisations/{id}, and the administrators' organisations page)."""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import transaction
from app.models.audit import AuditEntry
from tests.conftest import fresh_address
from tests.factories import Team, login, make_organisation, make_user
from tests.web.support import csrf, sign_in

API = "/api/v1"


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', html)
    assert found
    return found.group(1)


def test_an_administrator_sets_an_organisation_s_language_and_zone(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    admin_headers = team.login(team.user("admin"))
    organisation = make_organisation(app)
    staff = make_user(app, "caseworker", organisation=organisation)
    path = f"{API}/organisations/{organisation.id}"
    answer = client.patch(
        path, json={"locale": "km", "time_zone": "Asia/Phnom_Penh"}, headers=admin_headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["locale"] == "km" and answer.json()["time_zone"] == "Asia/Phnom_Penh"
    me = client.get(f"{API}/auth/me", headers=login(client, staff)).json()
    assert me["effective_time_zone"] == "Asia/Phnom_Penh"
    browser = TestClient(app, client=(fresh_address(), 1), headers={"Accept-Language": "th"})
    sign_in(browser, staff)
    assert _lang(browser.get("/people").text) == "km"
    with transaction(app.state.sessionmaker) as session:
        entry = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "organisation.update")
            .where(AuditEntry.subject_id == organisation.id)
        ).first()
        assert entry is not None
    # null clears one and keeps the other
    cleared = client.patch(path, json={"locale": None}, headers=admin_headers)
    assert cleared.json()["locale"] is None and cleared.json()["time_zone"] == "Asia/Phnom_Penh"


def test_what_is_refused(app: FastAPI, client: TestClient, team: Team) -> None:
    admin_headers = team.login(team.user("admin"))
    organisation = make_organisation(app)
    path = f"{API}/organisations/{organisation.id}"
    for body in ({"locale": "fr"}, {"time_zone": "Mars/Olympus"}, {"colour": "red"}):
        assert client.patch(path, json=body, headers=admin_headers).status_code == 422, body
    missing = f"{API}/organisations/{uuid.uuid4()}"
    assert client.patch(missing, json={"locale": "th"}, headers=admin_headers).status_code == 404
    for role in ("supervisor", "caseworker"):
        headers = team.login(team.user(role))
        assert client.patch(path, json={"locale": "th"}, headers=headers).status_code == 403


def test_the_organisations_page_sets_them(app: FastAPI, team: Team) -> None:
    organisation = make_organisation(app)
    browser = TestClient(app, client=(fresh_address(), 1))
    token = sign_in(browser, team.user("admin"))
    page = browser.get("/admin/organisations").text
    assert "Language and time zone of an organisation" in page
    saved = browser.post(
        "/admin/organisations/defaults",
        data={
            "csrf_token": token,
            "organisation": str(organisation.id),
            "time_zone": "Asia/Bangkok",
            "locale": "th-u-ca-buddhist",
        },
    )
    assert saved.status_code == 200 and "this language and time zone" in saved.text
    assert "ไทย (พ.ศ.), Asia/Bangkok" in saved.text
    refused = browser.post(
        "/admin/organisations/defaults",
        data={"csrf_token": csrf(page), "organisation": "", "locale": "km"},
    )
    assert refused.status_code == 422 and "Choose an organisation." in refused.text
