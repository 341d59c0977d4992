"""Helpers for the identity tests: tokens, audit entries, TOTP codes, raw rows."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.audit import AuditEntry
from tests.factories import db

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


def token_of(headers: dict[str, str]) -> str:
    scheme, _, token = headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


def sha256(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def request_id() -> str:
    return f"test-{uuid.uuid4().hex}"


def audit_entries(app: FastAPI, rid: str) -> list[AuditEntry]:
    """The audit entries written for the request sent with ``X-Request-ID: rid``."""
    with db(app) as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.request_id == rid).order_by(AuditEntry.seq)
            )
        )


def attempt(
    client: TestClient, username: str, password: str, rid: str | None = None, **extra: Any
) -> Any:
    headers = {"X-Request-ID": rid} if rid else None
    return client.post(
        LOGIN, json={"username": username, "password": password, **extra}, headers=headers
    )


def wrong_code(secret: str) -> str:
    """A six-digit code accepted at no step within a minute of now."""
    totp, now = pyotp.TOTP(secret), time.time()
    near = {totp.at(now + d) for d in range(-90, 91, 15)}
    return next(c for c in (f"{i:06d}" for i in range(1_000_000)) if c not in near)


def next_code(secret: str) -> str:
    """The code of the next time step: fresh after one accepted now, and within the window."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def raw_row(session: Session, table: str, key: str, value: Any) -> dict[str, Any]:
    """Every column of one row, read with no ORM mapping in between."""
    from app.models import Base

    t = Base.metadata.tables[table]
    row = session.execute(select(t).where(t.c[key] == value)).mappings().one()
    return dict(row)


def mentions(row: dict[str, Any], secret: str) -> bool:
    """Whether any column of ``row`` holds ``secret``, as text or as bytes."""
    needle = secret.encode()
    for value in row.values():
        if isinstance(value, bytes | bytearray | memoryview):
            if needle in bytes(value):
                return True
        elif value is not None and secret in str(value):
            return True
    return False
