"""The frame of every page in the reader's language: the sign-in form and its errors, the
header and footer, the profile page (where the language is chosen), the security and two-factor
pages, and the administrators' pages."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import i18n
from tests.conftest import fresh_address
from tests.factories import Team, UserHandle, login
from tests.web.conftest import Live, screenshot
from tests.web.support import csrf, sign_in

# Words that are the same in every language: the brand, codes, standards, and the example
# values hints give (zone names, country codes).
SAME_EVERYWHERE = {
    "Haven",
    "UTC",
    "API",
    "MRZ",
    "ISO",
    "TOTP",
    "CAT",
    "https",
    "HAVEN_WEBHOOK_ALLOWED_HOSTS",
    "Standard",
    "Webhooks",
    "FreeOTP",
    "Aegis",
    "Google",
    "Authenticator",
    "Asia",
    "Bangkok",
    "Europe",
    "London",
    "THA",
    "KHM",
    "English",
    "passkey",  # the Khmer for a passkey glosses the English word: កូនសោសម្ងាត់ (passkey)
}
WORD = re.compile("[A-Za-z][A-Za-z'\u2019-]+")  # an English word (its apostrophe either way)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class _Text(HTMLParser):
    """The words a reader sees or hears on a page: text and the labels of controls, without
    data (``<bdi>``, ``<code>``, secrets), scripts, or the language names of the switch."""

    SKIP = {"script", "style", "bdi", "code", "datalist", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        data = tag in self.SKIP or "mono" in (found.get("class") or "")
        data = data or (tag != "html" and "lang" in found)
        # An organisation offered in a list is data too (its value is its id).
        data = data or (tag == "option" and bool(UUID.fullmatch(found.get("value") or "")))
        if tag in ("input", "br", "meta", "link", "img"):
            data = False
        if data or self.skipping:
            self.skipping.append(tag)
        for name in ("aria-label", "title", "placeholder", "alt"):
            if found.get(name) and not self.skipping:
                self.words += WORD.findall(found[name] or "")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.words += WORD.findall(data)


def english_left(html: str, *data: str) -> list[str]:
    """The English words left on a page, besides those the same in every language and the
    data named (usernames, organisation names, ids)."""
    reader = _Text()
    reader.feed(html)
    allowed = set(SAME_EVERYWHERE)
    for value in data:
        allowed.update(WORD.findall(value))
    return [w for w in reader.words if w not in allowed and len(w) > 1]


def _client(app: FastAPI, accept: str | None = None) -> TestClient:
    headers = {"Accept-Language": accept} if accept else {}
    return TestClient(app, client=(fresh_address(), 1), headers=headers)


def _speaking(app: FastAPI, user: UserHandle, code: str) -> TestClient:
    """A browser signed in as ``user``, whose own language (through the API) is ``code``."""
    headers = login(TestClient(app, client=(fresh_address(), 1)), user)
    chosen = TestClient(app, client=(fresh_address(), 1)).patch(
        "/api/v1/auth/me", json={"locale": code}, headers=headers
    )
    assert chosen.status_code == 200, chosen.text
    client = _client(app, "en-GB,en;q=0.9")
    sign_in(client, user)
    return client


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', html)
    assert found
    return found.group(1)


def test_the_sign_in_form_and_its_errors_in_khmer(app: FastAPI) -> None:
    client = _client(app, "km-KH,km;q=0.9")
    page = client.get("/login")
    assert english_left(page.text) == []
    answer = client.post(
        "/login",
        data={"csrf_token": csrf(page.text), "username": "", "password": "", "next": "/"},
    )
    assert answer.status_code == 422
    text = answer.text
    assert _lang(text) == "km"
    assert "មានបញ្ហា" in text  # There is a problem
    assert "ឈ្មោះអ្នកប្រើ៖ សូមបញ្ចូលឈ្មោះអ្នកប្រើរបស់អ្នក។" in text  # Username: Enter your …
    assert "សូមបញ្ចូលពាក្យសម្ងាត់របស់អ្នក។" in text  # Enter your password.
    assert "(ស្រេចចិត្ត)" in text and "កំហុស៖" in text  # (optional), Error:
    for english in ("There is a problem", "Enter your username", "(optional)", "Error: "):
        assert english not in text
    assert english_left(text) == []
    # The passkey button carries its messages for passkeys.js in Khmer too.
    assert 'data-waiting="កំពុងរង់ចាំកូនសោសម្ងាត់របស់អ្នក…"' in text


def test_a_wrong_password_and_the_signed_out_notice_in_thai(app: FastAPI, team: Team) -> None:
    user = team.user("caseworker")
    client = _client(app, "th")
    page = client.get("/login")
    wrong = client.post(
        "/login",
        data={"csrf_token": csrf(page.text), "username": user.username, "password": "x" * 14},
    )
    assert wrong.status_code == 401 and "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง" in wrong.text
    assert english_left(wrong.text, user.username) == []
    token = sign_in(client, user)
    out = client.post("/logout", data={"csrf_token": token})
    assert "คุณออกจากระบบแล้ว" in out.text and english_left(out.text) == []


def test_the_administrators_pages_in_thai(app: FastAPI, team: Team) -> None:
    admin = team.user("admin")
    other = team.user("caseworker")
    client = _speaking(app, admin, "th")
    names = [team.organisation.name, admin.username, other.username]
    for path in ("/admin/users", f"/admin/users/{other.id}", "/admin/api-keys"):
        page = client.get(path)
        assert page.status_code == 200 and _lang(page.text) == "th", path
        assert "ผู้ใช้" in page.text  # Users (the sub-navigation)
        assert english_left(page.text, *names) == [], path
    users = client.get("/admin/users").text
    assert "เจ้าหน้าที่ดูแลกรณี: กรณีที่ได้รับมอบหมาย" in users  # Caseworker: the cases assigned
    assert "Create an account" not in users and "สร้างบัญชี" in users
    # The role's confirmation page, and an error summary on an admin form.
    token = csrf(users)
    confirm = client.post(
        f"/admin/users/{other.id}/role", data={"csrf_token": token, "role": "lawyer"}
    )
    assert "ให้ <bdi>" in confirm.text and "เป็นทนายความหรือไม่" in confirm.text
    assert english_left(confirm.text, *names) == []
    refused = client.post("/admin/users", data={"csrf_token": token, "username": ""})
    assert refused.status_code == 422 and "ข้อผิดพลาด:" in refused.text
    assert "This is required" not in refused.text and "ต้องกรอกช่องนี้" in refused.text


def test_the_profile_security_and_two_factor_pages_in_thai(app: FastAPI, team: Team) -> None:
    user = team.user("caseworker")
    client = _speaking(app, user, "th")
    for path in ("/account/profile", "/account/security", "/account/two-factor"):
        page = client.get(path)
        assert page.status_code == 200 and _lang(page.text) == "th", path
        assert english_left(page.text, user.username, "Asia/Bangkok") == [], path
    profile = client.get("/account/profile").text
    assert "โปรไฟล์ของคุณ" in profile and "Your profile" not in profile
    # The error pages are the reader's too.
    missing = client.get("/people/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and "ไม่พบ" in missing.text


def test_choosing_thai_on_the_profile_page_shows_the_next_page_in_thai(
    app: FastAPI, team: Team
) -> None:
    user = team.user("caseworker")
    client = _client(app, "en-GB,en;q=0.9")
    token = sign_in(client, user)
    page = client.get("/account/profile").text
    assert _lang(page) == "en"
    for code, name in i18n.LANGUAGES.items():  # each language named in itself
        assert f'lang="{code}">{name}</label>' in page
    assert re.search(r'value="en" checked', page)  # what the reader reads now
    saved = client.post(
        "/account/profile",
        data={"csrf_token": token, "time_zone": "Asia/Bangkok", "locale": "th"},
    )
    assert saved.status_code == 200 and _lang(saved.text) == "th"
    assert "บันทึกแล้ว" in saved.text  # the notice, in the new language
    assert re.search(r'value="th" checked', saved.text)
    people = client.get("/people").text
    assert _lang(people) == "th" and "ออกจากระบบ" in people  # Sign out
    # Back to English, and a language Haven lacks is refused in the form's own words.
    refused = client.post(
        "/account/profile", data={"csrf_token": token, "time_zone": "", "locale": "xx"}
    )
    assert refused.status_code == 422 and "โปรดเลือกภาษาหนึ่ง" in refused.text
    back = client.post("/account/profile", data={"csrf_token": token, "locale": "en"})
    assert _lang(back.text) == "en" and "Your profile" in back.text


def test_saving_the_time_zone_alone_keeps_following_the_organisation(
    app: FastAPI, team: Team
) -> None:
    """The language shown as chosen, when the user never chose one, is not saved as theirs."""
    user = team.user("caseworker")
    client = _client(app, "km")
    token = sign_in(client, user)
    assert _lang(client.get("/account/profile").text) == "km"
    client.post(
        "/account/profile",
        data={"csrf_token": token, "time_zone": "Asia/Bangkok", "locale": "km"},
    )
    me = client.get("/api/v1/auth/me", headers=login(_client(app), user)).json()
    assert me.get("locale") is None


# In the browser -------------------------------------------------------------------------------
KHMER_FONT_LOADED = """async () => {
    const deadline = Date.now() + 15000;
    const loaded = () => [...document.fonts].some(
        f => f.status === 'loaded' && f.family.includes('Khmer'));
    while (!loaded()) {
        if (Date.now() > deadline) return false;
        await new Promise(resolve => setTimeout(resolve, 50));
    }
    return true;
}"""


@pytest.mark.timeout(120)
def test_the_sign_in_page_in_khmer_in_chromium(live: Live, browser: Any) -> None:
    for name, viewport in (
        ("sign-in-km", {"width": 1280, "height": 800}),
        ("phone-sign-in-km", {"width": 390, "height": 844}),
    ):
        context = browser.new_context(viewport=viewport, locale="km-KH", device_scale_factor=1)
        try:
            page = context.new_page()
            page.goto(f"{live.url}/login")
            assert page.evaluate("document.documentElement.lang") == "km"
            assert page.get_by_role("heading", level=1).inner_text() == "ចូលទៅកាន់ Haven"
            page.get_by_label("ឈ្មោះអ្នកប្រើ").wait_for()  # Username
            page.get_by_label("ពាក្យសម្ងាត់").wait_for()  # Password
            page.get_by_role("button", name="ចូល", exact=True).click()  # Sign in, empty
            summary = page.get_by_role("alert")
            summary.wait_for()
            assert "មានបញ្ហា" in summary.inner_text()
            assert "សូមបញ្ចូលឈ្មោះអ្នកប្រើរបស់អ្នក។" in summary.inner_text()
            # The Khmer font is Haven's own, and it is the one the heading is drawn in.
            # (fetched once Khmer text is laid out: waited for, not sampled). Waited for in
            # one evaluation: wait_for_function polls with eval, which the page's CSP refuses
            # whenever the font is not loaded at the first look (a busy machine).
            assert page.evaluate(KHMER_FONT_LOADED), "the Khmer font did not load in 15 s"
            screenshot(page, name)
        finally:
            context.close()
