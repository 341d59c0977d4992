"""Tampering with the stored audit trail, and `haven audit verify` catching it.

The database refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) on audit_entry by itself.
Past that, the tests play a database administrator who can bypass the triggers and rewrite
rows at will, and run the real verifier in a subprocess, as an operator would.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, delete, insert, text, update
from sqlalchemy.exc import DBAPIError

from app.audit import chain
from app.audit import service as audit
from app.db import transaction
from app.models.audit import AuditCheckpoint, AuditEntry, AuditHead
from app.models.base import utcnow
from tests.factories import login, make_user

from .support import (
    as_dba,
    checkpoint_file,
    dialect,
    entries,
    haven_audit_verify,
    head,
    verify_here,
    write_checkpoint,
)


@dataclass
class Trail:
    app: FastAPI
    headers: dict[str, str]
    size: int


@pytest.fixture
def trail(fresh_database: Callable[..., FastAPI]) -> Trail:
    """A database of its own with a couple of dozen real entries written through the API."""
    app = fresh_database()
    auditor = make_user(app, "auditor")
    analyst = make_user(app, "analyst")
    with TestClient(app) as client:
        headers = login(client, auditor)
        denied = login(client, analyst)
        for _ in range(6):
            assert client.get("/api/v1/audit?limit=2", headers=headers).status_code == 200
            assert client.get("/api/v1/audit", headers=denied).status_code == 403
            assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    rows = entries(app)
    assert len(rows) >= 14
    assert chain.verify(rows).ok
    return Trail(app, headers, len(rows))


def assert_broken_at(app: FastAPI, seq: int, reason: str | None = None) -> str:
    """`haven audit verify`, run for real: exit 1 naming the first bad entry."""
    result = haven_audit_verify(app)
    assert result.code == 1, (result.stdout, result.stderr)
    assert re.search(rf"\bentry {seq}\b", result.stdout), result.stdout
    assert "BROKEN" in result.stdout
    if reason is not None:
        assert reason in result.stdout
    return result.stdout


def assert_broken_here(app: FastAPI, seq: int, reason: str) -> str:
    """The same verifier in-process, for variants beyond the ones the command is run for."""
    result = verify_here(app)
    assert not result.ok
    assert result.first_bad == seq
    assert reason in (result.reason or "")
    return result.summary()


def assert_intact(app: FastAPI, size: int) -> str:
    result = haven_audit_verify(app)
    assert result.code == 0, (result.stdout, result.stderr)
    assert f"intact: {size} entries" in result.stdout
    return result.stdout


def set_head(conn: Connection, seq: int, head_hash: bytes) -> None:
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, head_hash=head_hash))


# The database itself refuses ------------------------------------------------------------------
def test_update_is_refused_by_the_database(trail: Trail) -> None:
    before = entries(trail.app)
    with pytest.raises(DBAPIError, match="append-only"), trail.app.state.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET action = 'forged' WHERE seq = 3"))
    with pytest.raises(DBAPIError, match="append-only"), trail.app.state.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET outcome = 'ok'"))
    assert entries(trail.app) == before


def test_delete_is_refused_by_the_database(trail: Trail) -> None:
    before = entries(trail.app)
    with pytest.raises(DBAPIError, match="append-only"), trail.app.state.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE seq = 3"))
    with pytest.raises(DBAPIError, match="append-only"), trail.app.state.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry"))
    assert entries(trail.app) == before


def test_truncate_is_refused_by_the_database(trail: Trail) -> None:
    if dialect(trail.app) != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (DELETE without WHERE is covered above)")
    before = entries(trail.app)
    with pytest.raises(DBAPIError, match="append-only"), trail.app.state.engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_entry"))
    assert entries(trail.app) == before


def test_the_app_still_appends_and_tampering_leaves_the_triggers_in_place(trail: Trail) -> None:
    with transaction(trail.app.state.sessionmaker) as session:
        audit.record(session, actor=None, action="still.appending")
    assert entries(trail.app)[-1]["action"] == "still.appending"
    with as_dba(trail.app) as conn:
        conn.execute(text("UPDATE audit_entry SET action = 'x' WHERE seq = 1"))
    with pytest.raises(DBAPIError, match="append-only"), trail.app.state.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE seq = 2"))


# The verifier, intact ---------------------------------------------------------------------------
def test_an_intact_chain_verifies_with_exit_0_and_a_summary(trail: Trail) -> None:
    assert write_checkpoint(trail.app)
    out = assert_intact(trail.app, trail.size)
    assert entries(trail.app)[-1]["entry_hash"].hex() in out
    assert "2 checkpoints match" in out  # the stored one and the exported line


def test_an_empty_chain_verifies(fresh_database: Callable[..., FastAPI]) -> None:
    result = verify_here(fresh_database())
    assert result.ok
    assert result.entries == 0
    assert result.summary() == "audit chain: no entries"


# Tampering, detected ----------------------------------------------------------------------------
def test_altering_an_entrys_action_is_detected(trail: Trail) -> None:
    k = 5
    with as_dba(trail.app) as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.seq == k).values(action="case.close"))
    assert entries(trail.app)[k - 1]["action"] == "case.close"
    assert_broken_at(trail.app, k, "contents altered")


@pytest.mark.parametrize("column", ["actor_label", "outcome", "details", "subject_id", "at"])
def test_altering_any_column_of_the_first_entry_is_detected(trail: Trail, column: str) -> None:
    row = entries(trail.app)[0]
    values = {
        "actor_label": "someone-else",
        "outcome": "failed",
        "details": '{"count":999}',
        "subject_id": uuid.uuid4(),
        "at": row["at"] + dt.timedelta(microseconds=1),
    }
    with as_dba(trail.app) as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.seq == 1).values({column: values[column]}))
    assert_broken_here(trail.app, 1, "contents altered")


def test_altering_an_entry_and_rehashing_it_is_detected_at_the_next(trail: Trail) -> None:
    k = 4
    row = entries(trail.app)[k - 1]
    forged = {**row, "action": "case.close"}
    with as_dba(trail.app) as conn:
        conn.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == k)
            .values(action="case.close", entry_hash=chain.entry_hash(row["prev_hash"], forged))
        )
    assert_broken_here(trail.app, k + 1, "wrong previous hash")


def test_deleting_an_entry_from_the_middle_is_detected(trail: Trail) -> None:
    k = 6
    with as_dba(trail.app) as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.seq == k))
    assert len(entries(trail.app)) == trail.size - 1
    assert_broken_at(trail.app, k, "gap")


def test_deleting_the_first_entry_is_detected(trail: Trail) -> None:
    with as_dba(trail.app) as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.seq == 1))
    assert_broken_here(trail.app, 1, "gap")


def test_reordering_entries_is_detected(trail: Trail) -> None:
    a, b = 4, 9
    with as_dba(trail.app) as conn:
        for old, new in ((a, -a), (b, a), (-a, b)):
            conn.execute(update(AuditEntry).where(AuditEntry.seq == old).values(seq=new))
    rows = entries(trail.app)
    assert [r["seq"] for r in rows] == list(range(1, trail.size + 1))
    assert_broken_at(trail.app, a)


def test_inserting_a_forged_entry_is_detected(trail: Trail) -> None:
    """A careful forger: right prev_hash, own hash recomputed, later entries renumbered."""
    k = 7
    rows = entries(trail.app)
    forged = {
        **rows[k - 1],
        "seq": k,
        "at": rows[k - 1]["at"],
        "action": "individual.erase",
        "outcome": "ok",
        "prev_hash": rows[k - 2]["entry_hash"],
    }
    forged["entry_hash"] = chain.entry_hash(forged["prev_hash"], forged)
    with as_dba(trail.app) as conn:
        conn.execute(
            update(AuditEntry).where(AuditEntry.seq >= k).values(seq=-(AuditEntry.seq + 1))
        )
        conn.execute(update(AuditEntry).where(AuditEntry.seq < 0).values(seq=-AuditEntry.seq))
        conn.execute(insert(AuditEntry).values(**forged))
        set_head(conn, trail.size + 1, rows[-1]["entry_hash"])
    assert len(entries(trail.app)) == trail.size + 1
    assert_broken_at(trail.app, k + 1, "wrong previous hash")


def test_appending_a_crude_forgery_is_detected(trail: Trail) -> None:
    rows = entries(trail.app)
    forged = {**rows[-1], "seq": trail.size + 1, "action": "case.close"}
    with as_dba(trail.app) as conn:
        conn.execute(insert(AuditEntry).values(**forged))  # prev_hash and hash copied, not linked
    assert_broken_here(trail.app, trail.size + 1, "wrong previous hash")


# Cutting off the tail, against signed checkpoints ------------------------------------------------
CUT = 3


def cut_tail(app: FastAPI, size: int, cut: int = CUT) -> None:
    """Delete the last entries and rewrite the head row to match, leaving a valid-looking chain."""
    rows = entries(app)
    keep = rows[size - cut - 1]
    with as_dba(app) as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.seq > size - cut))
        set_head(conn, size - cut, keep["entry_hash"])
    assert head(app) == (size - cut, keep["entry_hash"])
    assert chain.verify(entries(app)).ok  # the chain alone cannot tell


def test_cutting_off_the_tail_is_detected_against_a_checkpoint(trail: Trail) -> None:
    assert write_checkpoint(trail.app)
    cut_tail(trail.app, trail.size)
    out = assert_broken_at(trail.app, trail.size - CUT + 1, "missing")
    assert f"saw {trail.size} entries" in out


def test_cutting_off_the_tail_is_detected_against_the_exported_file_alone(trail: Trail) -> None:
    assert write_checkpoint(trail.app)
    assert checkpoint_file(trail.app).exists()
    cut_tail(trail.app, trail.size)
    with trail.app.state.engine.begin() as conn:  # no trigger protects the checkpoint table
        conn.execute(delete(AuditCheckpoint))
    out = assert_broken_at(trail.app, trail.size - CUT + 1, "missing")
    assert "audit-checkpoints.jsonl line 1" in out


def test_cutting_the_tail_and_writing_on_is_detected_against_a_checkpoint(trail: Trail) -> None:
    """After the cut the chain grows past the checkpoint again, with other entries."""
    assert write_checkpoint(trail.app)
    cut_tail(trail.app, trail.size)
    with transaction(trail.app.state.sessionmaker) as session:
        for i in range(CUT + 2):
            audit.record(session, actor=None, action=f"after.cut.{i}")
    assert chain.verify(entries(trail.app)).ok
    assert_broken_here(trail.app, trail.size, "does not match")


def test_rewriting_the_whole_chain_from_an_entry_is_detected_against_a_checkpoint(
    trail: Trail,
) -> None:
    """A forger who recomputes every later hash still cannot re-sign the checkpoint."""
    assert write_checkpoint(trail.app)
    k = 5
    rows = entries(trail.app)
    prev = rows[k - 2]["entry_hash"]
    with as_dba(trail.app) as conn:
        for row in rows[k - 1 :]:
            new = {**row, "prev_hash": prev}
            if row["seq"] == k:
                new["action"] = "case.close"
            new["entry_hash"] = prev = chain.entry_hash(prev, new)
            conn.execute(
                update(AuditEntry)
                .where(AuditEntry.seq == row["seq"])
                .values(action=new["action"], prev_hash=new["prev_hash"], entry_hash=prev)
            )
        set_head(conn, trail.size, prev)
    assert chain.verify(entries(trail.app)).ok
    assert_broken_here(trail.app, trail.size, "does not match")


# Forged checkpoints -------------------------------------------------------------------------------
def edit_exported(app: FastAPI, **changes: object) -> None:
    path = checkpoint_file(app)
    lines = path.read_text().splitlines()
    doc = json.loads(lines[-1])
    doc.update(changes)
    lines[-1] = json.dumps(doc)
    path.write_text("\n".join(lines) + "\n")


def test_a_checkpoint_line_with_an_edited_size_has_a_bad_signature(trail: Trail) -> None:
    assert write_checkpoint(trail.app)
    edit_exported(trail.app, size=trail.size - 2)
    out = haven_audit_verify(trail.app)
    assert out.code == 1, out
    assert "bad signature" in out.stdout
    assert "audit-checkpoints.jsonl line 1" in out.stdout


def test_a_checkpoint_line_with_an_edited_head_has_a_bad_signature(trail: Trail) -> None:
    assert write_checkpoint(trail.app)
    other = entries(trail.app)[trail.size - 2]["entry_hash"]
    edit_exported(trail.app, head=base64.b64encode(other).decode())
    out = haven_audit_verify(trail.app)
    assert out.code == 1, out
    assert "bad signature" in out.stdout
    assert "audit-checkpoints.jsonl line 1" in out.stdout


def test_hiding_a_tail_cut_behind_a_rewritten_checkpoint_fails_on_its_signature(
    trail: Trail,
) -> None:
    """Cut the tail, drop the stored checkpoints, and make the exported line (note included)
    describe the shorter chain: the old signature does not cover the new note."""
    assert write_checkpoint(trail.app)
    cut_tail(trail.app, trail.size)
    with trail.app.state.engine.begin() as conn:
        conn.execute(delete(AuditCheckpoint))
    path = checkpoint_file(trail.app)
    doc = json.loads(path.read_text().splitlines()[-1])
    size = trail.size - CUT
    new_head = head(trail.app)[1]
    note = doc["note"].split("\n")
    note[1], note[2] = str(size), base64.b64encode(new_head).decode()
    edit_exported(
        trail.app, size=size, head=base64.b64encode(new_head).decode(), note="\n".join(note)
    )
    result = verify_here(trail.app)
    assert not result.ok
    assert "bad signature" in (result.reason or "")


def test_a_stored_checkpoint_with_an_edited_size_has_a_bad_signature(trail: Trail) -> None:
    assert write_checkpoint(trail.app)
    checkpoint_file(trail.app).unlink()
    with trail.app.state.engine.begin() as conn:
        conn.execute(update(AuditCheckpoint).values(size=AuditCheckpoint.size - 1))
    result = verify_here(trail.app)
    assert not result.ok
    assert "bad signature" in (result.reason or "")
    assert "database #" in (result.reason or "")


def test_a_checkpoint_signed_by_another_key_has_a_bad_signature(trail: Trail) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from app.audit import checkpoints

    rows = entries(trail.app)
    rogue = Ed25519PrivateKey.generate()
    real = trail.app.state.crypto.provider.audit_signing_key().public_key()
    at = utcnow()
    note = checkpoints.make_note(
        checkpoints.deployment_id(real), trail.size, rows[-1]["entry_hash"], at
    )
    with trail.app.state.engine.begin() as conn:
        conn.execute(
            insert(AuditCheckpoint).values(
                size=trail.size,
                head_hash=rows[-1]["entry_hash"],
                at=at,
                note=note,
                signature=rogue.sign(note.encode()),
            )
        )
    result = verify_here(trail.app)
    assert not result.ok
    assert "bad signature" in (result.reason or "")


# The HTTP verifier -------------------------------------------------------------------------------
def test_the_api_reports_the_first_bad_entry(trail: Trail) -> None:
    k = 3
    with TestClient(trail.app) as client:
        good = client.get("/api/v1/audit/verify", headers=trail.headers)
        assert good.status_code == 200
        assert good.json()["ok"] is True
        with as_dba(trail.app) as conn:
            conn.execute(update(AuditEntry).where(AuditEntry.seq == k).values(outcome="denied"))
        bad = client.get("/api/v1/audit/verify", headers=trail.headers)
    assert bad.status_code == 200
    body = bad.json()
    assert body["ok"] is False
    assert body["first_bad"] == k
    assert body["entries"] == k - 1
    assert body["reason"] == "contents altered"


def test_the_api_reports_a_cut_tail(trail: Trail) -> None:
    assert write_checkpoint(trail.app)
    cut_tail(trail.app, trail.size)
    with TestClient(trail.app) as client:
        body = client.get("/api/v1/audit/verify", headers=trail.headers).json()
    assert body["ok"] is False
    assert body["first_bad"] == trail.size - CUT + 1
