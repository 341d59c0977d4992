"""Referred history: what the sending side did about risk, alerts, check-ins, consent,
attachments, break-glass and the person's location or contact never reaches the receiving
side, and the sending side's staff appear there only as their organisation (issue 13 item 3).

Checked on every reader's view of a timeline: GET /cases/{id}/history, the JSON and PDF
exports and the web case page, for the receiving lawyer and caseworker."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import fresh_address
from tests.factories import API, UserHandle, unique
from tests.referrals.support import (
    ALL_SECTIONS,
    Org,
    Record,
    build_org,
    make_record,
    pdf_text,
    refer,
    step,
)
from tests.web.support import sign_in

# What the sending side did that no referral shares, by what gives it away.
NEVER_SHOWN = (
    "risk.",
    "alert.",
    "check_in",
    "consent",
    "attachment",
    "break_glass",
    "Risk level",
    "Risk reassessed",
    "Alert raised",
    "host_custody",
    "risk_escalated",
    "Check-in",
    "check-in",
    "Emergency access",
    "current_location",
    "contact",
    "Consent",
    "Attachment",
)
# The kinds a referred timeline may hold, by section.
KINDS = {
    "identity": ("individual.",),
    "documents": ("document.",),
    "unhcr_status": ("unhcr_status.",),
    "incidents": ("incident.",),
    "history": ("case.", "referral."),
}


@dataclass
class World:
    app: FastAPI
    client: TestClient
    a: Org  # refers
    b: Org  # receives


@pytest.fixture(scope="module")
def world(app: FastAPI) -> World:
    with TestClient(app) as client:
        a = build_org(app, client, ("supervisor", "caseworker", "caseworker_other", "lawyer"))
        b = build_org(app, client, ("supervisor", "lawyer", "caseworker"))
        return World(app, client, a, b)


def _ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _sending_side_acts(world: World, record: Record) -> dict[str, str]:
    """Everything the sending side does that a referral never shares; the values to look for."""
    client, a = world.client, world.a
    cw, sup = a.headers["caseworker"], a.headers["supervisor"]
    new_location = unique("Second safe house")
    new_contact = unique("+66 new contact")
    channel = "+66812345678"
    # The person moved and changed phone (one change with an identity field, one without).
    _ok(
        client.patch(
            f"{API}/individuals/{record.person}",
            json={"current_location": new_location, "affiliation": "Opposition party"},
            headers=cw,
        )
    )
    _ok(
        client.patch(
            f"{API}/individuals/{record.person}", json={"contact": new_contact}, headers=cw
        )
    )
    _ok(client.patch(f"{API}/individuals/{record.person}", json={"notes": "Moved."}, headers=cw))
    # A detention in a host state: risk reassessed, an escalation and a host_custody alert.
    a.team.incident(
        cw,
        record.person,
        type="detention",
        occurred_on=dt.date.today().isoformat(),
        country="THA",
        description=unique("Held at the airport"),
        source={"name": "monitor", "reliability": "B", "credibility": 2},
    )
    # A supervisor's override of the computed risk.
    _ok(
        client.post(
            f"{API}/individuals/{record.person}/risk/override",
            json={"level": "critical", "justification": "Known to the security services."},
            headers=sup,
        )
    )
    _ok(
        client.post(
            f"{API}/individuals/{record.person}/check-ins", json={"channel": channel}, headers=cw
        )
    )
    _ok(
        client.post(
            f"{API}/cases/{record.case}/attachments",
            files={"file": ("statement.txt", b"A statement.", "text/plain")},
            headers=cw,
        )
    )
    # Counsel of the sending side, and a colleague's emergency access.
    assert a.team.assign(sup, record.case, a.users["lawyer"]).status_code == 201
    client.post(
        f"{API}/cases/{record.case}/break-glass",
        json={"reason": "Court hearing in one hour."},
        headers=a.headers["caseworker_other"],
    )
    return {"location": new_location, "contact": new_contact, "channel": channel}


def _referred(world: World, sections: list[str]) -> tuple[Record, dict[str, str]]:
    client, a, b = world.client, world.a, world.b
    record = make_record(a.team, a.headers["caseworker"])
    values = _sending_side_acts(world, record)
    created = refer(client, a.headers["caseworker"], record.case, b.organisation, sections)
    assert created.status_code == 201, created.text
    assert step(client, b.headers["supervisor"], created.json()["id"], "accept").status_code == 200
    for name in ("lawyer", "caseworker"):
        response = b.team.assign(b.headers["supervisor"], record.case, b.users[name])
        assert response.status_code == 201, response.text
    return record, values


def _sending_staff(world: World) -> list[str]:
    return [u.username for u in world.a.users.values()] + [
        str(u.id) for u in world.a.users.values()
    ]


def _assert_clean(world: World, text: str, record: Record, values: dict[str, str]) -> None:
    for word in NEVER_SHOWN:
        assert word not in text, word
    for value in (record.contact, record.location, record.person_note, *values.values()):
        assert value not in text, value
    for who in _sending_staff(world):
        assert who not in text, who


def _assert_kinds(entries: list[dict[str, Any]], sections: list[str]) -> None:
    allowed = tuple(p for s in sections for p in KINDS[s])
    for entry in entries:
        assert entry["kind"].startswith(allowed), entry["kind"]
        assert entry["kind"] != "case.break_glass"


def _where(value: Any, needle: str, path: str = "") -> list[str]:
    """The paths in ``value`` whose text holds ``needle`` (for a failure's message)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _where(v, needle, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _where(v, needle, f"{path}[{i}]")]
    return [path] if needle in str(value) else []


def _web_page(world: World, user: UserHandle, case: str) -> str:
    with TestClient(world.app, client=(fresh_address(), 1)) as browser:
        sign_in(browser, user)
        page = browser.get(f"/cases/{case}")
        assert page.status_code == 200, page.text
        return html.unescape(page.text)


SECTION_SETS = [["history"], ["identity", "history"], ["documents", "history"], ALL_SECTIONS]


@pytest.mark.parametrize("sections", SECTION_SETS, ids=lambda s: "+".join(s))
@pytest.mark.parametrize("reader", ["lawyer", "caseworker"])
def test_referred_history_carries_only_the_referred_sections(
    world: World, sections: list[str], reader: str
) -> None:
    record, values = _referred(world, sections)
    who = world.b.headers[reader]
    sending_org = world.a.organisation.name

    # GET /cases/{id}/history
    response = world.client.get(f"{API}/cases/{record.case}/history", headers=who)
    assert response.status_code == 200, response.text
    entries = response.json()["entries"]
    _assert_kinds(entries, sections)
    _assert_clean(world, json.dumps(entries), record, values)
    kinds = [e["kind"] for e in entries]
    assert "case.opened" in kinds and "referral.created" in kinds
    # The sending side's staff appear as their organisation.
    by_kind = {e["kind"]: e for e in entries}
    assert by_kind["case.opened"]["actor"] == sending_org
    assert by_kind["case.note_added"]["actor"] == sending_org
    assert record.note in json.dumps(entries)  # the case's notes are its history
    updates = [e for e in entries if e["kind"] == "individual.updated"]
    if "identity" in sections:
        # One change touched an identity field: it shows that field only.
        (update,) = updates
        assert update["summary"] == "Person's record changed: affiliation"
        assert set(update.get("changes", {})) <= {"affiliation"}
    else:
        assert updates == []
        assert not [e for e in entries if e["kind"].startswith("individual.")]
    # The sending side's counsel was assigned: the receiving side sees that, not who.
    (assigned,) = [e for e in entries if e["kind"] == "case.assigned" and e["actor"] == sending_org]
    assert assigned.get("subject_id") is None
    # The receiving side's own steps keep their names.
    own = [e for e in entries if e["kind"] == "case.assigned" and e["actor"] != sending_org]
    assert {e["actor"] for e in own} == {world.b.users["supervisor"].username}

    # JSON export: its timeline and its notes.
    bundle = _ok(
        world.client.get(
            f"{API}/cases/{record.case}/export", params={"format": "json"}, headers=who
        )
    )
    _assert_kinds(bundle["timeline"], sections)
    _assert_clean(world, json.dumps(bundle["timeline"]), record, values)
    _assert_clean(world, json.dumps(bundle["notes"]), record, values)
    assert [e["kind"] for e in bundle["timeline"]] == kinds[: len(bundle["timeline"])]
    assert {n["author"] for n in bundle["notes"]} == {sending_org}
    for who_ in _sending_staff(world):
        assert who_ not in json.dumps(bundle), _where(bundle, who_)

    # PDF export: the timeline part of its text.
    pdf = world.client.get(
        f"{API}/cases/{record.case}/export", params={"format": "pdf"}, headers=who
    )
    assert pdf.status_code == 200, pdf.text
    text = " ".join(pdf_text(pdf.content).split())
    timeline = text.rsplit("Timeline", 1)[1]
    _assert_clean(world, timeline, record, values)
    assert sending_org in timeline
    for who_ in _sending_staff(world):
        assert who_ not in text, who_

    # The web case page.
    page = _web_page(world, world.b.users[reader], record.case)
    history = page.split('id="history-title"', 1)[1]
    _assert_clean(world, history, record, values)
    assert sending_org in history
    for who_ in _sending_staff(world):
        assert who_ not in page, who_
    assert not re.search(r"Risk: ", page)

    # The notes API names the sending side's authors as their organisation too.
    notes = _ok(world.client.get(f"{API}/cases/{record.case}/notes", headers=who))
    notes = notes["items"] if isinstance(notes, dict) else notes
    assert {n["author"] for n in notes} == {sending_org}
    assert all(n.get("author_id") is None for n in notes)


def test_sending_side_sees_the_receiving_staff_as_their_organisation(world: World) -> None:
    """Both ways: the referring organisation sees the partner's lawyer as the partner."""
    record, _ = _referred(world, ["history"])
    lawyer = world.b.users["lawyer"]
    note = world.client.post(
        f"{API}/cases/{record.case}/notes",
        json={"body": "Filed the appeal."},
        headers=world.b.headers["lawyer"],
    )
    assert note.status_code == 201, note.text
    entries = _ok(
        world.client.get(
            f"{API}/cases/{record.case}/history", headers=world.a.headers["caseworker"]
        )
    )["entries"]
    text = json.dumps(entries)
    assert lawyer.username not in text and str(lawyer.id) not in text
    legal = [e for e in entries if e["kind"] == "case.legal_note_added"]
    assert [e["actor"] for e in legal] == [world.b.organisation.name]
    # The sending side's own entries keep its staff's names (and everything it may see).
    kinds = {e["kind"] for e in entries}
    assert {"risk.overridden", "alert.raised", "check_in.recorded"} <= kinds
    assert world.a.users["caseworker"].username in text
