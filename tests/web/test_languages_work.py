"""The work pages in the reader's language: a case, the referrals inbox, the supervisor's tools
and on-call rota, the analyst's statistics, the audit trail, imports and notification settings
in Thai (and Khmer), with none of their English interface sentences left."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import i18n
from app.web.analyst import _count
from tests.conftest import fresh_address
from tests.consent.support import give
from tests.factories import Team, UserHandle, make_organisation, make_user, unique
from tests.web.conftest import Live, Watch, screenshot
from tests.web.i18n_support import english_left
from tests.web.support import sign_in
from tests.web.test_browser import assert_local_only, expect

API = "/api/v1"
THAI = re.compile(r"[\u0e00-\u0e7f]")
KHMER = re.compile(r"[\u1780-\u17ff]")
# Words on these pages that are data or standard codes, not interface text: the file formats,
# sizes and the codes a form asks for.
CODES = ("ZIP", "KB", "MB", "XLSX", "HXL", "IANA", "KHM", "THA", "UTF-8", "UTF-16", "TOML")
# Values of lists shown through the ``label`` filter: their words are app/web/labels.py's.
LABELLED = ("Open", "Normal", "Written", "None recorded")


def _main(html: str) -> str:
    """The page's own part (the header and footer are the frame's, translated elsewhere)."""
    found = re.search(r'<main id="main"[^>]*>(.*)</main>', html, re.S)
    assert found, html[:300]
    return found.group(1)


def _english(html: str, allowed: Iterable[str] = ()) -> list[str]:
    """English interface text left in the page's main part (ids, codes, usernames in the
    pickers and data aside; a case's history entries are the timeline's own words)."""
    ids = re.findall(r"\b[0-9a-f]{8}\b", html)  # short ids of cases and people
    usernames = re.findall(r"\b[a-z]+-[0-9a-f]{10}\b", html)
    # organisations offered by the referral form: names, whichever others the database holds
    usernames += re.findall(r'<option value="[0-9a-f-]{36}">([^<]*)</option>', html)
    main = re.sub(r'<ol class="history-list">.*?</ol>', "", _main(html), flags=re.S)
    return english_left(main, [*CODES, *LABELLED, *ids, *usernames, *allowed])


def _client(app: FastAPI, user: UserHandle, locale: str) -> tuple[TestClient, str]:
    """``user`` signed in through the form, their profile's language set to ``locale``."""
    with TestClient(app, client=(fresh_address(), 1)) as api:
        headers = Team(app, api).login(user)
        chosen = api.patch(f"{API}/auth/me", json={"locale": locale}, headers=headers)
        assert chosen.status_code == 200, chosen.text
    client = TestClient(app, client=(fresh_address(), 1))
    return client, sign_in(client, user)


@pytest.fixture
def org_team(app: FastAPI, client: TestClient) -> Team:
    return Team(app, client, make_organisation(app, unique("Mekong Aid")))


def _case(team: Team, who: UserHandle) -> tuple[str, str]:
    headers = team.login(who)
    person = team.register(headers, full_name=unique("Sok Dara"), current_country="THA")["id"]
    case = team.case(headers, person, title="Hearing")["id"]
    team.note(headers, case, "Met the family today.")
    give(team.client, headers, person, share=True, method="written")
    return person, case


CASE_ENGLISH = (
    "Export for filing",
    "Download PDF",
    "As it stood at a moment",
    "Nobody is assigned",
    "Attach a file",
    "Add a note",
    "Add the note",
    "Refer the case",
    "Sections they may see",
    "oldest first",
    "Show the whole history",
    "Contact details, location",
)


def test_a_thai_caseworker_s_case_page(app: FastAPI, org_team: Team) -> None:
    caseworker = org_team.user("caseworker")
    _person, case = _case(org_team, caseworker)
    client, _ = _client(app, caseworker, "th")
    page = client.get(f"/cases/{case}")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="th"' in html
    for thai in ("ส่งออกเพื่อยื่นเอกสาร", "ไฟล์แนบ", "การส่งต่อ", "ประวัติ", "เพิ่มบันทึก"):
        assert thai in html, thai
    assert "(1 รายการ" in html or "รายการ เก่าสุดก่อน" in html
    for english in CASE_ENGLISH:
        assert english not in html, english
    left = _english(html, ["Hearing", "haven verify-export", "Met the family today."])
    assert not left, "\n".join(left)

    listing = client.get("/cases").text
    assert "กรณี" in listing and "Cases, newest first" not in listing

    # A refusal beside its field, in Thai: no section ticked
    token = sign_in(client, caseworker)
    refused = client.post(
        f"/cases/{case}/referrals",
        data={
            "csrf_token": token,
            "to_organisation": str(make_organisation(app).id),
            "purpose": "Representation",
        },
    )
    assert refused.status_code == 422
    assert "เลือกอย่างน้อยหนึ่งส่วนที่จะแบ่งปัน" in refused.text
    assert "Tick at least one section" not in refused.text


SUPERVISOR_ENGLISH = (
    "Open alerts by severity and age",
    "Cases with no caseworker",
    "Overdue check-ins",
    "Apply a list of annulled passports",
    "Record a country event",
    "On-call rota",
    "Import a spreadsheet",
    "Nobody is on call now",
    "Add a shift",
    "Shifts from now on",
    "Waiting for your decision",
    "Sent by your organisation",
    "No referral is waiting",
)


def test_a_thai_supervisor_s_pages(app: FastAPI, org_team: Team) -> None:
    caseworker = org_team.user("caseworker")
    _case(org_team, caseworker)
    supervisor = org_team.user("supervisor")
    client, _ = _client(app, supervisor, "th")

    tools = client.get("/supervisor").text
    for thai in ("หัวหน้างาน", "กรณีที่ไม่มีเจ้าหน้าที่ดูแลกรณี", "การรายงานตัวที่เลยกำหนด", "ตารางเวร"):
        assert thai in tools, thai
    rota = client.get("/supervisor/on-call").text
    assert "ขณะนี้ไม่มีผู้อยู่เวร" in rota and "เพิ่มกะ" in rota
    inbox = client.get("/referrals").text
    assert "รอการตัดสินใจของคุณ" in inbox and "ส่งโดยองค์กรของคุณ" in inbox
    pages = [tools, rota, inbox]
    for path in ("/supervisor/revocations", "/supervisor/country-events", "/supervisor/import"):
        page = client.get(path)
        assert page.status_code == 200 and THAI.search(_main(page.text)), path
        pages.append(page.text)
    for html in pages:
        for english in SUPERVISOR_ENGLISH:
            assert english not in html, english
        left = _english(
            html, ["KHM", "crackdown", "“number”", "“passport”", "docs/import-mapping.toml"]
        )
        assert not left, "\n".join(left)


def test_the_analyst_s_statistics_in_thai(app: FastAPI, org_team: Team) -> None:
    headers = org_team.login(org_team.user("caseworker"))
    for _ in range(6):
        org_team.person(headers, current_country="THA")
    client, _ = _client(app, org_team.user("analyst"), "th")
    html = client.get("/analyst").text
    for thai in ("สถิติ", "บุคคลตามระดับความเสี่ยง", "บุคคลตามประเทศที่อยู่ปัจจุบัน", "จำนวน"):
        assert thai in html, thai
    assert "<title" in html and "บุคคลตามสถานะ UNHCR" in html  # the charts' own titles
    for english in ("People by risk level", "Counts of your organisation only", "Count</th>"):
        assert english not in html, english
    assert '<svg class="chart"' in html and " style=" not in html
    left = _english(html, ["Humanitarian Data Exchange"])
    assert not left, "\n".join(left)


def test_counts_are_written_for_the_reader_s_locale() -> None:
    with i18n.using("en"):
        assert _count(12345, 5) == "12,345" and _count(None, 5) == "<5"
    with i18n.using("km"):
        assert _count(12345, 5) in {"12.345", "12,345"}


def test_the_audit_trail_in_thai(app: FastAPI, org_team: Team) -> None:
    client, token = _client(app, org_team.user("auditor"), "th")
    html = client.get("/audit?action=auth.login").text
    for thai in ("บันทึกการตรวจสอบ", "ตรวจสอบห่วงโซ่", "การกระทำ", "เมื่อใด"):
        assert thai in html, thai
    for english in ("Audit trail", "Verify the chain", "Every read and change", "Next entries"):
        assert english not in html, english
    verified = client.post("/audit/verify", data={"csrf_token": token})
    assert verified.status_code == 200 and "ห่วงโซ่สมบูรณ์" in verified.text
    assert "The chain holds" not in verified.text


def test_notification_settings_and_an_import_in_khmer(app: FastAPI, org_team: Team) -> None:
    supervisor = org_team.user("supervisor")
    client, token = _client(app, supervisor, "km")
    settings = client.get("/account/notifications").text
    assert '<html lang="km"' in settings
    assert "របៀបទាក់ទងអ្នក" in settings and "ម៉ោងស្ងាត់" in settings
    for english in ("How to reach you", "Quiet hours", "Which alerts", "Critical only"):
        assert english not in settings, english
    refused = client.post(
        "/account/notifications",
        data={"csrf_token": token, "min_severity": "high", "quiet_start": "22:00"},
    )
    assert refused.status_code == 422
    error = re.search(r'id="e-quiet_start">(.*?)</p>', refused.text)
    assert error and KHMER.search(error.group(1)), refused.text[-3000:]

    upload = client.get("/supervisor/import").text
    assert "នាំចូលតារាងទិន្នន័យ" in upload and "Import a spreadsheet" not in upload


def test_english_stays_english(app: FastAPI, org_team: Team) -> None:
    supervisor = make_user(app, "supervisor", organisation=org_team.organisation)
    client, _ = _client(app, supervisor, "en")
    tools = client.get("/supervisor").text
    assert "Open alerts by severity and age" in tools or "Cases with no caseworker" in tools
    assert not THAI.search(tools) and not KHMER.search(_main(tools))


@pytest.mark.timeout(120)
def test_a_thai_case_page_in_chromium(live: Live, context: tuple[Any, Watch]) -> None:
    """Thai renders on a case page in a real browser (the fonts Haven serves itself)."""
    organisation = make_organisation(live.app, unique("Chao Phraya Protection Network"))
    caseworker = make_user(live.app, "caseworker", organisation=organisation)
    with httpx.Client(base_url=live.url, timeout=30) as api:
        team = Team(live.app, api, organisation)
        headers = team.login(caseworker)
        chosen = api.patch(f"{API}/auth/me", json={"locale": "th"}, headers=headers)
        assert chosen.status_code == 200, chosen.text
        person = team.person(headers, full_name="Meas Rathana", current_country="THA")
        case = team.case(headers, person, title="Hearing on removal")["id"]
        team.note(headers, case, "Hearing set for next month; family safe.")
    ctx, watch = context
    page = ctx.new_page()
    page.goto(f"{live.url}/login")
    page.locator("#f-username").fill(caseworker.username)
    page.locator("#f-password").fill(caseworker.password)
    page.locator("button[type=submit].primary").click()
    page.wait_for_url(re.compile(r"^(?!.*/login)"))
    page.goto(f"{live.url}/cases/{case}")
    expect(page.locator("html")).to_have_attribute("lang", "th")
    expect(page.locator("#export-title")).to_have_text("ส่งออกเพื่อยื่นเอกสาร")
    expect(page.locator("#notes-title")).to_have_text("บันทึก")
    expect(page.locator("#referrals")).to_contain_text("ยังไม่ได้ส่งต่อไปยังองค์กรใด")
    screenshot(page, "case-th")
    assert_local_only(watch)
