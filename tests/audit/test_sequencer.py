"""Read requests: read-only transactions whose audit entries the sequencer commits in batches."""

from __future__ import annotations

import threading
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from app.actor import Actor
from app.audit import service as audit
from app.db import begin_read, end_read, sequencer_of, transaction
from app.models.audit import AuditEntry
from app.models.organisation import Organisation
from tests.factories import login, make_organisation, make_user


def _count(app: FastAPI, action: str) -> int:
    with transaction(app.state.sessionmaker) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
            )
            or 0
        )


def test_a_read_request_cannot_write(app: FastAPI) -> None:
    """A write slipped into a read request fails at once (SQLite query_only, PostgreSQL
    BEGIN READ ONLY) rather than queueing for the write lock or committing unaudited."""
    session = begin_read(app.state.sessionmaker)
    try:
        session.add(Organisation(id=uuid.uuid4(), name=f"Written in a read {uuid.uuid4()}"))
        with pytest.raises(DBAPIError):
            session.flush()
    finally:
        session.rollback()
        session.close()


def test_entries_of_concurrent_reads_are_committed_together_and_chained(app: FastAPI) -> None:
    actor = Actor(uuid.uuid4(), "reader", "supervisor", uuid.uuid4())
    sequencer = sequencer_of(app.state.sessionmaker)
    batches_before = sequencer.batches
    start = threading.Barrier(16)

    def read() -> None:
        session = begin_read(app.state.sessionmaker)
        audit.record(session, actor=actor, action="test.sequenced_read")
        start.wait()
        end_read(session, lambda _: None).result()

    threads = [threading.Thread(target=read) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _count(app, "test.sequenced_read") == 16  # each committed before its read answered
    assert sequencer.batches - batches_before < 16  # ...and several in one transaction
    with transaction(app.state.sessionmaker) as session:
        verified = audit.verify_trail(
            session, actor, app.state.crypto.provider, app.state.settings.data_dir
        )
    assert verified.ok


def test_a_read_answers_only_once_its_entry_is_committed(app: FastAPI) -> None:
    supervisor = make_user(app, "supervisor", organisation=make_organisation(app))
    with TestClient(app) as client:
        headers = login(client, supervisor)
        created = client.post(
            "/api/v1/individuals", json={"full_name": "Sequenced Read"}, headers=headers
        )
        assert created.status_code == 201, created.text
        before = _count(app, "individual.read")
        response = client.get(f"/api/v1/individuals/{created.json()['id']}", headers=headers)
        assert response.status_code == 200
        # No wait, no retry: the entry is there when the answer is.
        assert _count(app, "individual.read") == before + 1
