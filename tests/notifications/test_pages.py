"""The notification pages of the web client: preferences saved from the form (the time zone
into the profile), refused with the field named, and the on-call rota kept by a supervisor."""

from __future__ import annotations

import datetime as dt
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import API, Team
from tests.web.support import sign_in


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_preferences_from_the_form(push_app: FastAPI, papi: TestClient, pteam: Team) -> None:
    worker = pteam.member("caseworker")
    with TestClient(push_app) as browser:
        sign_in(browser, worker.user)
        page = browser.get("/account/notifications")
        assert page.status_code == 200
        assert 'id="push-control"' in page.text and "data-key=" in page.text
        assert "Who a critical alert would not reach" not in page.text  # not a caseworker's
        form = {
            "csrf_token": _csrf(page.text),
            "push": "on",
            "min_severity": "high",
            "quiet_start": "22:00",
            "quiet_end": "06:30",
            "time_zone": "Asia/Bangkok",
        }
        saved = browser.post("/account/notifications", data=form, follow_redirects=False)
        assert saved.status_code == 303, saved.text
        bad = browser.post(
            "/account/notifications",
            data=form | {"quiet_end": "", "time_zone": "Asia/Bangkok"},
            follow_redirects=False,
        )
        assert bad.status_code == 422
        assert "Give both the start and the end of quiet hours." in bad.text
        forged = browser.post(
            "/account/notifications", data=form | {"csrf_token": "x"}, follow_redirects=False
        )
        assert forged.status_code in (400, 403)
    api = papi.get(f"{API}/me/notifications", headers=worker.headers).json()
    assert api == {
        "email": False,
        "push": True,
        "min_severity": "high",
        "quiet_hours": {"start": "22:00", "end": "06:30"},
        "time_zone": "Asia/Bangkok",
        "time_zone_is_default": False,
    }


def test_the_rota_page(push_app: FastAPI, papi: TestClient, pteam: Team) -> None:
    boss = pteam.member("supervisor")
    worker = pteam.member("caseworker")
    with TestClient(push_app) as browser:
        sign_in(browser, boss.user)
        page = browser.get("/supervisor/on-call")
        assert page.status_code == 200 and "Nobody is on call now" in page.text
        start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        added = browser.post(
            "/supervisor/on-call",
            data={
                "csrf_token": _csrf(page.text),
                "user_id": str(worker.user.id),
                "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
                "ends_at": (start + dt.timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M"),
            },
            follow_redirects=False,
        )
        assert added.status_code == 303, added.text
        assert "On call now" in browser.get("/supervisor/on-call").text
    rota = papi.get(f"{API}/on-call", headers=worker.headers).json()
    assert rota["on_call_now"]["user_id"] == str(worker.user.id)
    with TestClient(push_app) as browser:
        sign_in(browser, worker.user)
        assert browser.get("/supervisor/on-call").status_code == 403
