"""Helpers for the case and incident tests: a team in an organisation of its own, people,
cases and incidents made through the API, and direct database access for what is stored."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import transaction
from app.models.audit import AuditEntry
from app.models.organisation import Organisation
from tests.factories import UserHandle, login, make_organisation, make_user

API = "/api/v1"


@contextmanager
def db(app: FastAPI) -> Iterator[Session]:
    """A committed transaction on the app's database, as the app itself opens them."""
    with transaction(app.state.sessionmaker) as session:
        yield session


@dataclass
class Member:
    user: UserHandle
    headers: dict[str, str]

    @property
    def id(self) -> uuid.UUID:
        return self.user.id


class Team:
    """Users of one fresh organisation, signed in on demand."""

    def __init__(self, app: FastAPI, client: TestClient) -> None:
        self.app, self.client = app, client
        self.organisation: Organisation = make_organisation(app)

    def member(self, role: str) -> Member:
        user = make_user(self.app, role, organisation=self.organisation)
        return Member(user, login(self.client, user))


def register(client: TestClient, who: Member, **fields: Any) -> uuid.UUID:
    body = {"full_name": f"Person {uuid.uuid4().hex[:8]}", "nationalities": ["KHM"], **fields}
    response = client.post(f"{API}/individuals", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


def open_case(client: TestClient, who: Member, person: uuid.UUID, **fields: Any) -> dict[str, Any]:
    body = {"individual_id": str(person), **fields}
    response = client.post(f"{API}/cases", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


def incident_body(*people: uuid.UUID, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "detention",
        "occurred_on": (dt.date.today() - dt.timedelta(days=3)).isoformat(),
        "country": "THA",
        "location": "Immigration detention centre, Suan Phlu",
        "description": "Held by immigration police after a raid on the flat.",
        "perpetrator": "Immigration police",
        "individual_ids": [str(p) for p in people],
        "source": {"name": "Family member", "reliability": "B", "credibility": 2},
    }
    body.update(fields)
    return body


def report(client: TestClient, who: Member, *people: uuid.UUID, **fields: Any) -> dict[str, Any]:
    response = client.post(
        f"{API}/incidents", json=incident_body(*people, **fields), headers=who.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def assign(client: TestClient, who: Member, case_id: str, user: Member, role: str) -> Any:
    return client.post(
        f"{API}/cases/{case_id}/assignments",
        json={"user_id": str(user.id), "role": role},
        headers=who.headers,
    )


def audit_actions(app: FastAPI, subject_id: uuid.UUID | str) -> list[AuditEntry]:
    with db(app) as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject_id == uuid.UUID(str(subject_id)))
                .order_by(AuditEntry.seq)
            )
        )
