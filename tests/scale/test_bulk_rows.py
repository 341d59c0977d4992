"""Many rows at once (``app.models.bulk.insert_rows``): on PostgreSQL with COPY, the same rows
an INSERT would have written; a row leaving a column with a Python default unset still gets
its default (COPY cannot compute it, so those rows take an INSERT)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from fastapi import FastAPI
from sqlalchemy import Engine, Table, event, select

from app.actor import Actor
from app.db import transaction
from app.models.bulk import COPY_FROM_ROWS, insert_rows
from app.models.risk import RiskAssessment
from app.records import history
from tests.conftest import ENGINE
from tests.factories import Team

MANY = COPY_FROM_ROWS + 20


@contextmanager
def inserts_into(engine: Engine, table: str) -> Iterator[list[str]]:
    """The INSERT statements sent to ``table`` while the block runs."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(f"INSERT INTO {table} "):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _actor(team: Team) -> Actor:
    user = team.caseworker.user
    return Actor(user.id, user.username, user.role, user.organisation_id)


def test_many_history_entries_are_written_and_read_back(app: FastAPI, team: Team) -> None:
    person = team.person(team.caseworker)
    entries = [
        history.Entry(
            individual_id=person,
            kind="bench.entry",
            summary=f"Entry {i}",
            changes={"number": i, "note": f"ünïcode {i}", "when": dt.date(2026, 1, 1)},
            at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i),
        )
        for i in range(MANY)
    ]
    with (
        inserts_into(app.state.engine, "history_entry") as inserts,
        transaction(app.state.sessionmaker) as session,
    ):
        history.record_many(session, actor=_actor(team), entries=entries)
    # PostgreSQL: one COPY, no INSERT; SQLite: one executemany.
    assert len(inserts) == (0 if ENGINE == "postgresql" else 1)
    with transaction(app.state.sessionmaker) as session:
        written = [e for e in history.timeline(session, person) if e["kind"] == "bench.entry"]
    assert [e["summary"] for e in written] == [f"Entry {i}" for i in range(MANY)]
    assert written[7]["changes"] == {"number": 7, "note": "ünïcode 7", "when": "2026-01-01"}
    assert written[7]["at"] == dt.datetime(2026, 1, 1, 0, 0, 7, tzinfo=dt.UTC)
    assert written[7]["actor"] == team.caseworker.user.username


def test_rows_leaving_a_python_default_unset_still_get_it(app: FastAPI, team: Team) -> None:
    person = team.person(team.caseworker)
    rows = [
        {
            "id": uuid.uuid4(),
            "individual_id": person,
            "policy_version": "bench",
            "score": i,
            "level": "low",
            "trigger": "bench",
        }
        for i in range(MANY)
    ]  # no assessed_at: its default is computed in Python
    before = dt.datetime.now(dt.UTC)
    with transaction(app.state.sessionmaker) as session:
        insert_rows(session, cast(Table, RiskAssessment.__table__), rows)
    with transaction(app.state.sessionmaker) as session:
        stamps = session.scalars(
            select(RiskAssessment.assessed_at).where(RiskAssessment.policy_version == "bench")
        ).all()
    assert len(stamps) == MANY
    assert all(stamp >= before for stamp in stamps)
