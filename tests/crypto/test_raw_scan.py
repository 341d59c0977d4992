"""No sensitive value can be read from the stored bytes, a database dump or the SQL log."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.users import USER_FULL_NAME, create_user
from app.crypto import FieldSlot, Pad, crypto_of
from app.db import transaction
from app.models.organisation import Organisation
from app.models.user import User

ENGINE = os.environ.get("HAVEN_TEST_DATABASE", "sqlite")
PASSWORD = "Tonle Sap floodplain 2024!"
NARRATIVE = FieldSlot("incident", "narrative")
SECRETS = [
    "Chanthy Sokunthea-Testvalue",
    "chanthy.secret@example.org",
    "សុខ ដារ៉ា-Testvalue",
    "Sheltered at the Poipet safehouse-Testvalue",
    "N0987654321-Testvalue",
    PASSWORD,
]


def _forms(value: str) -> list[bytes]:
    """A value as it could sit in a file or a dump: UTF-8, UTF-16 either way, bytea hex."""
    utf8 = value.encode()
    return [
        utf8,
        value.encode("utf-16-le"),
        value.encode("utf-16-be"),
        utf8.hex().encode(),
        value.casefold().encode(),
    ]


def _leaks(haystack: bytes, values: list[str]) -> list[str]:
    return [v for v in values if any(haystack.find(form) >= 0 for form in _forms(v))]


def _write_samples(app: FastAPI) -> tuple[str, list[bytes]]:
    """Users with sealed names and e-mails, and sealed notes; returns a username and the
    ciphertexts as stored."""
    tag = uuid.uuid4().hex[:8]
    username = f"plainlogin-{tag}"
    with transaction(app.state.sessionmaker) as session:
        org = Organisation(name=f"Scan test {tag}")
        session.add(org)
        session.flush()
        create_user(
            session,
            username=username,
            role="caseworker",
            password=PASSWORD,
            organisation=org,
            full_name=SECRETS[0],
            email=SECRETS[1],
        )
        # A second user whose sealed name and e-mail columns hold the other samples.
        other = create_user(
            session,
            username=f"second-{tag}",
            role="caseworker",
            password=PASSWORD,
            organisation=org,
            full_name=SECRETS[2],
            email="x@example.org",
        )
        crypto = crypto_of(session)
        key = crypto.keys.current(session, other.id)
        other.email_ct = crypto.seal(key, NARRATIVE, other.id, SECRETS[3], pad=Pad.TEXT)
        other.full_name_ct = crypto.seal(key, USER_FULL_NAME, other.id, SECRETS[2], pad=Pad.SHORT)
        session.flush()
    with transaction(app.state.sessionmaker) as session:
        stored = session.execute(
            select(User.full_name_ct, User.email_ct).where(User.organisation_id == org.id)
        ).all()
        ciphertexts = [ct for row in stored for ct in row if ct is not None]
        check_readable(session, other.id)
    assert len(ciphertexts) == 4
    return username, ciphertexts


def check_readable(session: Session, user_id: uuid.UUID) -> None:
    user = session.get(User, user_id)
    assert user is not None and user.email_ct is not None
    crypto = crypto_of(session)
    assert (
        crypto.open(session, NARRATIVE, user_id, user_id, user.email_ct, pad=Pad.TEXT)
        == (SECRETS[3])
    )


@pytest.mark.skipif(ENGINE != "sqlite", reason="reads the SQLite database, WAL and shm files")
def test_sqlite_files_hold_no_sensitive_value(fresh_database: Callable[..., FastAPI]) -> None:
    app = fresh_database()
    username, ciphertexts = _write_samples(app)
    path: Path = app.state.settings.sqlite_path
    files = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]
    raw = b"".join(f.read_bytes() for f in files if f.exists())
    assert files[0].exists() and files[1].exists()

    assert _leaks(raw, SECRETS) == []
    # Controls: the same scan finds the plaintext username and the stored ciphertexts.
    assert _leaks(raw, [username]) == [username]
    assert all(raw.find(ct) >= 0 for ct in ciphertexts)


@pytest.mark.skipif(ENGINE != "postgresql", reason="dumps a PostgreSQL database")
def test_database_dump_holds_no_sensitive_value(fresh_database: Callable[..., FastAPI]) -> None:
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed on PATH"
    app = fresh_database()
    username, ciphertexts = _write_samples(app)
    url = app.state.engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    dump = subprocess.run(
        [
            pg_dump,
            "--no-owner",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            url.database,
        ],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert b"COPY public.record_key" in dump

    assert _leaks(dump, SECRETS) == []
    # Controls: the dump shows the plaintext username and every ciphertext (bytea as hex).
    assert _leaks(dump, [username]) == [username]
    assert all(dump.find(ct.hex().encode()) >= 0 for ct in ciphertexts)


def test_sql_log_holds_no_sensitive_value(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    username, _ = _write_samples(app)
    log = "\n".join(record.getMessage() for record in caplog.records).encode()
    assert b"INSERT INTO" in log  # statements and their parameters were logged
    assert _leaks(log, SECRETS) == []
    assert _leaks(log, [username]) == [username]
