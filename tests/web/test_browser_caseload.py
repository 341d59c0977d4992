"""A full caseload in a real browser, at desktop and phone widths: a webhook's link opens the
alert page (after signing in) and the alert is acknowledged there; inbox cards name the person
and the country; "Sok" is found among 10,000 people and the list pages to its last page; a
file over the limit is stopped before it is sent and the form keeps what was typed.

Screenshots go to docs/screenshots/ (shown in the README).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.crypto import crypto_of
from app.db import transaction
from app.demo.synthetic import add_people
from app.models.alert import OutboxMessage
from tests.factories import Team, UserHandle, make_organisation
from tests.web.conftest import Live, Watch, screenshot
from tests.web.test_browser import assert_local_only, expect, sign_in

pytestmark = pytest.mark.timeout(240)
PHONE = {"width": 375, "height": 740}
PEOPLE = 10_000


def _no_overflow(page: Any) -> int:
    return int(
        page.evaluate(
            "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
        )
    )


@pytest.fixture(scope="module")
def custody(live: Live) -> dict[str, Any]:
    """A caseworker whose person, recorded in Cambodia, is held in Malaysia; a webhook."""
    with httpx.Client(base_url=live.url, timeout=30) as client:
        team = Team(live.app, client, make_organisation(live.app, "Border Watch Malaysia"))
        cw = team.member("caseworker", username="sreymom")
        admin = team.admin.headers
        hook = client.post(
            "/api/v1/webhooks",
            json={"url": "https://hooks.example.org/haven", "events": ["alert.created"]},
            headers=admin,
        )
        assert hook.status_code == 201, hook.text
        person = team.person(
            cw,
            full_name="Sok Dara",
            native_name="សុខ ដារ៉ា",
            current_country="KHM",
            current_location="Phnom Penh, Chamkar Mon",
        )
        team.case(cw, person, title="Detention risk in Malaysia")
        team.incident(
            cw,
            person,
            type="detention",
            country="MYS",
            location="Bukit Jalil immigration depot",
            description="Taken from the flat by immigration officers at dawn.",
        )
        team.incident(cw, person, type="deportation_order", country="MYS", location="Kuala Lumpur")
    with transaction(live.app.state.sessionmaker) as session:
        payloads = [
            json.loads(p)
            for p in session.scalars(
                OutboxMessage.__table__.select()
                .with_only_columns(OutboxMessage.payload)
                .where(OutboxMessage.channel == "webhook")
            )
        ]
    links = [p["data"]["link"] for p in payloads if p.get("data", {}).get("rule") == "host_custody"]
    assert links, payloads
    return {"user": cw.user, "person": person, "link": links[-1]}


def test_a_webhook_link_opens_the_alert_after_sign_in_and_it_is_acknowledged_there(
    live: Live, browser: Any, context: tuple[Any, Watch], custody: dict[str, Any]
) -> None:
    ctx, watch = context
    page = ctx.new_page()
    path = "/" + custody["link"].split("/", 3)[3]  # the webhook names HAVEN_PUBLIC_URL
    assert re.fullmatch(r"/alerts/[0-9a-f-]{36}", path)
    page.goto(live.url + path)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(custody["user"].username)
    page.get_by_label("Password").fill(custody["user"].password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(live.url + path)
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Sok Dara")
    expect(heading).to_contain_text("Held in custody")
    main = page.locator("main")
    expect(main).to_contain_text("Malaysia")
    expect(main).to_contain_text("Bukit Jalil immigration depot")
    expect(main).to_contain_text("Taken from the flat")
    expect(main).to_contain_text(re.compile(r"\((just now|\d+ minutes? ago)\)"))
    screenshot(page, "alert")
    page.get_by_role("button", name="Acknowledge: I am on it").click()
    expect(page.get_by_text("Alert acknowledged.")).to_be_visible()
    expect(main).to_contain_text("being handled by sreymom")
    expect(page.locator("ol.timeline")).to_contain_text("Acknowledged by sreymom")
    assert_local_only(watch)

    phone = browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        small = phone.new_page()
        small.goto(live.url + path)
        small.get_by_label("Username").fill(custody["user"].username)
        small.get_by_label("Password").fill(custody["user"].password)
        small.get_by_role("button", name="Sign in", exact=True).click()
        expect(small.get_by_role("heading", level=1)).to_contain_text("Sok Dara")
        assert _no_overflow(small) <= 0
        screenshot(small, "phone-alert")
    finally:
        phone.close()


def test_an_inbox_card_names_the_person_and_the_country(
    live: Live, browser: Any, context: tuple[Any, Watch], custody: dict[str, Any]
) -> None:
    ctx, watch = context
    page = ctx.new_page()
    sign_in(page, live, custody["user"])
    card = page.locator("li.alert").filter(has_text="Sok Dara").first
    expect(card).to_be_visible()
    expect(card).to_contain_text("In Malaysia")
    expect(card).to_contain_text("happened ")
    screenshot(page, "inbox-cards")
    # The person page acknowledges too, and says the alert places them elsewhere.
    page.goto(f"{live.url}/people/{custody['person']}")
    expect(page.locator("main")).to_contain_text("an open alert places them in Malaysia")
    # A caseworker in Bangkok reads times in Bangkok's.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    page.get_by_label("Time zone").fill("Asia/Bangkok")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved: times are shown in your time zone now.")).to_be_visible()
    expect(page.locator("main")).to_contain_text("UTC+7")
    screenshot(page, "profile")
    page.goto(f"{live.url}/alerts/{custody['link'].rsplit('/', 1)[1]}")
    expect(page.locator("ol.timeline")).to_contain_text("UTC+7")
    assert_local_only(watch)

    phone = browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        small = phone.new_page()
        sign_in(small, live, custody["user"])
        small_card = small.locator("li.alert").filter(has_text="Sok Dara").first
        expect(small_card).to_contain_text("In Malaysia")
        assert _no_overflow(small) <= 0
        screenshot(small, "phone-inbox")
    finally:
        phone.close()


@pytest.fixture(scope="module")
def caseload(live: Live) -> UserHandle:
    """A supervisor of an organisation of 10,000 synthetic people."""
    org = make_organisation(live.app, f"Large Caseload {uuid.uuid4().hex[:6]}")
    from tests.factories import make_user

    supervisor = make_user(live.app, "supervisor", organisation=org, username="large.supervisor")
    started = time.monotonic()
    with transaction(live.app.state.sessionmaker) as session:
        add_people(
            session,
            crypto_of(session),
            count=PEOPLE,
            organisation_id=org.id,
            created_by=supervisor.id,
            seed=15,
        )
    assert time.monotonic() - started < 120
    return supervisor


def test_sok_is_found_among_10000_people_and_the_list_pages_to_its_end(
    live: Live, browser: Any, context: tuple[Any, Watch], caseload: UserHandle
) -> None:
    ctx, watch = context
    page = ctx.new_page()
    sign_in(page, live, caseload)
    page.goto(f"{live.url}/people")
    page.get_by_label("Name").fill("Sok")
    page.get_by_label("Sort by").select_option("name")
    page.get_by_role("button", name="Search").click()
    title = page.locator("#results-title")
    expect(title).to_contain_text(re.compile(r"[\d,]+ people found"))
    found = int(re.sub(r"\D", "", title.inner_text().split("people")[0]))
    assert 0 < found < PEOPLE
    names = page.locator("a.card-title").all_inner_texts()
    assert names and all("sok" in n.lower().split() for n in names[:50]), names[:5]
    assert "Sok" not in page.url  # the typed word stays out of the address
    screenshot(page, "people-search")
    page.get_by_role("button", name=re.compile(r"^Last")).click()
    expect(title).to_contain_text(re.compile(r"page (\d+) of \1"))
    # Everyone: paged, with the total, sorted by risk.
    page.goto(f"{live.url}/people")
    page.get_by_role("link", name="Show everyone in my caseload").click()
    expect(title).to_contain_text("10,000 people found")
    expect(title).to_contain_text("page 1 of 200")
    expect(page.locator("li.card").first).to_contain_text("Risk: Critical")
    page.get_by_role("link", name="Last (200)").click()
    expect(title).to_contain_text("page 200 of 200")
    assert page.locator("li.card").count() == 50
    assert_local_only(watch)

    phone = browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        small = phone.new_page()
        sign_in(small, live, caseload)
        small.goto(f"{live.url}/people?all=1")
        expect(small.locator("#results-title")).to_contain_text("10,000 people found")
        assert _no_overflow(small) <= 0
        small.locator("#results-title").scroll_into_view_if_needed()
        small.evaluate("document.getElementById('results-title').scrollIntoView()")
        screenshot(small, "phone-people")
    finally:
        phone.close()


def test_a_file_over_the_limit_is_stopped_and_the_page_keeps_what_was_typed(
    live: Live, browser: Any, custody: dict[str, Any], tmp_path: Path
) -> None:
    big = tmp_path / "scan.pdf"
    with big.open("wb") as sparse:  # 26 MB, handed to the browser by path (no copy)
        sparse.truncate(26 * 1_048_576)
    for viewport in ({"width": 1280, "height": 800}, PHONE):
        ctx = browser.new_context(viewport=viewport, is_mobile=viewport is PHONE)
        try:
            page = ctx.new_page()
            sign_in(page, live, custody["user"])
            page.goto(f"{live.url}/people/{custody['person']}")
            page.locator("#cases a").first.click()
            expect(page.locator("#h-file")).to_contain_text("Up to 25 MB")
            page.get_by_label("Add a note").fill("Called the family: the hearing is on Monday.")
            page.get_by_label("Attach a file").set_input_files(str(big))
            before = page.url
            page.get_by_role("button", name="Upload").click()
            error = page.locator("#e-file-size")
            expect(error).to_be_visible()
            expect(error).to_contain_text("Haven takes up to 25 MB")
            assert page.url == before
            expect(page.get_by_label("Add a note")).to_have_value(
                "Called the family: the hearing is on Monday."
            )
            assert page.get_by_label("Attach a file").evaluate("el => el.files.length") == 1
            if viewport is PHONE:
                screenshot(page, "phone-upload-too-large")
        finally:
            ctx.close()
