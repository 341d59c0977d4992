"""A referral between two organisations in a real browser: consent, referral, the receiving
supervisor's inbox and decision, the banner and the referred sections only, revocation."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest

from app.models.organisation import Organisation
from tests.factories import Team, UserHandle, make_organisation, make_user
from tests.web.conftest import VIEWPORT, Live, Watch, screenshot
from tests.web.test_browser import assert_local_only, expect, sign_in

pytestmark = pytest.mark.timeout(120)
PURPOSE = "Representation at the deportation hearing"


def _referred_case(
    live: Live, organisation: Organisation, caseworker: UserHandle
) -> tuple[str, str]:
    """A person with a passport, a UNHCR status, an incident and a noted case."""
    today = dt.date.today()
    with httpx.Client(base_url=live.url, timeout=30) as client:
        team = Team(live.app, client, organisation)
        cw = team.login(caseworker)
        person = team.person(
            cw,
            full_name="Meas Rathana",
            date_of_birth="1991-08-14",
            nationalities=["KHM"],
            current_country="THA",
            current_location="Bangkok, Lat Krabang",
        )
        case = team.case(cw, person, title="Hearing on removal")
        team.document(cw, person, number="N07731562")
        team.unhcr_status(cw, person, effective_date=(today - dt.timedelta(days=90)).isoformat())
        team.incident(
            cw,
            person,
            type="threat",
            occurred_on=(today - dt.timedelta(days=5)).isoformat(),
            location=None,
            perpetrator=None,
            description="Threatening calls from an embassy number.",
            source={"name": "Herself", "reliability": "B", "credibility": 2},
        )
        team.note(cw, case["id"], "Hearing set for next month; family safe.")
    return str(person), str(case["id"])


def test_a_case_is_referred_accepted_seen_in_part_and_revoked(
    live: Live, browser: Any, context: tuple[Any, Watch]
) -> None:
    org_a = make_organisation(live.app, "Chao Phraya Protection Network")
    org_b = make_organisation(live.app, "Northern Legal Clinic")
    caseworker = make_user(live.app, "caseworker", organisation=org_a, username="sreymom.referrer")
    supervisor = make_user(live.app, "supervisor", organisation=org_b, username="malee.receiver")
    person, case = _referred_case(live, org_a, caseworker)
    ctx, watch = context
    sender = ctx.new_page()

    # Org A's caseworker records the person's consent to share, then refers the case.
    sign_in(sender, live, caseworker)
    sender.goto(f"{live.url}/people/{person}")
    sender.get_by_role("link", name="Record consent").click()
    sender.get_by_label("to their record being kept in Haven").check()
    sender.get_by_label("to it being shared with partner organisations").check()
    sender.get_by_label("How it was given").select_option("written")
    sender.get_by_role("button", name="Record consent").click()
    expect(sender.get_by_text("Consent recorded.")).to_be_visible()
    consent = sender.locator("#consent")
    expect(consent).to_contain_text("Share with partners")
    expect(consent.locator("dd").nth(1)).to_have_text("Yes")

    sender.locator("#cases a").first.click()
    referrals = sender.locator("#referrals")
    expect(referrals).to_contain_text("Not referred to any organisation.")
    sender.get_by_label("Refer to").select_option(label="Northern Legal Clinic")
    sender.get_by_label("Purpose").fill(PURPOSE)
    sender.get_by_label("Identity").check()
    sender.get_by_label("Travel documents").check()
    sender.get_by_role("button", name="Refer the case").click()
    expect(sender.get_by_text("Case referred.")).to_be_visible()
    expect(referrals).to_contain_text("Northern Legal Clinic")
    expect(referrals).to_contain_text("Pending")

    # Org B's supervisor finds it in the inbox and accepts it.
    other = browser.new_context(viewport=VIEWPORT, locale="en-GB")
    try:
        receiver = other.new_page()
        sign_in(receiver, live, supervisor)
        assert receiver.goto(f"{live.url}/cases/{case}").status == 404  # not before accepting
        receiver.goto(f"{live.url}/")
        nav = receiver.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Referrals").click()
        waiting = receiver.locator("li.card", has_text="Chao Phraya Protection Network")
        expect(waiting).to_contain_text(PURPOSE)
        expect(waiting).to_contain_text("Identity, Travel documents")
        screenshot(receiver, "referral-inbox")
        waiting.get_by_role("button", name=re.compile("^Accept")).click()
        expect(receiver.get_by_text("Referral accepted")).to_be_visible()

        # The banner, and the referred sections only.
        banner = receiver.locator(".referral-banner")
        expect(banner).to_contain_text(
            "Seen through a referral from Chao Phraya Protection Network"
        )
        expect(banner).to_contain_text(f"{PURPOSE}”: only Identity, Travel documents")
        screenshot(receiver, "referral-banner")
        for absent in ("#notes", "#history", "#attachments", "#referrals", ".export"):
            expect(receiver.locator(absent)).to_have_count(0)
        assert "Hearing set for next month" not in receiver.content()

        receiver.get_by_role("link", name="Meas Rathana").click()
        expect(receiver.locator(".referral-banner")).to_be_visible()
        expect(receiver.locator("#identity")).to_contain_text("14 Aug 1991")
        expect(receiver.locator("#documents")).to_contain_text("N07731562")
        for absent in ("#unhcr", "#incidents", "#risk", "#consent", "#check-ins"):
            expect(receiver.locator(absent)).to_have_count(0)
        html = receiver.content()
        assert "Lat Krabang" not in html and "embassy number" not in html
        person_url = receiver.url

        # Org A revokes: org B finds nothing any more.
        sender.reload()
        sender.locator("#referrals").get_by_role("button", name=re.compile("^Revoke")).click()
        expect(sender.locator("p.notice", has_text="Referral revoked")).to_be_visible()
        expect(sender.locator("#referrals")).to_contain_text("Revoked")
        assert receiver.goto(f"{live.url}/cases/{case}").status == 404
        expect(receiver.get_by_role("heading", name="Not found")).to_be_visible()
        assert receiver.goto(person_url).status == 404
    finally:
        other.close()
    assert_local_only(watch)
