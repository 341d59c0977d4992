"""The web client speaks the reader's language: the browser's on the sign-in page, the one
picked there (``?lang=``), then the user's own choice or their organisation's; the API stays
English."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.db import transaction
from app.models.organisation import Organisation
from tests.conftest import fresh_address
from tests.factories import Team, login, make_organisation, make_user
from tests.web.conftest import Live, Watch
from tests.web.support import sign_in
from tests.web.test_browser import expect, passport_mrz

KHMER_TITLE = "ចូលទៅកាន់ Haven"
THAI_TITLE = "เข้าสู่ระบบ Haven"


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)" dir="(ltr|rtl)">', html)
    assert found, html[:200]
    return found.group(1)


def _client(app: FastAPI, accept: str | None = None) -> TestClient:
    headers = {"Accept-Language": accept} if accept else {}
    return TestClient(app, client=(fresh_address(), 1), headers=headers)


def test_the_sign_in_page_follows_the_browser(app: FastAPI) -> None:
    page = _client(app, "km-KH,km;q=0.9,en;q=0.5").get("/login").text
    assert _lang(page) == "km"
    assert KHMER_TITLE in page and "Sign in to Haven" not in page
    assert "ឈ្មោះអ្នកប្រើ" in page  # Username

    page = _client(app, "fr-FR, th;q=0.8, en;q=0.7").get("/login").text
    assert _lang(page) == "th" and THAI_TITLE in page


def test_a_language_the_browser_asks_for_that_haven_lacks_is_english(app: FastAPI) -> None:
    page = _client(app, "fr-FR,fr;q=0.9").get("/login").text
    assert _lang(page) == "en" and "Sign in to Haven" in page
    assert _lang(_client(app).get("/login").text) == "en"


def test_the_switch_on_the_sign_in_page_is_kept_for_the_visit(app: FastAPI) -> None:
    client = _client(app, "km")
    page = client.get("/login?lang=th").text
    assert _lang(page) == "th" and THAI_TITLE in page
    assert 'href="/login?lang=km"' in page and 'href="/login?lang=en"' in page
    assert _lang(client.get("/login").text) == "th"  # remembered, over the browser's Khmer
    assert _lang(client.get("/login?lang=xx").text) == "th"  # an unknown code changes nothing


def test_the_user_s_own_language_wins_once_signed_in(app: FastAPI, team: Team) -> None:
    user = team.user("caseworker")
    headers = login(TestClient(app, client=(fresh_address(), 1)), user)
    client = _client(app, "en-GB,en;q=0.9")
    chosen = client.patch("/api/v1/auth/me", json={"locale": "th"}, headers=headers)
    assert chosen.status_code == 200, chosen.text
    sign_in(client, user)
    page = client.get("/people").text
    assert _lang(page) == "th"
    assert _lang(client.get("/people?lang=km").text) == "km"  # one page, asked for
    chosen = client.patch("/api/v1/auth/me", json={"locale": "en"}, headers=headers)
    assert chosen.status_code == 200, chosen.text


def test_the_organisation_s_default_applies_to_who_has_not_chosen(app: FastAPI) -> None:
    organisation = make_organisation(app)
    with transaction(app.state.sessionmaker) as session:
        row = session.get(Organisation, organisation.id)
        assert row is not None
        row.locale = "km"
    user = make_user(app, "caseworker", organisation=organisation)
    client = _client(app, "th")
    sign_in(client, user)
    assert _lang(client.get("/people").text) == "km"


def test_the_api_stays_english(app: FastAPI) -> None:
    client = _client(app, "km")
    refused = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x" * 12})
    assert refused.status_code == 401
    assert refused.json()["detail"].isascii()


def test_a_thai_reader_may_count_years_in_the_buddhist_era(app: FastAPI, team: Team) -> None:
    """The profile's "ไทย (พ.ศ.)": Thai pages whose years are the Buddhist era's (+543); the
    page stays lang="th", and plain Thai keeps the common era."""
    user = team.user("caseworker")
    client = _client(app)
    token = sign_in(client, user)
    page = client.get("/account/profile").text
    assert 'value="th-u-ca-buddhist"' in page and "ไทย (พ.ศ.)" in page
    year = dt.date.today().year
    saved = client.post(
        "/account/profile",
        data={"csrf_token": token, "time_zone": "Asia/Bangkok", "locale": "th-u-ca-buddhist"},
    )
    assert saved.status_code == 200, saved.text
    assert _lang(saved.text) == "th"
    assert f"{year + 543}, " in saved.text and f" {year}, " not in saved.text  # "it is now …"
    headers = login(TestClient(app, client=(fresh_address(), 1)), user)
    assert client.get("/api/v1/auth/me", headers=headers).json()["locale"] == "th-u-ca-buddhist"
    plain = client.post(
        "/account/profile", data={"csrf_token": token, "time_zone": "Asia/Bangkok", "locale": "th"}
    )
    assert f" {year}, " in plain.text and f"{year + 543}" not in plain.text
    client.post("/account/profile", data={"csrf_token": token, "locale": "en"})


def test_the_words_the_script_writes_come_in_the_reader_s_language(app: FastAPI) -> None:
    """haven.js writes the live inbox's notices and the MRZ preview itself: a Thai page gives
    it their Thai words (data-words); an English page gives none (the script's own)."""
    thai = _client(app, "th").get("/login").text
    found = re.search(r'<body data-words="([^"]+)"', thai)
    assert found, thai[:400]
    words = json.loads(html.unescape(found.group(1)))
    assert words["latest"] == "แสดงการแจ้งเตือนล่าสุด"  # Show the latest alerts
    assert "%(severity)s" in words["new-alert"] and words["critical"] == "วิกฤต"
    text = re.sub(r"%\(\w+\)s|Haven|MB", "", "".join(words.values()))
    assert not re.search("[A-Za-z]{3,}", text), text  # no English in the Thai words
    assert "data-words" not in _client(app, "en").get("/login").text


def test_the_mrz_preview_speaks_thai(live: Live, context: tuple[Any, Watch]) -> None:
    user = make_user(live.app, "caseworker")
    api = TestClient(live.app, client=(fresh_address(), 1))
    headers = login(api, user)
    assert api.patch("/api/v1/auth/me", json={"locale": "th"}, headers=headers).status_code == 200
    made = api.post("/api/v1/individuals", json={"full_name": "Sok Dara"}, headers=headers)
    assert made.status_code == 201, made.text
    ctx, _ = context
    page = ctx.new_page()
    page.goto(f"{live.url}/login")
    page.locator("#f-username").fill(user.username)
    page.locator("#f-password").fill(user.password)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/(\?.*)?$|.*/people.*"))
    page.goto(f"{live.url}/people/{made.json()['id']}/documents/new")
    mrz = passport_mrz("N04812345", dt.date.today() + dt.timedelta(days=900))
    page.locator("#f-mrz").fill(mrz)
    preview = page.locator("#mrz-preview")
    expect(preview).to_contain_text("ตัวอย่าง: เลขตรวจสอบทุกหลักตรงกัน")
    expect(preview).to_contain_text("นามสกุล")  # Surname
    page.locator("#f-mrz").fill(mrz[:-1] + ("0" if mrz[-1] != "0" else "1"))
    expect(preview).to_contain_text("ไม่ตรงกัน")  # do not match
    expect(preview).not_to_contain_text("Preview")
