"""Small factories with sensible defaults; API tests still sign in through /auth/login."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import organisations
from app.auth.users import create_user
from app.db import transaction
from app.models.organisation import Organisation

PASSWORD = "a long enough test passphrase"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class UserHandle:
    id: uuid.UUID
    username: str
    role: str
    organisation_id: uuid.UUID
    password: str = PASSWORD


def make_organisation(app: FastAPI, name: str | None = None) -> Organisation:
    with transaction(app.state.sessionmaker) as session:
        org, _ = organisations.resolve(session, name or unique("org"), create=True)
        return org


def make_user(
    app: FastAPI,
    role: str,
    *,
    organisation: Organisation | None = None,
    username: str | None = None,
    password: str = PASSWORD,
    **fields: str,
) -> UserHandle:
    with transaction(app.state.sessionmaker) as session:
        org = organisation or organisations.default_organisation(session)
        user = create_user(
            session,
            username=username or unique(role),
            role=role,
            password=password,
            organisation=org,
            **fields,
        )
        return UserHandle(user.id, user.username, user.role, org.id, password)


def login(client: TestClient, user: UserHandle, **extra: str) -> dict[str, str]:
    """Sign in through the real endpoint; returns the Authorization header."""
    response = client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": user.password, **extra}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
