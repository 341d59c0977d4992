"""Writing the audit chain (app.audit.service, app.db.transaction), on a database of its own."""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app import organisations
from app.audit import chain
from app.audit import service as audit
from app.db import transaction
from app.models.audit import AuditEntry
from app.models.organisation import Organisation
from tests.factories import login, make_user, unique

from .support import entries, head


class Boom(Exception):
    pass


def assert_intact(app: FastAPI) -> list[dict]:
    rows = entries(app)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    result = chain.verify(rows)
    assert result.ok, result
    assert head(app) == (len(rows), rows[-1]["entry_hash"] if rows else chain.GENESIS)
    return rows


def organisation_exists(app: FastAPI, name: str) -> bool:
    with transaction(app.state.sessionmaker) as session:
        return session.scalar(select(Organisation.id).where(Organisation.name == name)) is not None


# Same transaction as the change ----------------------------------------------------------------
def test_a_committed_change_and_its_entry_are_written_together(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    assert entries(app) == []
    name = unique("org")
    with transaction(app.state.sessionmaker) as session:
        org, created = organisations.resolve(session, name, create=True)
        assert created
        audit.record(
            session,
            actor=None,
            action="organisation.create",
            subject_type="organisation",
            subject_id=org.id,
            details={"test": 1},
        )
        # Queued, not yet written: the head row is locked only at commit.
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
    assert organisation_exists(app, name)
    (row,) = assert_intact(app)
    assert row["action"] == "organisation.create"
    assert row["subject_id"] == org.id
    assert json.loads(row["details"]) == {"test": 1}
    assert row["prev_hash"] == chain.GENESIS


def test_an_exception_in_the_transaction_leaves_neither_change_nor_entry(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    name = unique("org")
    with pytest.raises(Boom), transaction(app.state.sessionmaker) as session:
        organisations.resolve(session, name, create=True)
        audit.record(session, actor=None, action="organisation.create")
        audit.record(session, actor=None, action="case.update")
        session.flush()
        raise Boom
    assert not organisation_exists(app, name)
    assert entries(app) == []
    assert head(app) == (0, chain.GENESIS)
    # The next entry is number 1: nothing was consumed by the failed transaction.
    with transaction(app.state.sessionmaker) as session:
        audit.record(session, actor=None, action="after")
    (row,) = assert_intact(app)
    assert row["action"] == "after"


def test_durable_entries_are_written_after_the_rollback(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    name = unique("org")
    with pytest.raises(Boom), transaction(app.state.sessionmaker) as session:
        organisations.resolve(session, name, create=True)
        audit.record(session, actor=None, action="individual.update")
        audit.record(
            session, actor=None, action="permission.denied", outcome="denied", durable=True
        )
        audit.record(session, actor=None, action="individual.read")
        raise Boom
    assert not organisation_exists(app, name)
    rows = assert_intact(app)
    assert [(r["action"], r["outcome"]) for r in rows] == [("permission.denied", "denied")]


def test_a_failing_audit_insert_rolls_the_change_back(
    fresh_database: Callable[..., FastAPI],
) -> None:
    """The entry is part of the commit: if it cannot be written, neither is the change."""
    app = fresh_database()
    name = unique("org")
    with pytest.raises(IntegrityError), transaction(app.state.sessionmaker) as session:
        organisations.resolve(session, name, create=True)
        audit.record(session, actor=None, action="organisation.create", outcome=None)  # type: ignore[arg-type]
    assert not organisation_exists(app, name)
    assert entries(app) == []
    assert head(app) == (0, chain.GENESIS)


def test_entries_of_one_transaction_are_chained_in_the_order_recorded(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    with transaction(app.state.sessionmaker) as session:
        for i in range(5):
            audit.record(session, actor=None, action=f"step.{i}")
    with transaction(app.state.sessionmaker) as session:
        audit.record(session, actor=None, action="step.5")
    rows = assert_intact(app)
    assert [r["action"] for r in rows] == [f"step.{i}" for i in range(6)]
    for earlier, later in itertools.pairwise(rows):
        assert later["prev_hash"] == earlier["entry_hash"]


# Through the API -------------------------------------------------------------------------------
def test_seq_is_gapless_and_the_chain_verifies_after_many_requests(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    auditor = make_user(app, "auditor")
    # Failed sign-ins of unknown names belong to no organisation: reading every entry through
    # the API takes the deployment-wide grant (issue 13, item 5).
    with transaction(app.state.sessionmaker) as session:
        audit.grant_deployment_audit(session, auditor.id)
    caseworker = make_user(app, "caseworker")
    with TestClient(app) as client:
        headers = login(client, auditor)
        other = login(client, caseworker)
        for i in range(12):
            assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
            assert client.get("/api/v1/audit", headers=other).status_code == 403
            assert (
                client.post(
                    "/api/v1/auth/login",
                    json={"username": unique("nobody"), "password": f"wrong password {i}"},
                ).status_code
                == 401
            )
            assert client.get("/api/v1/audit?limit=5", headers=headers).status_code == 200
        assert client.get("/api/v1/audit", headers={"Authorization": "Bearer x"}).status_code == 401

        rows = assert_intact(app)
        actions = [r["action"] for r in rows]
        assert actions.count("auth.login") == 2
        assert actions.count("permission.denied") == 12
        assert actions.count("auth.login_failed") == 12
        assert actions.count("audit.read") == 12

        verified = client.get("/api/v1/audit/verify", headers=headers)
        assert verified.status_code == 200
        body = verified.json()
        assert body["ok"] is True
        assert body["entries"] == len(rows)
        assert body["head"] == rows[-1]["entry_hash"].hex()
        assert "first_bad" not in body or body["first_bad"] is None

        # Every entry, page by page through the API: 1..N without a gap, hashes as stored.
        seen, cursor = [], None
        for _ in range(100):
            params = {"limit": 7} | ({"cursor": cursor} if cursor is not None else {})
            page = client.get("/api/v1/audit", params=params, headers=headers).json()
            seen.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert cursor is None
    stored = assert_intact(app)
    assert [item["seq"] for item in seen] == list(range(1, len(seen) + 1))
    assert len(seen) >= len(rows) + 1  # the verify call was audited as well
    assert [item["entry_hash"] for item in seen] == [
        r["entry_hash"].hex() for r in stored[: len(seen)]
    ]


# Concurrency -----------------------------------------------------------------------------------
THREADS, PER_THREAD = 4, 25


def test_concurrent_writers_keep_seq_gapless(fresh_database: Callable[..., FastAPI]) -> None:
    app = fresh_database()
    with transaction(app.state.sessionmaker) as session:
        audit.record(session, actor=None, action="before")
    before = len(assert_intact(app))
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    marker = uuid.uuid4().hex

    def writer(number: int) -> None:
        try:
            start.wait()
            for i in range(PER_THREAD):
                with transaction(app.state.sessionmaker) as session:
                    audit.record(
                        session,
                        actor=None,
                        action="test.concurrent",
                        details={"marker": marker, "thread": number, "i": i},
                    )
                    # A change in the same transaction, so the writers overlap for a while.
                    organisations.resolve(session, unique(f"org-{number}"), create=True)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads)
    assert errors == []

    rows = assert_intact(app)
    assert len(rows) == before + THREADS * PER_THREAD
    written = [json.loads(r["details"]) for r in rows if r["action"] == "test.concurrent"]
    assert sorted((d["thread"], d["i"]) for d in written) == [
        (n, i) for n in range(THREADS) for i in range(PER_THREAD)
    ]
    assert {d["marker"] for d in written} == {marker}
    for n in range(THREADS):  # each thread's entries in its own order
        assert [d["i"] for d in written if d["thread"] == n] == list(range(PER_THREAD))

    from app.audit.verify import verify_all

    with transaction(app.state.sessionmaker) as session:
        result = verify_all(session, app.state.crypto.provider, app.state.settings.data_dir)
    assert result.ok
    assert result.entries == before + THREADS * PER_THREAD
