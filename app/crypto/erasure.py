"""Crypto-shredding: destroy an owner's data keys and blind-index values (SECURITY.md §10.7).

Blind-index columns are found from the schema itself: a column whose ``info`` says
``{"blind_index": True}`` is cleared for every row whose ``{"owner": True}`` column names the
owner. New tables join erasure by marking their columns, not by editing this module. A table
that holds nothing but an owner and its index values (a person's names' index) loses the rows
themselves: a count of emptied rows would still tell how many names the person had.

On PostgreSQL an UPDATE leaves the old row version (a dead tuple) in the table's file until
VACUUM reclaims it, and in the WAL and any backup until they are recycled: the operator runs
``VACUUM (FULL) record_key`` after erasures (README, security model), and the log says so.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table, delete, update
from sqlalchemy.orm import Session

from app.crypto import crypto_of
from app.models import Base

log = logging.getLogger("haven.erasure")
POSTGRES_NOTE = (
    "data keys destroyed: on PostgreSQL their old row versions stay on disk until VACUUM; "
    "run VACUUM (FULL) record_key (see README, security model)"
)


def _indexed_tables() -> list[tuple[Table, Column[Any], list[Column[Any]], bool]]:
    """Each table with blind-index columns: its owner column, those columns, and whether the
    table holds nothing else (so its rows go, not only their values)."""
    found = []
    for table in Base.metadata.sorted_tables:
        indexed = [c for c in table.columns if c.info.get("blind_index")]
        owners = [c for c in table.columns if c.info.get("owner")]
        if indexed and owners:
            rest = [c for c in table.columns if not c.primary_key and c not in indexed]
            found.append((table, owners[0], indexed, rest == owners[:1]))
    return found


def shred(session: Session, owner_id: uuid.UUID) -> int:
    """Make everything sealed for this owner unreadable forever; returns keys destroyed."""
    for table, owner, indexed, index_only in _indexed_tables():
        if index_only:
            session.execute(delete(table).where(owner == owner_id))
        else:
            session.execute(
                update(table).where(owner == owner_id).values({c.name: None for c in indexed})
            )
    destroyed = crypto_of(session).keys.destroy(session, owner_id)
    if destroyed and session.get_bind().dialect.name == "postgresql":
        session.info.setdefault("after_commit", []).append(_tell_about_vacuum)
    if session.get_bind().dialect.name == "sqlite":
        # secure_delete zeroes freed pages; checkpoint the WAL after commit so no old page
        # image of the wrapped key survives in the -wal file either.
        session.info.setdefault("after_commit", []).append(_checkpoint_wal)
    return destroyed


def _tell_about_vacuum(_session: Session) -> None:
    log.warning(POSTGRES_NOTE)  # no id, no count: the log must not tell who was erased


def _checkpoint_wal(session: Session) -> None:
    checkpoint_wal(session.get_bind())


def checkpoint_wal(bind: Engine | Connection) -> None:
    """Fold the WAL into the database file and truncate it (outside any transaction)."""
    engine = bind.engine
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        raw.close()
