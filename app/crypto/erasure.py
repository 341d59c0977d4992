"""Crypto-shredding: destroy an owner's data keys and blind-index values (SECURITY.md §10.7).

Blind-index columns are found from the schema itself: a column whose ``info`` says
``{"blind_index": True}`` is cleared for every row whose ``{"owner": True}`` column names the
owner. New tables join erasure by marking their columns, not by editing this module.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table, update
from sqlalchemy.orm import Session

from app.crypto import crypto_of
from app.models import Base


def _indexed_tables() -> list[tuple[Table, Column[Any], list[Column[Any]]]]:
    found = []
    for table in Base.metadata.sorted_tables:
        indexed = [c for c in table.columns if c.info.get("blind_index")]
        owners = [c for c in table.columns if c.info.get("owner")]
        if indexed and owners:
            found.append((table, owners[0], indexed))
    return found


def shred(session: Session, owner_id: uuid.UUID) -> int:
    """Make everything sealed for this owner unreadable forever; returns keys destroyed."""
    for table, owner, indexed in _indexed_tables():
        session.execute(
            update(table).where(owner == owner_id).values({c.name: None for c in indexed})
        )
    destroyed = crypto_of(session).keys.destroy(session, owner_id)
    if session.get_bind().dialect.name == "sqlite":
        # secure_delete zeroes freed pages; checkpoint the WAL after commit so no old page
        # image of the wrapped key survives in the -wal file either.
        session.info.setdefault("after_commit", []).append(_checkpoint_wal)
    return destroyed


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
