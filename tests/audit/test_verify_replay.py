"""The replay of `audit verify` reads the driver's own values: it must encode every entry
exactly as chain.canonical_values encodes the mapped values, and still catch tampering."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

from app.audit import chain
from app.audit import service as audit
from app.audit.verify import _canonical_rows
from app.db import read_only, transaction
from app.models.audit import AuditEntry

from .support import as_dba, dialect, verify_here

_COLUMNS = [AuditEntry.__table__.c[name] for name in (*chain.FIELDS, "prev_hash", "entry_hash")]
PHNOM_PENH = dt.timezone(dt.timedelta(hours=7))


def _fields(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {name: None for name in chain.FIELDS if name != "seq"}
    base.update(at=audit.utcnow(), action="individual.read", outcome="ok")
    base.update(values)
    return base


AWKWARD = [
    _fields(),
    _fields(at=dt.datetime(2024, 5, 17, 8, 30, 12, 0, tzinfo=dt.UTC)),  # no microseconds
    _fields(at=dt.datetime(2024, 5, 17, 15, 30, 0, 7, tzinfo=PHNOM_PENH)),
    _fields(at=dt.datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC)),  # a three-zero year
    _fields(
        actor_id=uuid.UUID("00000000-0000-0000-0000-000000000000"),  # digits only
        actor_label='a "quoted" \\ label\nwith a newline',
        actor_role="supervisor",
        subject_type="individual",
        subject_id=uuid.uuid4(),
        request_id="r-1",
        client="c-2",
        details='{"note":"សុខ ដារ៉ា \\u0000","n":3}',
    ),
    _fields(actor_label="\u2028\u2029\x7f\x1f ünïcode 😀", outcome="denied", details="{}"),
]


@pytest.fixture
def app(fresh_database: Callable[..., FastAPI]) -> FastAPI:
    application = fresh_database()
    with transaction(application.state.sessionmaker) as s:
        audit.append(s, [dict(f) for f in AWKWARD])
    return application


def _mapped_and_replayed(app: FastAPI) -> tuple[list[Any], list[tuple[Any, bytes, Any, Any]]]:
    with app.state.sessionmaker() as session:
        read_only(session)
        mapped = list(session.execute(select(*_COLUMNS).order_by(AuditEntry.seq)))
        replayed = list(_canonical_rows(session, batch=4))
    return mapped, replayed


def test_the_replay_encodes_every_entry_as_the_mapped_values_encode(app: FastAPI) -> None:
    mapped, replayed = _mapped_and_replayed(app)
    assert len(replayed) == len(mapped) >= len(AWKWARD)
    for row, (seq, canonical, prev_hash, entry_hash) in zip(mapped, replayed, strict=True):
        assert seq == row[0]
        assert canonical == chain.canonical_values(row)
        assert bytes(prev_hash) == bytes(row[12])
        assert bytes(entry_hash) == bytes(row[13])
    result = verify_here(app)
    assert result.ok, result.summary()
    assert result.entries == len(mapped)


def _seq_of(app: FastAPI, action_label: str) -> int:
    with app.state.engine.connect() as conn:
        seq = conn.scalar(select(AuditEntry.seq).where(AuditEntry.actor_label == action_label))
        conn.rollback()
    assert seq is not None
    return seq


def test_sqlite_values_stored_in_another_form_encode_as_their_values(app: FastAPI) -> None:
    """A timestamp or UUID spelled differently in SQLite is the same value to a mapped read,
    so the replay encodes it the same way (through the column types) and the chain holds."""
    if dialect(app) != "sqlite":
        pytest.skip("SQLite keeps timestamps and UUIDs as text")
    seq = _seq_of(app, AWKWARD[4]["actor_label"])
    with as_dba(app) as conn:
        stored = conn.execute(
            text("SELECT at, actor_id, subject_id FROM audit_entry WHERE seq = :s"), {"s": seq}
        ).one()
        conn.execute(
            text(
                "UPDATE audit_entry SET at = :at, actor_id = :actor, subject_id = :subject "
                "WHERE seq = :s"
            ),
            {
                "at": stored.at.replace(" ", "T"),  # ISO 8601 with a T: the same instant
                "actor": str(uuid.UUID(stored.actor_id)),  # hyphenated
                "subject": stored.subject_id.upper(),
                "s": seq,
            },
        )
    mapped, replayed = _mapped_and_replayed(app)
    assert [c for _, c, _, _ in replayed] == [chain.canonical_values(r) for r in mapped]
    assert verify_here(app).ok


@pytest.mark.parametrize(
    "column, value",
    [
        ("at", dt.datetime(2024, 5, 17, 8, 30, 12, 1, tzinfo=dt.UTC)),
        ("actor_id", uuid.UUID("00000000-0000-0000-0000-000000000001")),
        ("subject_id", None),
        ("actor_label", 'a "quoted" \\ label\nwith a newline '),
    ],
)
def test_a_changed_value_of_an_awkward_entry_is_detected(
    app: FastAPI, column: str, value: Any
) -> None:
    seq = _seq_of(app, AWKWARD[4]["actor_label"])
    with as_dba(app) as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.seq == seq).values({column: value}))
    result = verify_here(app)
    assert not result.ok
    assert (result.first_bad, result.reason) == (seq, "contents altered")


def test_a_postgresql_timestamp_moved_to_another_era_is_detected(app: FastAPI) -> None:
    """The same digits before Christ are another instant: reported, not skipped or crashed on."""
    if dialect(app) != "postgresql":
        pytest.skip("only PostgreSQL stores years before 1")
    seq = _seq_of(app, AWKWARD[4]["actor_label"])
    with as_dba(app) as conn:
        conn.execute(
            text("UPDATE audit_entry SET at = (at::text || ' BC')::timestamptz WHERE seq = :s"),
            {"s": seq},
        )
    result = verify_here(app)
    assert not result.ok
    assert (result.first_bad, result.reason) == (seq, "contents altered")
