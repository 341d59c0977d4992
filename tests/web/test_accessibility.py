"""Accessibility (WCAG 2.1 AA) and use on a phone, checked in the browser.

axe-core comes from the npm registry (tests/web/package.json, installed by scripts/test) and is
injected into each page by the test; no page loads it by itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import Live, Watch, needed, screenshot
from tests.web.test_browser import expect, sign_in
from tests.web.world import CaseWorld

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="session")
def axe() -> Path:
    """axe.min.js, installed from the lock file when missing and npm is at hand."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            needed("npm (to install axe-core)")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            check=True,
            env={**os.environ, "NPM_CONFIG_UPDATE_NOTIFIER": "false"},
        )
    assert AXE.exists(), "npm ci did not install axe-core"
    return AXE


def violations(page: Any, axe: Path) -> list[str]:
    # Evaluated through the DevTools protocol: the page's CSP (no inline script) stays on, and
    # would refuse add_script_tag's inline <script>.
    page.evaluate(axe.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => `${v.id} (${v.impact}): ` +
                    v.nodes.map(n => n.target.join(" ")).join(", "));
        }""",
        TAGS,
    )
    return list(found)


def test_the_main_pages_have_no_serious_accessibility_violations(
    live: Live, context: tuple[Any, Watch], case_world: CaseWorld, axe: Path
) -> None:
    ctx, watch = context
    page = ctx.new_page()
    problems: dict[str, list[str]] = {}
    page.goto(f"{live.url}/login")
    problems["/login"] = violations(page, axe)
    # Empty: errors beside the fields (exact: not the "Sign in with a passkey" button).
    page.get_by_role("button", name="Sign in", exact=True).click()
    problems["/login (errors)"] = violations(page, axe)
    sign_in(page, live, case_world.supervisor)
    person, case = case_world.person_id, case_world.case_id
    for path in (
        "/",
        "/people?all=1",
        f"/people/{person}",
        "/people/new",
        f"/people/{person}/documents/new",
        f"/people/{person}/unhcr/new",
        f"/people/{person}/check-ins/new",
        f"/people/{person}/risk/override",
        f"/incidents/new?person={person}",
        "/cases",
        f"/cases/{case}",
        "/supervisor",
        "/supervisor/revocations",
        "/supervisor/country-events",
        "/account/two-factor",
        f"/people/{person}/consent/new",
        f"/people/{person}/erase",
        "/referrals",
    ):
        page.goto(live.url + path)
        problems[path] = violations(page, axe)
    page.goto(f"{live.url}/people/new")
    page.get_by_role("button", name="Register").click()
    problems["/people/new (errors)"] = violations(page, axe)
    assert {path: found for path, found in problems.items() if found} == {}
    assert watch.foreign() == [] and watch.csp == []


def test_the_sign_in_form_is_reached_with_the_keyboard(
    live: Live, context: tuple[Any, Watch]
) -> None:
    ctx, _ = context
    page = ctx.new_page()
    page.goto(f"{live.url}/login")
    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "(() => { const el = document.activeElement;"
                " return el.id || el.getAttribute('href') || el.textContent.trim(); })()"
            )
        )
    # The skip link, Haven, the other languages (early: for whoever cannot read this one),
    # then the form.
    assert order == [
        "#main",
        "/",
        "/login?lang=km",
        "/login?lang=th",
        "f-username",
        "f-password",
        "f-code",
        "Sign in",
    ]
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("not-a-code")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # submitting from the keyboard
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator(".error-summary")).to_contain_text("Username: enter your username.")


def test_the_skip_link_leads_to_the_content(live: Live, context: tuple[Any, Watch]) -> None:
    ctx, _ = context
    page = ctx.new_page()
    page.goto(f"{live.url}/login")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_pages_fit_a_phone_screen(live: Live, browser: Any, case_world: CaseWorld) -> None:
    phone = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        page = phone.new_page()
        sign_in(page, live, case_world.supervisor)
        for path in ("/", f"/people/{case_world.person_id}", f"/cases/{case_world.case_id}"):
            page.goto(live.url + path)
            overflow = page.evaluate(
                "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
            )
            assert overflow <= 0, path
        page.goto(f"{live.url}/people/{case_world.person_id}")
        screenshot(page, "phone-person")
    finally:
        phone.close()
