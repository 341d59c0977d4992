"""A partner reading referred incidents and documents sees the sending side's staff as their
organisation: never the username who recorded an incident, never the id of who changed a
document's status."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import API
from tests.referrals.support import build_org, make_record, refer, step


def test_partner_sees_the_other_side_as_its_organisation(app: FastAPI, client: TestClient) -> None:
    a = build_org(app, client, ("supervisor", "caseworker"))
    b = build_org(app, client, ("supervisor",))
    cw = a.headers["caseworker"]
    record = make_record(a.team, cw)
    changed = client.patch(
        f"{API}/documents/{record.document}",
        json={"status": "revoked", "status_date": "2026-11-30"},
        headers=cw,
    )
    assert changed.status_code == 200, changed.text
    referral = refer(client, cw, record.case, b.organisation, ["documents", "incidents"])
    assert referral.status_code == 201, referral.text
    accepted = step(client, b.headers["supervisor"], referral.json()["id"], "accept")
    assert accepted.status_code == 200, accepted.text
    username = a.users["caseworker"].username
    sender = a.organisation.name

    own = client.get(f"{API}/incidents/{record.incident}", headers=cw).json()
    assert own["created_by"] == username  # the own side still sees who
    incident = client.get(f"{API}/incidents/{record.incident}", headers=b.headers["supervisor"])
    assert incident.status_code == 200, incident.text
    assert incident.json()["created_by"] == sender
    listed = client.get(
        f"{API}/incidents", params={"individual_id": record.person}, headers=b.headers["supervisor"]
    )
    assert listed.status_code == 200, listed.text
    assert {i["created_by"] for i in listed.json()["items"]} == {sender}

    document = client.get(f"{API}/documents/{record.document}", headers=b.headers["supervisor"])
    assert document.status_code == 200, document.text
    history = document.json()["status_history"]
    assert [c["status"] for c in history] == ["valid", "revoked"]
    assert all(c["changed_by"] is None for c in history)
    own_document = client.get(f"{API}/documents/{record.document}", headers=cw).json()
    assert {c["changed_by"] for c in own_document["status_history"]} == {
        str(a.users["caseworker"].id)
    }
    for body in (incident.text, listed.text, document.text):
        assert username not in body and str(a.users["caseworker"].id) not in body
