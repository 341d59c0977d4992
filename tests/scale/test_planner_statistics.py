"""After a bulk write, PostgreSQL's planner knows the tables' new sizes at once.

Until autovacuum gets to a table, a bulk load leaves the planner with the statistics of the
empty table: just after 100,000 people were added, a search by document number chose a plan
that took 15 ms instead of 0.2 ms. A transaction that wrote a thousand rows or more to a table
at once refreshes its statistics (ANALYZE) after it commits.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import ENGINE
from tests.factories import make_organisation, make_user
from tests.faults.support import add_synthetic_people

pytestmark = pytest.mark.skipif(
    ENGINE != "postgresql", reason="PostgreSQL's planner: runs with HAVEN_TEST_DATABASE=postgresql"
)


def _estimated_rows(app: FastAPI, table: str) -> float:
    with app.state.engine.connect() as conn:
        return float(
            conn.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = :table"), {"table": table}
            ).scalar_one()
        )


def test_a_bulk_write_refreshes_the_statistics_of_what_it_filled(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    supervisor = make_user(app, "supervisor", organisation=make_organisation(app))

    add_synthetic_people(app, supervisor, 10)  # too few to matter: left to autovacuum
    assert _estimated_rows(app, "travel_document") < 0  # never analysed: unknown

    add_synthetic_people(app, supervisor, 1_000)
    assert _estimated_rows(app, "travel_document") == 1_010
    assert _estimated_rows(app, "individual") == 1_010
