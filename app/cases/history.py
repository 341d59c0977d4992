"""The timeline: ``record`` a change (same transaction), ``timeline`` to read it back.

Summaries never hold personal data ("Document status changed to revoked"); the values that
changed go into ``changes``, sealed with the person's key, and are opened only for readers
allowed to see them. After erasure the key is gone and only the fact remains.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crypto import CryptoError, DataKey, FieldSlot, Pad, crypto_of
from app.models.base import utcnow
from app.models.history import HistoryEntry

CHANGES = FieldSlot("history_entry", "changes")


def record(
    session: Session,
    *,
    actor: Any,
    individual_id: uuid.UUID,
    kind: str,
    summary: str,
    case_id: uuid.UUID | None = None,
    subject_type: str | None = None,
    subject_id: uuid.UUID | None = None,
    changes: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
    key: DataKey | None = None,
) -> HistoryEntry:
    """Add an entry; ``key`` (the person's data key) saves a lookup when the caller has it."""
    entry = HistoryEntry(
        at=at or utcnow(),
        individual_id=individual_id,
        case_id=case_id,
        actor_id=actor.id if actor else None,
        actor_label=actor.username if actor else "system",
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        summary=summary[:300],
    )
    session.add(entry)
    if changes:
        session.flush()  # the id goes into the encryption context
        crypto = crypto_of(session)
        key = key or crypto.keys.current(session, individual_id)
        entry.changes_ct = crypto.seal(
            key, CHANGES, _row_id(entry.id), _jsonable(changes), pad=Pad.TEXT
        )
    return entry


def timeline(
    session: Session,
    individual_id: uuid.UUID,
    *,
    as_of: dt.datetime | None = None,
    with_values: bool = True,
    hidden_fields: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Every entry about the person, oldest first; values only when ``with_values``."""
    query = select(HistoryEntry).where(HistoryEntry.individual_id == individual_id)
    if as_of is not None:
        query = query.where(HistoryEntry.at <= as_of)
    crypto = crypto_of(session)
    out = []
    for entry in session.scalars(query.order_by(HistoryEntry.at, HistoryEntry.id)):
        item: dict[str, Any] = {
            "at": entry.at,
            "actor": entry.actor_label,
            "kind": entry.kind,
            "summary": entry.summary,
            "case_id": entry.case_id,
            "subject_type": entry.subject_type,
            "subject_id": entry.subject_id,
        }
        if with_values and entry.changes_ct is not None:
            try:
                changes = crypto.open(
                    session,
                    CHANGES,
                    _row_id(entry.id),
                    individual_id,
                    entry.changes_ct,
                    pad=Pad.TEXT,
                )
            except CryptoError:
                changes = None  # erased: the fact stays, the values are gone
            if changes is not None:
                item["changes"] = {k: v for k, v in changes.items() if k not in hidden_fields}
        out.append(item)
    return out


def _row_id(entry_id: int) -> uuid.UUID:
    # History rows have integer ids; the encryption context wants a UUID.
    return uuid.UUID(int=entry_id)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
