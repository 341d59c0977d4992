"""`haven serve` killed with SIGKILL in the middle of a bulk revocation: the list is applied in
one transaction, so after a restart all of it or none of it is visible, and applying it again
completes it."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from app.db import transaction
from app.models.alert import Alert
from app.models.audit import AuditEntry
from app.models.document import DocumentStatusChange, TravelDocument
from app.models.history import HistoryEntry
from tests.factories import make_organisation, make_user
from tests.faults.support import (
    API,
    TIMEOUT,
    add_synthetic_people,
    assert_audit_chain_verifies,
    read_everyone,
    serving,
)

pytestmark = pytest.mark.slow  # real processes, killed

PEOPLE = 600
LIST = {"issuing_country": "KHM", "effective_date": "2024-03-01", "source": "Decree 114"}


def _empty_the_write_ahead_log(app: FastAPI) -> None:
    """SQLite: checkpoint and truncate the WAL, so any frame in it later is a new write."""
    if app.state.engine.dialect.name != "sqlite":
        return
    raw = sqlite3.connect(app.state.settings.sqlite_path, timeout=TIMEOUT, isolation_level=None)
    try:
        busy, _, _ = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
    finally:
        raw.close()
    assert _wal(app).stat().st_size == 0


def _wal(app: FastAPI) -> Path:
    return Path(f"{app.state.settings.sqlite_path}-wal")


def _revocation_under_way(app: FastAPI) -> bool:
    """True once the server's transaction has begun writing the revocation, before it commits.

    PostgreSQL: another backend holds the lock that ``SELECT … FOR UPDATE`` or ``UPDATE``
    takes on travel_document, which the revocation does once it has matched the list, as it
    changes the documents. SQLite: the server's request holds the database's write lock
    (the alert engine, the only other writer, is not running) and pages of its transaction have
    spilled into the emptied write-ahead log, where no reader sees them until the commit.
    """
    engine = app.state.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return bool(
                conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE relation = 'travel_document'::regclass"
                        " AND mode IN ('RowShareLock', 'RowExclusiveLock') AND granted"
                        " AND pid <> pg_backend_pid()"
                    )
                )
            )
    if _wal(app).stat().st_size == 0:
        return False
    raw = sqlite3.connect(app.state.settings.sqlite_path, timeout=0, isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("ROLLBACK")
        return False  # the WAL holds a committed transaction: too late
    except sqlite3.OperationalError:
        return True
    finally:
        raw.close()


def _wait_for_backends_to_end(app: FastAPI) -> None:
    """PostgreSQL rolls a killed client's transaction back once it notices the client is gone."""
    engine = app.state.engine
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + TIMEOUT
    with engine.connect() as conn:
        while conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        ):
            assert time.monotonic() < deadline, "the killed server's transaction never ended"
            time.sleep(0.05)


def _state(app: FastAPI) -> dict[str, int]:
    """What the revocation has left in every table it writes to."""
    with transaction(app.state.sessionmaker) as session:
        revoked = set(
            session.scalars(select(TravelDocument.id).where(TravelDocument.status == "revoked"))
        )

        def count(model: Any, *where: Any) -> int:
            return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

        return {
            "revoked": len(revoked),
            "status changes": count(DocumentStatusChange, DocumentStatusChange.status == "revoked"),
            "history": count(HistoryEntry, HistoryEntry.kind == "document.revoked"),
            "history of unrevoked": count(
                HistoryEntry,
                HistoryEntry.kind == "document.revoked",
                HistoryEntry.subject_id.not_in(revoked),
            ),
            "alerts": count(Alert, Alert.rule == "passport_revoked"),
            "alerts of unrevoked": count(
                Alert, Alert.rule == "passport_revoked", Alert.subject_id.not_in(revoked)
            ),
            "audit": count(AuditEntry, AuditEntry.action == "document.revoke"),
            "lists applied": count(AuditEntry, AuditEntry.action == "document.revocations.apply"),
        }


def _all_or_nothing(state: dict[str, int]) -> int:
    revoked = state["revoked"]
    assert revoked in (0, PEOPLE), state
    assert state["history of unrevoked"] == 0 and state["alerts of unrevoked"] == 0, state
    for name in ("status changes", "history", "alerts", "audit"):
        assert state[name] == revoked, state
    return revoked


def test_a_revocation_killed_mid_flight_is_all_or_nothing_and_completes_when_applied_again(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    settings = app.state.settings
    supervisor = make_user(app, "supervisor", organisation=make_organisation(app))
    numbers = add_synthetic_people(app, supervisor, PEOPLE)
    body = {**LIST, "numbers": numbers}

    with serving(settings, tmp_path) as server, server.client(supervisor) as client:
        names = read_everyone(client)
        assert len(names) == PEOPLE
        answer: list[Any] = []
        _empty_the_write_ahead_log(app)

        def apply() -> None:
            try:
                answer.append(client.post(f"{API}/documents/revocations", json=body))
            except httpx.HTTPError as exc:
                answer.append(exc)

        thread = threading.Thread(target=apply, daemon=True)
        thread.start()
        deadline = time.monotonic() + TIMEOUT
        while not _revocation_under_way(app):
            assert not answer, f"the revocation finished before it was caught: {answer}"
            assert time.monotonic() < deadline, "the revocation never started"
            time.sleep(0.005)
        server.kill()
        thread.join(TIMEOUT)
        assert len(answer) == 1 and isinstance(answer[0], httpx.HTTPError), answer

    _wait_for_backends_to_end(app)
    after_kill = _state(app)
    left = _all_or_nothing(after_kill)
    assert after_kill["lists applied"] == (1 if left else 0), after_kill

    with serving(settings, tmp_path) as server, server.client(supervisor) as client:
        assert read_everyone(client) == names  # every person still decrypts
        assert_audit_chain_verifies(settings, tmp_path)
        response = client.post(f"{API}/documents/revocations", json=body)
        assert response.status_code == 200, response.text
        result = response.json()
        assert (result["matched"], result["newly_revoked"]) == (PEOPLE, PEOPLE - left)
        assert result["unmatched"] == []

    state = _state(app)
    assert state["revoked"] == PEOPLE
    assert _all_or_nothing(state) == PEOPLE
    assert_audit_chain_verifies(settings, tmp_path)
    print(f"\nkilled mid-flight: {left} of {PEOPLE} documents visible as revoked after restart")
