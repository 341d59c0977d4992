"""Referred access: the receiving organisation sees exactly the referred sections, on every
route, until the referral is revoked or expires; nobody else ever sees it."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.models.alert import Alert, OutboxMessage
from app.models.referral import Referral
from tests.consent.support import give
from tests.factories import API, db
from tests.referrals.support import (
    ALL_SECTIONS,
    Org,
    Record,
    as_uuid,
    build_org,
    make_record,
    pdf_text,
    refer,
    step,
)

IDENTITY = ["full_name", "date_of_birth", "sex", "nationalities", "current_country", "aliases"]
NEVER = ["contact", "current_location", "notes", "risk", "check_in_every_hours", "consent"]


@dataclass
class World:
    app: FastAPI
    client: TestClient
    a: Org  # refers
    b: Org  # receives
    c: Org  # a third organisation


@pytest.fixture(scope="module")
def world(app: FastAPI) -> World:
    with TestClient(app) as client:
        a = build_org(app, client, ("supervisor", "caseworker", "caseworker_other", "lawyer"))
        b = build_org(app, client, ("supervisor", "lawyer", "lawyer_other", "caseworker", "admin"))
        c = build_org(app, client, ("supervisor", "lawyer"))
        return World(app, client, a, b, c)


def _referred(world: World, sections: list[str], *, lawyer: bool = True) -> tuple[Record, str]:
    """A fresh record of a, referred to b with ``sections``, accepted, b's lawyer assigned."""
    client, a, b = world.client, world.a, world.b
    record = make_record(a.team, a.headers["caseworker"])
    created = refer(client, a.headers["caseworker"], record.case, b.organisation, sections)
    assert created.status_code == 201, created.text
    referral = created.json()["id"]
    accepted = step(client, b.headers["supervisor"], referral, "accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted" and accepted.json()["active"] is True
    if lawyer:
        response = b.team.assign(b.headers["supervisor"], record.case, b.users["lawyer"])
        assert response.status_code == 201, response.text
    return record, referral


def _get(world: World, who: dict[str, str], path: str, **params: object) -> object:
    return world.client.get(API + path, headers=who, params=params or None)


def _reads(world: World, who: dict[str, str], record: Record) -> dict[str, int]:
    """Every read route about the record, by status code."""
    paths = {
        "person": f"/individuals/{record.person}",
        "documents": f"/individuals/{record.person}/documents",
        "document": f"/documents/{record.document}",
        "unhcr": f"/individuals/{record.person}/unhcr-status",
        "incident": f"/incidents/{record.incident}",
        "incidents_of_person": "/incidents?individual_id=" + record.person,
        "case": f"/cases/{record.case}",
        "history": f"/cases/{record.case}/history",
        "notes": f"/cases/{record.case}/notes",
        "export": f"/cases/{record.case}/export?format=json",
        "risk": f"/individuals/{record.person}/risk",
        "attachments": f"/cases/{record.case}/attachments",
        "case_referrals": f"/cases/{record.case}/referrals",
    }
    return {k: world.client.get(API + p, headers=who).status_code for k, p in paths.items()}


def _listed(world: World, who: dict[str, str], record: Record) -> dict[str, bool]:
    client = world.client

    def people(**params: str) -> bool:
        response = client.get(f"{API}/individuals", params=params, headers=who)
        assert response.status_code == 200, response.text
        return record.person in {item["id"] for item in response.json()["items"]}

    incidents = client.get(f"{API}/incidents", headers=who)
    cases = client.get(f"{API}/cases", headers=who)
    return {
        "people": people(),
        "by_name": people(name=record.name),
        "by_number": people(document_number=record.number),
        "by_country": people(country="THA"),
        "by_risk": people(risk_level="critical") or people(risk_level="high"),
        "incidents": record.incident in {i["id"] for i in incidents.json()["items"]},
        "cases": record.case in {c["id"] for c in cases.json()["items"]},
    }


SECTION_SETS = [
    ["identity"],
    ["documents"],
    ["unhcr_status", "incidents"],
    ["history"],
    ALL_SECTIONS,
]


@pytest.mark.parametrize("sections", SECTION_SETS, ids=lambda s: "+".join(s))
def test_receiving_lawyer_sees_exactly_the_referred_sections(
    world: World, sections: list[str]
) -> None:
    record, referral = _referred(world, sections)
    lawyer = world.b.headers["lawyer"]
    has = set(sections)

    statuses = _reads(world, lawyer, record)
    expected = {
        "person": 200,
        "documents": 200 if "documents" in has else 404,
        "document": 200 if "documents" in has else 404,
        "unhcr": 200 if "unhcr_status" in has else 404,
        "incident": 200 if "incidents" in has else 404,
        "incidents_of_person": 200 if "incidents" in has else 404,
        "case": 200,
        "history": 200 if "history" in has else 404,
        "notes": 200 if "history" in has else 404,
        "export": 200,
        "risk": 404,  # never through a referral
        "attachments": 404,
        "case_referrals": 200,
    }
    assert statuses == expected

    person = _get(world, lawyer, f"/individuals/{record.person}").json()
    for key in IDENTITY:
        assert (key in person) == ("identity" in has), key
    for key in NEVER:
        assert key not in person, key
    assert ("unhcr_status" in person) == ("unhcr_status" in has)
    text = json.dumps(person)
    assert record.contact not in text and record.location not in text
    assert record.person_note not in text
    assert (record.name in text) == ("identity" in has)

    case = _get(world, lawyer, f"/cases/{record.case}").json()
    assert case["access"] == "referral"
    assert ("title" in case) == ("history" in has)
    # The referring organisation's staff stay with it: only the receiving side's own assignees.
    sending_staff = {str(u.id) for u in world.a.users.values()}
    assert not {a["user_id"] for a in case["assignments"]} & sending_staff
    assert "opened_by" not in case

    listed = _listed(world, lawyer, record)
    assert listed == {
        "people": True,
        "by_name": "identity" in has,
        "by_number": "documents" in has,
        "by_country": "identity" in has,
        "by_risk": False,
        "incidents": "incidents" in has,
        "cases": True,
    }

    if "history" in has:
        entries = _get(world, lawyer, f"/cases/{record.case}/history").json()["entries"]
        by_kind = {e["kind"]: e for e in entries}
        # Only the entries of referred sections (issue 13: not even as bare facts).
        assert ("document.added" in by_kind) == ("documents" in has)
        assert ("individual.created" in by_kind) == ("identity" in has)
        if "documents" in has:
            assert by_kind["document.added"].get("changes")
        if "identity" in has:
            assert by_kind["individual.created"].get("changes")
        assert by_kind["case.note_added"].get("changes")
        text = json.dumps(entries)
        assert record.contact not in text and record.location not in text
        assert (record.number in text) == ("documents" in has)
        assert record.note in text

    bundle = _get(world, lawyer, f"/cases/{record.case}/export", format="json").json()
    assert bundle["referred_sections"] == [s for s in ALL_SECTIONS if s in has]
    assert ("documents" in bundle) == ("documents" in has)
    assert ("unhcr_status_history" in bundle) == ("unhcr_status" in has)
    assert ("incidents" in bundle) == ("incidents" in has)
    assert ("timeline" in bundle) == ("history" in has)
    # As of a moment: read from the history, so only with the history referred.
    then = _get(world, lawyer, f"/cases/{record.case}/export", format="json", as_of=bundle["as_of"])
    assert then.status_code == (200 if "history" in has else 422)  # type: ignore[attr-defined]
    assert ("notes" in bundle) == ("history" in has)
    assert "attachments" not in bundle
    text = json.dumps(bundle)
    assert record.contact not in text and record.location not in text
    assert record.person_note not in text
    assert (record.name in text) == ("identity" in has)
    assert (record.number in text) == ("documents" in has)
    assert (record.unhcr_reference in text) == ("unhcr_status" in has)
    assert (record.incident_text in text) == ("incidents" in has)
    assert (record.note in text) == ("history" in has)

    pdf = world.client.get(
        f"{API}/cases/{record.case}/export", params={"format": "pdf"}, headers=lawyer
    )
    assert pdf.status_code == 200
    text = " ".join(pdf_text(pdf.content).split())
    assert record.contact not in text and record.location not in text
    assert (record.name in text) == ("identity" in has)
    assert (record.number in text) == ("documents" in has)
    assert (record.incident_text in text) == ("incidents" in has)
    assert (record.note in text) == ("history" in has)

    # Writes: a legal note with the history section; nothing else.
    note = world.client.post(
        f"{API}/cases/{record.case}/notes", json={"body": "Filed the appeal."}, headers=lawyer
    )
    assert note.status_code == (201 if "history" in has else 404)
    supervisor = world.b.headers["supervisor"]
    today = dt.date.today().isoformat()
    writes = [
        ("PATCH", f"/individuals/{record.person}", {"notes": "x"}),
        ("PATCH", f"/cases/{record.case}", {"priority": "high"}),
        ("PATCH", f"/documents/{record.document}", {"status": "valid", "status_date": today}),
        ("POST", f"/individuals/{record.person}/risk/override", None),
    ]
    for method, path, body in writes:
        response = world.client.request(method, API + path, json=body, headers=supervisor)
        assert response.status_code in (404, 422) if body is None else response.status_code == 404
    assert (
        world.client.post(
            f"{API}/individuals/{record.person}/documents",
            json={"type": "passport", "number": "X1", "issuing_country": "KHM", "status": "valid"},
            headers=supervisor,
        ).status_code
        == 404
    )
    assert world.client.post(
        f"{API}/cases/{record.case}/notes", json={"body": "A note."}, headers=supervisor
    ).status_code == (403 if "history" in has else 404)

    # A colleague the supervisor did not assign sees nothing.
    other = _reads(world, world.b.headers["lawyer_other"], record)
    assert set(other.values()) == {404}

    # Revocation ends it at once, on every route.
    revoked = step(world.client, world.a.headers["caseworker"], referral, "revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    for who in (lawyer, supervisor):
        assert set(_reads(world, who, record).values()) == {404}
        assert not any(_listed(world, who, record).values())
    pdf = world.client.get(
        f"{API}/cases/{record.case}/export", params={"format": "pdf"}, headers=lawyer
    )
    assert pdf.status_code == 404


def test_receiving_supervisor_sees_the_referral_as_the_lawyer_does(world: World) -> None:
    record, _ = _referred(world, ["documents"], lawyer=False)
    statuses = _reads(world, world.b.headers["supervisor"], record)
    assert statuses["documents"] == 200 and statuses["history"] == 404
    person = _get(world, world.b.headers["supervisor"], f"/individuals/{record.person}").json()
    assert "full_name" not in person and "contact" not in person


def test_expiry_ends_access_at_once(world: World) -> None:
    record, referral = _referred(world, ALL_SECTIONS)
    lawyer = world.b.headers["lawyer"]
    assert _reads(world, lawyer, record)["person"] == 200
    assert _listed(world, lawyer, record)["by_number"]  # its statement is built once per role
    with db(world.app) as session:
        session.execute(
            update(Referral)
            .where(Referral.id == as_uuid(referral))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    for who in (lawyer, world.b.headers["supervisor"]):
        assert set(_reads(world, who, record).values()) == {404}
        assert not any(_listed(world, who, record).values())
    seen = _get(world, world.a.headers["caseworker"], f"/referrals/{referral}").json()
    assert seen["status"] == "expired" and seen["active"] is False
    # Observed once: on the case's timeline, and announced to the receiving organisation.
    history = _get(world, world.a.headers["caseworker"], f"/cases/{record.case}/history").json()
    assert [e for e in history["entries"] if e["kind"] == "referral.expired"]
    alerts = _get(world, world.b.headers["supervisor"], "/alerts").json()["items"]
    assert [x for x in alerts if x["rule"] == "referral_expired" and x["case_id"] == record.case]
    # An expired referral is no longer accepted or revoked.
    assert step(world.client, world.a.headers["caseworker"], referral, "revoke").status_code == 409


def test_past_expiry_date_and_bad_bodies_are_refused(world: World) -> None:
    record = make_record(world.a.team, world.a.headers["caseworker"])
    cw, b = world.a.headers["caseworker"], world.b.organisation
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    bad = [
        refer(world.client, cw, record.case, b, ["identity"], expires_on=yesterday),
        refer(world.client, cw, record.case, world.a.organisation, ["identity"]),
        world.client.post(
            f"{API}/cases/{record.case}/referrals",
            json={
                "to_organisation": "No such organisation",
                "purpose": "x",
                "sections": ["identity"],
            },
            headers=cw,
        ),
        refer(world.client, cw, record.case, b, []),
        refer(world.client, cw, record.case, b, ["identity", "identity"]),
        refer(world.client, cw, record.case, b, ["contact"]),
    ]
    assert [r.status_code for r in bad] == [422] * len(bad)
    today = refer(
        world.client, cw, record.case, b, ["identity"], expires_on=dt.date.today().isoformat()
    )
    assert today.status_code == 201, today.text
    assert today.json()["expires_on"] == dt.date.today().isoformat()
    # By name too.
    named = world.client.post(
        f"{API}/cases/{record.case}/referrals",
        json={"to_organisation": b.name, "purpose": "Resettlement.", "sections": ["history"]},
        headers=cw,
    )
    assert named.status_code == 201 and named.json()["to_organisation"] == str(b.id)


def test_without_consent_to_share_the_referral_is_refused(world: World) -> None:
    cw = world.a.headers["caseworker"]
    for consent in (None, False):
        record = make_record(world.a.team, cw, consent=consent)
        response = refer(world.client, cw, record.case, world.b.organisation, ["identity"])
        assert response.status_code == 409
        assert record.name not in response.text and record.person not in response.text
        with db(world.app) as session:
            assert (
                session.scalar(select(Referral.id).where(Referral.case_id == as_uuid(record.case)))
                is None
            )


def test_who_may_refer(world: World) -> None:
    record = make_record(world.a.team, world.a.headers["caseworker"])
    b = world.b.organisation
    assert (
        refer(world.client, world.a.headers["lawyer"], record.case, b, ["identity"]).status_code
        == 403
    )
    # Not the case's caseworker: the case is not even visible.
    other = refer(world.client, world.a.headers["caseworker_other"], record.case, b, ["identity"])
    assert other.status_code == 404
    for org in (world.b, world.c):
        assert (
            refer(world.client, org.headers["supervisor"], record.case, b, ["identity"]).status_code
            == 404
        )
    assert (
        refer(world.client, world.a.headers["supervisor"], record.case, b, ["identity"]).status_code
        == 201
    )


def test_decline_and_tampering(world: World) -> None:
    client, a, b, c = world.client, world.a, world.b, world.c
    record = make_record(a.team, a.headers["caseworker"])
    first = refer(client, a.headers["caseworker"], record.case, b.organisation, ALL_SECTIONS).json()
    # Pending: nothing visible yet, and only the receiving supervisor decides.
    assert set(_reads(world, b.headers["supervisor"], record).values()) == {404}
    assert step(client, a.headers["supervisor"], first["id"], "accept").status_code == 403
    assert step(client, b.headers["lawyer"], first["id"], "accept").status_code == 403
    assert step(client, c.headers["supervisor"], first["id"], "accept").status_code == 404
    assert _get(world, c.headers["supervisor"], f"/referrals/{first['id']}").status_code == 404
    declined = step(client, b.headers["supervisor"], first["id"], "decline")
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert step(client, b.headers["supervisor"], first["id"], "accept").status_code == 409
    assert set(_reads(world, b.headers["supervisor"], record).values()) == {404}
    # Assigning staff needs an active referral.
    assert b.team.assign(b.headers["supervisor"], record.case, b.users["lawyer"]).status_code == 404

    second = refer(
        client, a.headers["caseworker"], record.case, b.organisation, ["identity"]
    ).json()
    assert step(client, b.headers["supervisor"], second["id"], "accept").status_code == 200
    assert step(client, b.headers["supervisor"], second["id"], "accept").status_code == 409
    assert step(client, b.headers["supervisor"], second["id"], "revoke").status_code == 403
    assert step(client, c.headers["supervisor"], second["id"], "revoke").status_code == 404
    # The receiving supervisor assigns its own staff only.
    theirs = b.team.assign(b.headers["supervisor"], record.case, a.users["lawyer"])
    assert theirs.status_code == 422
    # A third organisation never sees the case.
    assert set(_reads(world, c.headers["supervisor"], record).values()) == {404}
    assert not any(_listed(world, c.headers["supervisor"], record).values())
    assert step(client, a.headers["caseworker"], second["id"], "revoke").status_code == 200
    assert step(client, a.headers["caseworker"], second["id"], "revoke").status_code == 409


def test_lists_of_referrals(world: World) -> None:
    record, referral = _referred(world, ["identity"], lawyer=False)
    incoming = _get(world, world.b.headers["supervisor"], "/referrals", direction="incoming")
    assert referral in {r["id"] for r in incoming.json()}
    outgoing = _get(world, world.a.headers["caseworker"], "/referrals", direction="outgoing")
    assert referral in {r["id"] for r in outgoing.json()}
    accepted = _get(world, world.b.headers["supervisor"], "/referrals", status="accepted")
    assert referral in {r["id"] for r in accepted.json()}
    pending = _get(world, world.b.headers["supervisor"], "/referrals", status="pending")
    assert referral not in {r["id"] for r in pending.json()}
    for who in (world.a.headers["caseworker_other"], world.c.headers["supervisor"]):
        for direction in ("incoming", "outgoing"):
            listed = _get(world, who, "/referrals", direction=direction).json()
            assert referral not in {r["id"] for r in listed}
    mine = _get(world, world.a.headers["caseworker"], f"/cases/{record.case}/referrals").json()
    assert [r["id"] for r in mine] == [referral]
    assert mine[0]["purpose"] == "Legal representation before the court."
    assert mine[0]["sections"] == ["identity"]


def test_withdrawn_consent_ends_referrals(world: World) -> None:
    record, referral = _referred(world, ALL_SECTIONS)
    assert _reads(world, world.b.headers["lawyer"], record)["person"] == 200
    give(world.client, world.a.headers["caseworker"], record.person, share=False, method="written")
    assert set(_reads(world, world.b.headers["lawyer"], record).values()) == {404}
    seen = _get(world, world.a.headers["caseworker"], f"/referrals/{referral}").json()
    assert seen["status"] == "revoked"


def test_alerts_and_webhooks_are_thin(world: World) -> None:
    client, a, b = world.client, world.a, world.b
    hook = client.post(
        f"{API}/webhooks",
        json={"url": "https://hooks.example.org/haven", "events": ["*"]},
        headers=b.headers["admin"],
    )
    assert hook.status_code == 201, hook.text
    record, referral = _referred(world, ALL_SECTIONS)
    # The receiving supervisor: the referral alert, with no person, and none of a's alerts
    # (the detention raised a custody alert in a).
    alerts = _get(world, b.headers["supervisor"], "/alerts").json()["items"]
    mine = [x for x in alerts if x["case_id"] == record.case]
    assert {x["rule"] for x in mine} == {"referral_received"}
    assert all(x["individual_id"] is None for x in mine)
    assert not [x for x in alerts if x["individual_id"] == record.person]
    lawyer_alerts = _get(world, b.headers["lawyer"], "/alerts").json()["items"]
    assert not [x for x in lawyer_alerts if x["case_id"] == record.case]
    # The sending side learns of the acceptance.
    a_alerts = _get(world, a.headers["caseworker"], "/alerts").json()["items"]
    assert [x for x in a_alerts if x["rule"] == "referral_accepted" and x["case_id"] == record.case]
    with db(world.app) as session:
        alert_ids = list(
            session.scalars(
                select(Alert.id).where(
                    Alert.case_id == as_uuid(record.case),
                    Alert.organisation_id == b.organisation.id,
                )
            )
        )
        payloads = list(
            session.scalars(
                select(OutboxMessage.payload).where(
                    OutboxMessage.alert_id.in_(alert_ids),
                    OutboxMessage.target_id == as_uuid(hook.json()["id"]),
                )
            )
        )
    assert payloads
    for payload in payloads:
        data = json.loads(payload)["data"]
        assert data["rule"] == "referral_received" and data["individual_id"] is None
        assert record.name not in payload and record.person not in payload
        assert record.number not in payload
    revoked = step(client, a.headers["caseworker"], referral, "revoke")
    assert revoked.status_code == 200
    alerts = _get(world, b.headers["supervisor"], "/alerts").json()["items"]
    assert [x for x in alerts if x["rule"] == "referral_revoked" and x["case_id"] == record.case]


def test_every_step_is_audited_and_on_the_timeline(world: World) -> None:
    from app.models.audit import AuditEntry

    record, referral = _referred(world, ["history"])
    assert step(world.client, world.a.headers["supervisor"], referral, "revoke").status_code == 200
    entries = _get(world, world.a.headers["caseworker"], f"/cases/{record.case}/history").json()
    kinds = [e["kind"] for e in entries["entries"] if e["kind"].startswith("referral.")]
    assert kinds == ["referral.created", "referral.accepted", "referral.revoked"]
    for entry in entries["entries"]:
        if entry["kind"].startswith("referral."):
            assert record.name not in entry["summary"]
    with db(world.app) as session:
        actions = set(
            session.scalars(
                select(AuditEntry.action).where(AuditEntry.subject_id == as_uuid(record.case))
            )
        )
    assert {"referral.created", "referral.accepted", "referral.revoked"} <= actions
