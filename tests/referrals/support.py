"""Two organisations (and a third), a person of the first with every kind of record, and the
referral steps through the real API."""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.models.organisation import Organisation
from tests.consent.support import give
from tests.factories import API, Team, UserHandle, unique

ALL_SECTIONS = ["identity", "documents", "unhcr_status", "incidents", "history"]


@dataclass
class Org:
    """A team and its members by name ("caseworker", "caseworker_other" …)."""

    team: Team
    users: dict[str, UserHandle] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def organisation(self) -> Organisation:
        return self.team.organisation


def build_org(app: FastAPI, client: TestClient, roles: tuple[str, ...]) -> Org:
    org = Org(Team(app, client))
    for name in roles:
        member = org.team.member(name.split("_")[0])
        org.users[name], org.headers[name] = member.user, member.headers
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


def make_record(team: Team, cw: dict[str, str], *, consent: bool | None = True) -> Record:
    """Made by ``cw``, a caseworker of ``team``."""
    name = unique("Sokha Referred")
    number = unique("RF").upper().replace("-", "")
    contact = unique("+855 contact")
    location = unique("Safe house street")
    person_note = unique("Person note")
    unhcr_reference = unique("UNHCR").upper().replace("-", "")[:20]
    incident_text = unique("Followed from the market")
    note = unique("Case note text")
    pid = team.register(
        cw,
        full_name=name,
        date_of_birth="1990-04-02",
        sex="female",
        nationalities=["KHM"],
        current_country="THA",
        current_location=location,
        contact=contact,
        notes=person_note,
    )["id"]
    case = team.case(cw, pid, title=unique("Appeal"))
    document = team.document(cw, pid, number=number)
    team.unhcr_status(cw, pid, unhcr_reference=unhcr_reference)
    incident = team.incident(
        cw,
        pid,
        occurred_on=dt.date.today().isoformat(),
        description=incident_text,
        source={"name": "monitor", "reliability": "B", "credibility": 2},
    )
    team.note(cw, case["id"], note)
    if consent is not None:
        give(team.client, cw, pid, share=consent, method="written")
    return Record(
        person=pid,
        case=case["id"],
        name=name,
        number=number,
        contact=contact,
        location=location,
        person_note=person_note,
        unhcr_reference=unhcr_reference,
        incident=incident["id"],
        incident_text=incident_text,
        document=document["id"],
        note=note,
    )


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
