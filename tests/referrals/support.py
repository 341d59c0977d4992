"""Two organisations (and a third), a person of the first with every kind of record, and the
referral steps through the real API."""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.db import transaction
from app.models.organisation import Organisation
from tests.factories import UserHandle, login, make_organisation, make_user, unique

API = "/api/v1"
ALL_SECTIONS = ["identity", "documents", "unhcr_status", "incidents", "history"]


@contextmanager
def db(app: FastAPI) -> Iterator[Session]:
    with transaction(app.state.sessionmaker) as session:
        yield session


@dataclass
class Org:
    organisation: Organisation
    users: dict[str, UserHandle] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


def build_org(app: FastAPI, client: TestClient, roles: tuple[str, ...]) -> Org:
    org = Org(make_organisation(app))
    for name in roles:
        role = name.split("_")[0]
        org.users[name] = make_user(app, role, organisation=org.organisation)
        org.headers[name] = login(client, org.users[name])
    return org


@dataclass
class Record:
    """A person of the sending organisation, with a case and one record of every section."""

    person: str
    case: str
    name: str
    number: str
    contact: str
    location: str
    person_note: str
    unhcr_reference: str
    incident: str
    incident_text: str
    document: str
    note: str
    ids: dict[str, str] = field(default_factory=dict)


def make_record(client: TestClient, cw: dict[str, str], *, consent: bool | None = True) -> Record:
    name = unique("Sokha Referred")
    number = unique("RF").upper().replace("-", "")
    contact = unique("+855 contact")
    location = unique("Safe house street")
    person_note = unique("Person note")
    unhcr_reference = unique("UNHCR").upper().replace("-", "")[:20]
    incident_text = unique("Followed from the market")
    note = unique("Case note text")
    person = client.post(
        f"{API}/individuals",
        json={
            "full_name": name,
            "date_of_birth": "1990-04-02",
            "sex": "female",
            "nationalities": ["KHM"],
            "current_country": "THA",
            "current_location": location,
            "contact": contact,
            "notes": person_note,
        },
        headers=cw,
    )
    assert person.status_code == 201, person.text
    pid = person.json()["id"]
    case = client.post(
        f"{API}/cases", json={"individual_id": pid, "title": unique("Appeal")}, headers=cw
    )
    assert case.status_code == 201, case.text
    document = client.post(
        f"{API}/individuals/{pid}/documents",
        json={"type": "passport", "number": number, "issuing_country": "KHM", "status": "valid"},
        headers=cw,
    )
    assert document.status_code == 201, document.text
    status = client.post(
        f"{API}/individuals/{pid}/unhcr-status",
        json={
            "status": "asylum_seeker",
            "effective_date": dt.date.today().isoformat(),
            "unhcr_reference": unhcr_reference,
        },
        headers=cw,
    )
    assert status.status_code == 201, status.text
    incident = client.post(
        f"{API}/incidents",
        json={
            "type": "detention",
            "occurred_on": dt.date.today().isoformat(),
            "country": "THA",
            "description": incident_text,
            "individual_ids": [pid],
            "source": {"name": "monitor", "reliability": "B", "credibility": 2},
        },
        headers=cw,
    )
    assert incident.status_code == 201, incident.text
    added = client.post(f"{API}/cases/{case.json()['id']}/notes", json={"body": note}, headers=cw)
    assert added.status_code == 201, added.text
    if consent is not None:
        record_consent(client, cw, pid, share=consent)
    return Record(
        person=pid,
        case=case.json()["id"],
        name=name,
        number=number,
        contact=contact,
        location=location,
        person_note=person_note,
        unhcr_reference=unhcr_reference,
        incident=incident.json()["id"],
        incident_text=incident_text,
        document=document.json()["id"],
        note=note,
    )


def record_consent(
    client: TestClient, headers: dict[str, str], person: str, *, share: bool
) -> None:
    response = client.post(
        f"{API}/individuals/{person}/consent",
        json={
            "store": True,
            "share_with_partners": share,
            "method": "written",
            "recorded_on": dt.date.today().isoformat(),
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text


def refer(
    client: TestClient,
    headers: dict[str, str],
    case: str,
    to: Organisation,
    sections: list[str],
    **extra: Any,
) -> Any:
    return client.post(
        f"{API}/cases/{case}/referrals",
        json={
            "to_organisation": str(to.id),
            "purpose": "Legal representation before the court.",
            "sections": sections,
            **extra,
        },
        headers=headers,
    )


def step(client: TestClient, headers: dict[str, str], referral: str, verb: str) -> Any:
    return client.post(f"{API}/referrals/{referral}/{verb}", headers=headers)


def assign(client: TestClient, headers: dict[str, str], case: str, user: UserHandle) -> Any:
    return client.post(
        f"{API}/cases/{case}/assignments",
        json={"user_id": str(user.id), "role": user.role},
        headers=headers,
    )


def pdf_text(body: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.pdf"
        path.write_bytes(body)
        out = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
        )
    return out.stdout


def as_uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)
