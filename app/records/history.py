"""The timeline: ``record`` a change (same transaction), ``timeline`` to read it back.

Summaries never hold personal data ("Document status changed to revoked"); the values that
changed go into ``changes``, sealed with the person's key, and are opened only for readers
allowed to see them. After erasure the key is gone and only the fact remains.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.crypto import CryptoError, DataKey, FieldSlot, Pad, UnknownKeyError, crypto_of
from app.models.base import utcnow
from app.models.bulk import insert_rows, reserve_ids
from app.models.history import HistoryEntry

CHANGES = FieldSlot("history_entry", "changes")
_ENTRIES = cast(Table, HistoryEntry.__table__)  # every model maps one table


@dataclass(frozen=True)
class Entry:
    """One entry to add with ``record_many``: the arguments of ``record``."""

    individual_id: uuid.UUID
    kind: str
    summary: str
    case_id: uuid.UUID | None = None
    subject_type: str | None = None
    subject_id: uuid.UUID | None = None
    changes: dict[str, Any] | None = None
    at: dt.datetime | None = None
    key: DataKey | None = None


def record(
    session: Session,
    *,
    actor: Actor | None,
    individual_id: uuid.UUID,
    kind: str,
    summary: str,
    case_id: uuid.UUID | None = None,
    subject_type: str | None = None,
    subject_id: uuid.UUID | None = None,
    changes: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
    key: DataKey | None = None,
) -> None:
    """Add an entry; ``key`` (the person's data key) saves a lookup when the caller has it."""
    entry = Entry(individual_id, kind, summary, case_id, subject_type, subject_id, changes, at, key)
    record_many(session, actor=actor, entries=[entry])


def record_many(session: Session, *, actor: Actor | None, entries: Sequence[Entry]) -> None:
    """Write entries in order, each sealed before it is written: their ids (which go into the
    encryption context of their changes) taken first, then one statement for them all, as
    plain rows, however many (an import's batch, a country event's thousands)."""
    if not entries:
        return
    session.flush()  # the people and cases the entries name are written first
    sealer = _Sealer(session, entries)
    rows = [
        _values(actor, entry) | {"id": entry_id, "changes_ct": sealer.seal(entry, entry_id)}
        for entry, entry_id in zip(
            entries, reserve_ids(session, HistoryEntry.id, len(entries)), strict=True
        )
    ]
    insert_rows(session, _ENTRIES, rows)  # every row has the same columns


def _values(actor: Actor | None, entry: Entry) -> dict[str, Any]:
    return {
        "at": entry.at or utcnow(),
        "individual_id": entry.individual_id,
        "case_id": entry.case_id,
        "actor_id": actor.id if actor else None,
        "actor_label": actor.username if actor else "system",
        "kind": entry.kind,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "summary": entry.summary[:300],
    }


class _Sealer:
    """Seals entries' changes with their people's keys (looked up together for the entries
    that do not carry one), the row's id in the context."""

    def __init__(self, session: Session, entries: Sequence[Entry]) -> None:
        self.crypto = crypto_of(session)
        lacking = list({e.individual_id for e in entries if e.changes and e.key is None})
        self.keys = self.crypto.keys.current_many(session, lacking) if lacking else {}

    def seal(self, entry: Entry, entry_id: int) -> bytes | None:
        if not entry.changes:
            return None
        key = entry.key or self.keys.get(entry.individual_id)
        if key is None:
            raise UnknownKeyError("this record has no live data key")
        return self.crypto.seal(
            key, CHANGES, _row_id(entry_id), _jsonable(entry.changes), pad=Pad.TEXT
        )


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
            "actor_id": entry.actor_id,  # for sharing.for_reader, which removes it
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
