"""The data directory's signed head is written by a thread of its own, newest first
(app.audit.checkpoints.HeadWriter): commits never wait for it, and it never goes back."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit import checkpoints
from app.models.audit import AuditEntry
from tests.conftest import fresh_address
from tests.factories import Team


def _head(number: int) -> bytes:
    return hashlib.sha256(str(number).encode()).digest()


def test_heads_offered_while_one_is_written_leave_the_newest_signed(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    provider = app.state.crypto.provider
    writer = checkpoints.HeadWriter()
    folder = tmp_path / "data"
    threads = [
        threading.Thread(
            target=lambda first=first: [
                writer.offer(provider, folder, n, _head(n)) for n in range(first, 400, 4)
            ]
        )
        for first in range(1, 5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.offer(provider, folder, 7, _head(7))  # an older head offered late is not written
    assert writer.flush()
    [written] = checkpoints.local_head(folder)
    assert (written.size, written.head) == (399, _head(399))
    assert checkpoints.signature_ok(written, provider.audit_signing_key().public_key())
    assert not list(folder.glob(".audit-head*"))  # no temporary file left behind


def test_the_head_file_names_the_newest_answered_read(app: FastAPI, team: Team) -> None:
    supervisor = team.member("supervisor")
    person = team.person(supervisor)
    with TestClient(app, client=(fresh_address(), 50000)) as client:
        for _ in range(3):
            read = client.get(f"/api/v1/individuals/{person}", headers=supervisor.headers)
            assert read.status_code == 200
    with app.state.sessionmaker() as session:
        size = session.execute(
            select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)
        ).scalar_one()
    [written] = checkpoints.local_head(app.state.settings.data_dir)  # waits for the writer
    assert written.size >= size  # other tests share the database and may have written since
