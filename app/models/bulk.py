"""Writing many rows at once (an import's batches, a country event's history and assessments,
the demo's synthetic people): integer ids taken before the rows exist, and rows inserted with
one Core ``executemany`` a table (PostgreSQL's COPY for many), without the unit of work's
per-object bookkeeping; the planner's statistics refreshed after a large write; and the cyclic
garbage collector held back while such work runs.

The unit of work would insert rows with a database-assigned id one statement at a time on
SQLite (it must know which id went to which object); these rows' ids go into their
ciphertexts' encryption context, so they are reserved first.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Column, Engine, Table, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.models.base import Base

log = logging.getLogger(__name__)

ANALYZE_AFTER_ROWS = 1_000
_WRITTEN = "haven_bulk_written"  # session.info: rows written at once, by table name
SPARED_THRESHOLDS = (100_000, 50, 1000)  # gc thresholds while bulk work runs
COPY_FROM_ROWS = 100  # fewer rows go in one executemany, as quick


class _Collector:
    """The process's bulk works that hold the cyclic garbage collector back, counted: a
    server runs a country event beside an import, and the first to end must not restore the
    thresholds (or thaw the frozen objects) under the other. In a server, what start-up made
    is frozen once and for good (``freeze_start_up``); bulk work then only raises the
    thresholds, since thawing would thaw start-up's objects too."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.thresholds = gc.get_threshold()
        self.started_frozen = False

    def freeze_start_up(self) -> None:
        with self.lock:
            gc.collect()
            gc.freeze()
            self.started_frozen = True

    def hold(self) -> None:
        with self.lock:
            if self.holders == 0:
                self.thresholds = gc.get_threshold()
                if not self.started_frozen:
                    gc.freeze()
                gc.set_threshold(*SPARED_THRESHOLDS)
            self.holders += 1

    def release(self) -> None:
        with self.lock:
            self.holders -= 1
            if self.holders == 0:
                gc.set_threshold(*self.thresholds)
                if not self.started_frozen:
                    gc.unfreeze()


_COLLECTOR = _Collector()


def freeze_start_up() -> None:
    """Once a server has started: what exists now (modules, mappers, the app, about 300,000
    objects) lives as long as the process, and the collector's full passes stop walking it.
    Every full pass paused every request for that walk: reads under load went from 364 to
    418-458 req/s with it, their p99 from 285-358 to 141-171 ms (SQLite, interleaved runs)."""
    _COLLECTOR.freeze_start_up()


@contextlib.contextmanager
def collector_spared() -> Iterator[None]:
    """Bulk work (an import, a country event, a revocation list) with the cyclic garbage
    collector held back: what is alive when it starts is frozen (``gc.freeze``, the standard
    library's way), and what it makes is collected rarely. Its full passes otherwise walk
    every live object again and again while the work makes and drops millions of them: 22
    passes took 5.5 s of a 25 s country event at 100,000 people, a third of a large import.
    Reference counting still frees the work's garbage as it goes; cycles wait for the end."""
    _COLLECTOR.hold()
    try:
        yield
    finally:
        _COLLECTOR.release()


def reserve_ids(session: Session, column: InstrumentedAttribute[int], count: int) -> list[int]:
    """``count`` ids for new rows of ``column``'s table, in order."""
    if count <= 0:
        return []
    table = column.property.parent.local_table
    assert isinstance(table, Table)  # every model maps one table
    name = column.property.columns[0].name
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, :column)) "
                "FROM generate_series(1, :n)"
            ),
            {"table": table.name, "column": name, "n": count},
        )
        return [r[0] for r in rows]
    # SQLite: Haven's writing transactions begin IMMEDIATE, holding the only write lock, so
    # no other writer takes an id between this read and the insert.
    start = (session.scalar(select(func.max(column))) or 0) + 1
    return list(range(start, start + count))


def insert_built(session: Session, objects: Iterable[Base]) -> None:
    """Insert model objects that were built but never added to a session, table by table in
    the order first met (a caller lists parents before the rows naming them). Each row has
    the columns its object set; a column it left unset takes its default, as on a flush."""
    tables: dict[Table, dict[tuple[str, ...], list[dict[str, Any]]]] = {}
    for obj in objects:
        mapper = inspect(obj).mapper
        table = mapper.local_table
        assert isinstance(table, Table)  # every model maps one table
        state = inspect(obj).dict
        row = {
            column.key: state[attr.key]
            for attr in mapper.column_attrs
            for column in attr.columns
            if attr.key in state and isinstance(column, Column)
        }
        tables.setdefault(table, {}).setdefault(tuple(sorted(row)), []).append(row)
    for table, groups in tables.items():
        for rows in groups.values():  # one set of columns a statement
            insert_rows(session, table, rows)
            note_written(session, table, len(rows))


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Rows with the same columns (by key) into ``table``: on PostgreSQL, many of them with
    COPY, the protocol's bulk path (a country event's 33,000 history entries and assessments
    took a third of its SQL time as INSERTs); otherwise one executemany. COPY is taken only
    when the rows set every column with a default computed in Python, which it cannot apply."""
    if not rows:
        return
    connection = session.connection()
    if (
        len(rows) < COPY_FROM_ROWS
        or connection.dialect.name != "postgresql"
        or any(c.default is not None and c.key not in rows[0] for c in table.columns)
    ):
        session.execute(table.insert(), rows)
        return
    keys = list(rows[0])
    columns = [table.c[key] for key in keys]
    process = [column.type.bind_processor(connection.dialect) for column in columns]
    quote = connection.dialect.identifier_preparer
    statement = "COPY {} ({}) FROM STDIN".format(
        quote.format_table(table), ", ".join(quote.quote(c.name) for c in columns)
    )
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection in a transaction
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [row[k] if p is None else p(row[k]) for k, p in zip(keys, process, strict=True)]
            )


def note_written(session: Session, table: Table, rows: int) -> None:
    """``rows`` were written to ``table`` at once. On PostgreSQL, once the transaction has
    committed, the planner's statistics of a table given ``ANALYZE_AFTER_ROWS`` or more are
    refreshed: until autovacuum gets to it a bulk load leaves the planner guessing (a search by
    document number took 15 ms instead of 0.2 ms just after 100,000 people were added;
    PostgreSQL's manual says to run ANALYZE after populating a database)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    written: dict[str, int] | None = session.info.get(_WRITTEN)
    if written is None:
        written = session.info[_WRITTEN] = {}
        session.info.setdefault("after_commit", []).append(_analyze)
    written[table.name] = written.get(table.name, 0) + rows


def _analyze(session: Session) -> None:
    written: dict[str, int] = session.info.pop(_WRITTEN, {})
    names = sorted(name for name, rows in written.items() if rows >= ANALYZE_AFTER_ROWS)
    if not names:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    try:
        with engine.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            conn.exec_driver_sql("ANALYZE " + ", ".join(quote(name) for name in names))
            conn.commit()
    except SQLAlchemyError as exc:  # the rows are written; the planner catches up by itself
        log.warning("statistics not refreshed after a bulk write (%s)", type(exc).__name__)
