"""The installable web client in Debian's Chromium: the service worker registers for the whole
site, Chromium reads the manifest without an error and finds the client installable, a push
message becomes the notification "Critical alert in your caseload" that opens the alert page,
and offline the browser shows the offline page, which holds no record data. The notification
pages pass axe-core (WCAG 2.1 AA)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.web.conftest import Live, Watch
from tests.web.test_accessibility import axe, violations  # noqa: F401 (axe: a fixture)
from tests.web.test_browser import sign_in
from tests.web.world import CaseWorld

REGISTERED = """async () => {
  const reg = await navigator.serviceWorker.ready;
  const script = reg.active && reg.active.scriptURL;
  return {scope: reg.scope, active: Boolean(reg.active), script: script};
}"""
SHOWN = """async () => {
  const reg = await navigator.serviceWorker.ready;
  for (let i = 0; i < 50; i++) {
    const shown = await reg.getNotifications();
    if (shown.length) {
      return shown.map(n => ({title: n.title, body: n.body, tag: n.tag, data: n.data}));
    }
    await new Promise(r => setTimeout(r, 100));
  }
  return [];
}"""


def test_the_service_worker_registers_and_the_manifest_is_valid(
    live: Live, context: tuple[Any, Watch]
) -> None:
    ctx, watch = context
    page = ctx.new_page()
    page.goto(live.url + "/login")
    registration = page.evaluate(REGISTERED)
    assert registration == {
        "scope": live.url + "/",
        "active": True,
        "script": live.url + "/sw.js",
    }
    cdp = ctx.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"] == live.url + "/manifest.webmanifest"
    assert manifest["errors"] == []
    parsed = json.loads(manifest["data"])
    assert parsed["start_url"] == "/" and parsed["display"] == "standalone"
    page.reload()  # a page the service worker controls, as an installed client's would be
    page.evaluate(REGISTERED)
    installability = cdp.send("Page.getInstallabilityErrors")
    # Playwright's profiles are incognito, where Chromium installs nothing; no other reason.
    reasons = {e["errorId"] for e in installability["installabilityErrors"]}
    assert reasons <= {"in-incognito"}, reasons
    for icon in parsed["icons"]:
        assert ctx.request.get(live.url + icon["src"]).status == 200
    assert watch.csp == []
    assert watch.foreign() == []


def test_a_push_message_becomes_a_notification_naming_no_one(
    live: Live, context: tuple[Any, Watch]
) -> None:
    ctx, _ = context
    ctx.grant_permissions(["notifications"], origin=live.url)
    page = ctx.new_page()
    page.goto(live.url + "/login")
    page.evaluate(REGISTERED)
    cdp = ctx.new_cdp_session(page)
    cdp.send("ServiceWorker.enable")
    versions: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerVersionUpdated", lambda e: versions.extend(e["versions"]))
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    page.wait_for_timeout(300)
    registration_id = next(r["registrationId"] for r in registrations if not r["isDeleted"])
    alert_id = str(uuid.uuid4())
    message = {
        "alert_id": alert_id,
        "severity": "critical",
        "rule": "host_custody",
        "url": f"/alerts/{alert_id}",
    }
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": live.url, "registrationId": registration_id, "data": json.dumps(message)},
    )
    (shown,) = page.evaluate(SHOWN)
    assert shown["title"] == "Critical alert in your caseload"
    assert shown["tag"] == alert_id
    assert shown["data"] == {"url": f"/alerts/{alert_id}"}
    # A message that tries to send the browser elsewhere opens Haven's home instead.
    page.evaluate(
        "async () => { const reg = await navigator.serviceWorker.ready; "
        "for (const n of await reg.getNotifications()) n.close(); }"
    )
    message |= {"url": "//evil.example/phish", "severity": "high", "alert_id": "x"}
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": live.url, "registrationId": registration_id, "data": json.dumps(message)},
    )
    (other,) = page.evaluate(SHOWN)
    assert other["title"] == "Alert in your caseload"
    assert other["data"] == {"url": "/"}


def test_offline_the_browser_shows_the_offline_page(live: Live, context: tuple[Any, Watch]) -> None:
    ctx, _ = context
    page = ctx.new_page()
    page.goto(live.url + "/login")
    page.evaluate(REGISTERED)
    page.reload()
    ctx.set_offline(True)
    try:
        page.goto(live.url + "/people")
        assert page.locator("h1").inner_text() == "You are offline"
        assert "nothing about the people you work with is kept" in page.content()
    finally:
        ctx.set_offline(False)
    cached = page.evaluate(
        "async () => { const c = await caches.open('haven-offline-v1'); "
        "return (await c.keys()).map(r => new URL(r.url).pathname).sort(); }"
    )
    assert cached == ["/offline", "/static/haven.css"]


def test_the_notification_pages_have_no_serious_accessibility_violations(
    live: Live,
    context: tuple[Any, Watch],
    case_world: CaseWorld,
    axe: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    ctx, watch = context
    page = ctx.new_page()
    sign_in(page, live, case_world.supervisor)
    problems = {}
    for path in ("/account/notifications", "/supervisor/on-call", "/offline"):
        page.goto(live.url + path)
        problems[path] = violations(page, axe)
    page.goto(live.url + "/supervisor/on-call")
    page.get_by_role("button", name="Add the shift").click()  # empty: errors beside the fields
    problems["/supervisor/on-call (errors)"] = violations(page, axe)
    assert "Choose who is on call." in page.content()
    assert {path: found for path, found in problems.items() if found} == {}
    assert watch.foreign() == [] and watch.csp == []
