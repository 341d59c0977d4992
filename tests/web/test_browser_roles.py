"""Every role's home page in a real browser, at desktop and phone widths: administrators,
analysts, auditors and supervisors each land on their work (never "nothing to show you"),
with no horizontal scrolling on a phone, nothing loaded from elsewhere and no CSP violation.

Screenshots of these pages go to docs/screenshots/ (shown in the README).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.crypto import crypto_of
from app.db import transaction
from app.demo.synthetic import add_people
from app.models.organisation import Organisation
from tests.factories import UserHandle, make_organisation, make_user
from tests.web.conftest import Live, Watch, screenshot
from tests.web.test_accessibility import axe, violations  # noqa: F401 - the axe fixture
from tests.web.test_browser import assert_local_only, expect, sign_in
from tests.web.world import CaseWorld

pytestmark = pytest.mark.timeout(180)
NOTHING = "nothing to show you"
PHONE = {"width": 375, "height": 740}


@pytest.fixture(scope="module")
def office(live: Live) -> dict[str, UserHandle]:
    """An organisation with 60 synthetic people (so that statistics have cells over 5) and an
    administrator, an analyst and an auditor."""
    org: Organisation = make_organisation(live.app, "Phnom Penh Rights Office")
    users = {
        role: make_user(live.app, role, organisation=org, username=f"{name}")
        for role, name in (
            ("admin", "dara.admin"),
            ("analyst", "sophal.analyst"),
            ("auditor", "kolab.auditor"),
        )
    }
    with transaction(live.app.state.sessionmaker) as session:
        add_people(
            session, crypto_of(session), count=60, organisation_id=org.id, created_by=None, seed=7
        )
    make_user(live.app, "caseworker", organisation=org, username="vanna.caseworker")
    return users


def _no_overflow(page: Any) -> int:
    return int(
        page.evaluate(
            "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
        )
    )


@pytest.mark.parametrize(
    ("role", "heading", "shows", "shot"),
    [
        ("admin", "Users", "vanna.caseworker", "admin-users"),
        ("analyst", "Statistics", "People by risk level", "analyst-statistics"),
        ("auditor", "Audit trail", "auth.login", "auditor-trail"),
    ],
)
def test_each_role_lands_on_its_work_on_desktop_and_phone(
    live: Live,
    browser: Any,
    context: tuple[Any, Watch],
    office: dict[str, UserHandle],
    axe: Any,  # noqa: F811 - the fixture imported above
    role: str,
    heading: str,
    shows: str,
    shot: str,
) -> None:
    ctx, watch = context
    page = ctx.new_page()
    sign_in(page, live, office[role])
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
    expect(page.locator("main")).to_contain_text(shows)
    assert NOTHING not in page.content()
    if role == "analyst":
        assert page.locator("svg.chart").count() >= 3  # no incident yet: no chart of types
        expect(page.locator("svg.chart rect.chart-bar").first).to_be_visible()
        expect(page.get_by_role("link", name="CSV with HXL hashtags").first).to_be_visible()
    if role == "auditor":
        page.get_by_role("button", name="Verify the chain").click()
        expect(page.get_by_role("heading", name="The chain holds")).to_be_visible()
    screenshot(page, shot)
    assert_local_only(watch)

    phone = browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        small = phone.new_page()
        sign_in(small, live, office[role])
        expect(small.get_by_role("heading", level=1, name=heading)).to_be_visible()
        assert _no_overflow(small) <= 0, small.url
        assert violations(small, axe) == [], small.url  # a table that scrolls can be reached
        if role == "admin":
            screenshot(small, "phone-admin-users")
    finally:
        phone.close()


def test_an_administrator_unlocks_an_account_and_confirms_a_role(
    live: Live, context: tuple[Any, Watch], office: dict[str, UserHandle]
) -> None:
    import httpx

    target = make_user(live.app, "caseworker", username="locked.out.caseworker")
    with httpx.Client(base_url=live.url, timeout=30) as client:
        for _ in range(5):
            client.post(
                "/api/v1/auth/login", json={"username": target.username, "password": "wrong one!"}
            )
        locked = client.post(
            "/api/v1/auth/login", json={"username": target.username, "password": target.password}
        )
    assert locked.status_code == 429
    assert re.search(r"locked for \d+ more minutes, until \d\d:\d\d UTC", locked.json()["detail"])
    ctx, watch = context
    page = ctx.new_page()
    sign_in(page, live, office["admin"])
    expect(page.get_by_text(re.compile("Locked until"))).to_be_visible()
    page.get_by_role("link", name=target.username).click()
    expect(page.get_by_text(re.compile("Locked out until"))).to_be_visible()
    screenshot(page, "admin-user")
    page.get_by_role("button", name="Unlock now").click()
    expect(page.get_by_text("Account unlocked: it can sign in now.")).to_be_visible()
    page.get_by_label("New role").select_option("lawyer")
    page.get_by_role("button", name="Change the role…").click()
    expect(page.get_by_role("heading", name=re.compile("Make .* a lawyer"))).to_be_visible()
    page.get_by_role("button", name=re.compile("Yes, make them a lawyer")).click()
    expect(page.get_by_text("Role changed; the account's sessions have ended.")).to_be_visible()
    assert_local_only(watch)


def test_a_supervisor_sees_the_overview_on_desktop_and_phone(
    live: Live, browser: Any, context: tuple[Any, Watch], case_world: CaseWorld
) -> None:
    ctx, watch = context
    page = ctx.new_page()
    sign_in(page, live, case_world.supervisor)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Supervisor").click()
    expect(page.get_by_role("heading", name="Open alerts by severity and age")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Cases with no caseworker"))).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Overdue check-ins"))).to_be_visible()
    screenshot(page, "supervisor-overview")
    assert_local_only(watch)
    phone = browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        small = phone.new_page()
        sign_in(small, live, case_world.supervisor)
        small.goto(f"{live.url}/supervisor")
        assert _no_overflow(small) <= 0
    finally:
        phone.close()


def test_the_new_pages_have_no_serious_accessibility_violations(
    live: Live,
    context: tuple[Any, Watch],
    office: dict[str, UserHandle],
    axe: Any,  # noqa: F811 - the fixture imported above
    case_world: CaseWorld,
) -> None:
    ctx, watch = context
    problems: dict[str, list[str]] = {}
    for role, paths in (
        (
            "admin",
            (
                "/admin/users",
                "/admin/api-keys",
                "/admin/webhooks",
                "/admin/organisations",
                "/admin/countries",
            ),
        ),
        ("analyst", ("/analyst",)),
        ("auditor", ("/audit",)),
    ):
        page = ctx.new_page()
        sign_in(page, live, office[role])
        for path in paths:
            page.goto(live.url + path)
            problems[path] = violations(page, axe)
        page.close()
    page = ctx.new_page()
    sign_in(page, live, case_world.supervisor)
    page.goto(f"{live.url}/supervisor")
    problems["/supervisor"] = violations(page, axe)
    assert {path: found for path, found in problems.items() if found} == {}
    assert watch.foreign() == [] and watch.csp == []
