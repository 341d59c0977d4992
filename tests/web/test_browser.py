"""The web client in a real browser: a caseworker's day, a lawyer's filing, a stranger's URL.

Each test signs in through the page, as a person would; screenshots of the main pages go to
docs/screenshots/ (shown in the README).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pyotp
import pytest

from app.documents.mrz import check_digit
from tests.factories import UserHandle, make_organisation, make_user
from tests.web.conftest import Live, Watch, screenshot
from tests.web.support import next_code
from tests.web.world import CaseWorld

KHMER = "សុខ ដារ៉ា"
pytestmark = pytest.mark.timeout(120)


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def passport_mrz(number: str, expires: dt.date) -> str:
    """A TD3 MRZ with correct check digits (ICAO 9303)."""
    line1 = f"P<KHMSOK<<DARA{'<' * 44}"[:44]
    birth, expiry = "850314", expires.strftime("%y%m%d")
    body = (
        f"{number}{check_digit(number)}KHM{birth}{check_digit(birth)}M{expiry}{check_digit(expiry)}"
    )
    personal = "<" * 14
    line2 = f"{body}{personal}<"
    composite = line2[0:10] + line2[13:20] + line2[21:43]
    return f"{line1}\n{line2}{check_digit(composite)}"


def sign_in(page: Any, live: Live, user: UserHandle, code: str = "") -> None:
    page.goto(f"{live.url}/login")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    if code:
        page.get_by_label("Two-factor code").fill(code)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("button", name=re.compile("^Sign out"))).to_be_visible()


def tab_to(page: Any, predicate: str, limit: int = 60) -> None:
    """Press Tab until the focused element satisfies ``predicate`` (a JS expression on ``el``)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            f"(() => {{ const el = document.activeElement; return !!({predicate}); }})()"
        ):
            return
    raise AssertionError(f"Tab never reached: {predicate}")


def assert_local_only(watch: Watch) -> None:
    assert watch.urls, "no request was recorded"
    assert watch.foreign() == []
    assert watch.csp == []


def test_a_caseworker_signs_in_with_totp_registers_and_handles_a_detention(
    live: Live, context: tuple[Any, Watch]
) -> None:
    ctx, watch = context
    org = make_organisation(live.app, "Khmer Rights Network")
    user = make_user(live.app, "caseworker", organisation=org, username="sophea")
    page = ctx.new_page()

    # Two-factor enrolment: scan the QR code (here: read the key under it), confirm a code.
    sign_in(page, live, user)
    # The current password is asked for at both steps: a session alone does not change it.
    page.goto(f"{live.url}/account/two-factor")
    page.get_by_label("Your current password").fill(user.password)
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    expect(page.locator("svg.qr")).to_be_visible()
    secret = page.locator("code.secret").inner_text()
    page.get_by_label("Six-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_label("Your current password").fill(user.password)
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    page.get_by_role("button", name=re.compile("^Sign out")).click()
    expect(page.get_by_text("You have signed out")).to_be_visible()

    # Signing in now takes the code as well.
    sign_in(page, live, user, code=next_code(secret))
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()

    # Register a person, with their name in Khmer script, and open a case.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    page.get_by_role("link", name="Register a person").click()
    page.get_by_label("Full name").fill("Sok Dara")
    page.get_by_label("Name in their own script").fill(KHMER)
    page.get_by_label("Nationalities").fill("KHM")
    page.get_by_label("Country they are in now").fill("THA")
    page.get_by_label("Party or organisation").fill("Cambodia National Rescue Party")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Person registered and a case opened.")).to_be_visible()
    person_url = page.url.split("?")[0]

    # Add the passport by pasting its MRZ: the preview checks the digits as it is typed.
    page.get_by_role("link", name="Add a document").click()
    expires = dt.date.today() + dt.timedelta(days=4 * 365)
    page.get_by_label("Machine-readable zone (MRZ)").fill(passport_mrz("N04812345", expires))
    expect(page.get_by_text("Preview: all check digits match.")).to_be_visible()
    page.get_by_role("button", name="Add the document").click()
    expect(page.get_by_text("Travel document added.")).to_be_visible()
    expect(page.get_by_text(f"Valid until {expires:%-d %b %Y}")).to_be_visible()

    # The inbox is open in another tab, following the alert stream.
    inbox = ctx.new_page()
    inbox.goto(f"{live.url}/")
    expect(inbox.get_by_text("No open alerts.")).to_be_visible()
    expect(inbox.locator("body[data-live=on]")).to_be_attached(timeout=10_000)
    inbox.evaluate("window.stillTheSamePage = true")

    # Log the detention.
    page.goto(person_url)
    page.get_by_role("link", name="Log an incident").click()
    expect(page.get_by_label("Sok Dara")).to_be_checked()
    page.get_by_label("Type").select_option("detention")
    page.get_by_label("On", exact=True).fill(dt.date.today().isoformat())
    page.get_by_label("In country").fill("THA")
    page.get_by_label("Place").fill("Suvarnabhumi airport, immigration hold")
    page.get_by_label("What happened").fill("Held on arrival; deportation to Phnom Penh feared.")
    page.get_by_label("Source", exact=True).fill("His brother, by phone")
    page.get_by_label("Reliability of the source").select_option("B")
    page.get_by_label("Credibility of the information").select_option("2")
    page.get_by_role("button", name="Log the incident").click()
    expect(page.get_by_text("Incident recorded.")).to_be_visible()

    # The critical alert appears in the inbox by itself, without a reload.
    custody = inbox.locator("li.alert.tone-critical", has_text="Held in custody by a host state")
    expect(custody).to_be_visible(timeout=15_000)
    assert inbox.evaluate("window.stillTheSamePage") is True
    expect(inbox.locator("#live-status")).to_contain_text("New critical alert")
    screenshot(inbox, "inbox")

    # Acknowledge it from the keyboard.
    inbox.locator("body").focus()
    tab_to(
        inbox,
        "el.tagName === 'BUTTON' && el.textContent.trim() === 'Acknowledge'"
        " && el.closest('li').textContent.includes('Held in custody')",
    )
    inbox.keyboard.press("Enter")
    expect(inbox.get_by_text("Alert acknowledged.")).to_be_visible()
    handling = inbox.locator(
        "section", has=inbox.get_by_role("heading", name=re.compile("^Being handled"))
    )
    expect(handling.locator("li.alert", has_text="Held in custody")).to_be_visible()

    page.goto(person_url)
    expect(page.locator("#risk")).to_be_visible()
    screenshot(page, "person")
    page.locator("#cases a").first.click()
    expect(page.get_by_role("heading", name=re.compile("^History"))).to_be_visible()
    screenshot(page, "case")
    assert_local_only(watch)


def test_a_lawyer_reads_the_history_and_downloads_the_pdf(
    live: Live, context: tuple[Any, Watch], case_world: CaseWorld
) -> None:
    ctx, watch = context
    page = ctx.new_page()
    sign_in(page, live, case_world.lawyer)
    expect(page.get_by_role("heading", name="My cases")).to_be_visible()
    page.get_by_role("link", name=case_world.title).click()
    history = page.locator("#history")
    expect(history).to_contain_text("Incident recorded: detention")
    expect(history).to_contain_text("Lawyer assigned")
    page.evaluate("document.getElementById('history').scrollIntoView()")
    screenshot(page, "lawyer-history")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    with open(download.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    assert_local_only(watch)


def test_an_unassigned_lawyer_cannot_reach_the_case_by_its_url(
    live: Live, context: tuple[Any, Watch], case_world: CaseWorld
) -> None:
    ctx, watch = context
    page = ctx.new_page()
    sign_in(page, live, case_world.stranger)
    response = page.goto(f"{live.url}/cases/{case_world.case_id}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert case_world.title not in page.content()
    export = page.request.get(f"{live.url}/api/v1/cases/{case_world.case_id}/export?format=pdf")
    assert export.status == 404
    assert_local_only(watch)
