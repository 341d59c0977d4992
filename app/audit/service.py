"""Recording audit entries, in the same transaction as what they record.

``record`` queues an entry on the session; a ``before_commit`` hook appends everything queued
in one go, under the head row's lock, just before the transaction commits. The lock is
therefore held only for the last moment of a request, and an entry exists exactly when the
change it records does. Entries marked ``durable`` (denials, failed sign-ins) are written even
when the request's own transaction rolls back: ``app.db.transaction`` writes them afterwards in
a transaction of their own.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import checkpoints
from app.audit.chain import entry_hash
from app.audit.verify import verify_all
from app.logs import client_var, request_id_var
from app.models.audit import AuditEntry, AuditHead
from app.models.base import utcnow

if TYPE_CHECKING:
    from app.audit.verify import Verification
    from app.crypto.keyring import KeyProvider

PENDING = "audit_pending"
DURABLE = "audit_durable"
HIGH_RISK = "audit_checkpoint_due"


@dataclass(frozen=True)
class _Queued:
    fields: dict[str, Any]


def record(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    subject_type: str | None = None,
    subject_id: uuid.UUID | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    durable: bool = False,
    high_risk: bool = False,
) -> None:
    """Queue an audit entry. ``details`` holds ids, counts and field names, never values."""
    client = client_var.get()
    fields = {
        "at": utcnow(),
        "actor_id": actor.id if actor else None,
        "actor_label": actor.username if actor else None,
        "actor_role": actor.role if actor else None,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "outcome": outcome,
        "request_id": request_id_var.get(),
        "client": _client_tag(session, client) if client else None,
        "details": json.dumps(details, sort_keys=True, separators=(",", ":")) if details else None,
    }
    session.info.setdefault(DURABLE if durable else PENDING, []).append(_Queued(fields))
    if high_risk:
        session.info[HIGH_RISK] = True


def _client_tag(session: Session, address: str) -> str | None:
    crypto = session.info.get("crypto")
    return crypto.client_tag(address) if crypto is not None else None


def flush(session: Session) -> None:
    """Append every queued entry (the before_commit hook); after a high-risk action, sign a
    checkpoint as soon as the transaction has committed."""
    queued: list[_Queued] = session.info.pop(PENDING, []) + session.info.pop(DURABLE, [])
    if queued:
        append(session, [q.fields for q in queued])
    if session.info.pop(HIGH_RISK, False):
        session.info.setdefault("after_commit", []).append(_checkpoint_now)


def _checkpoint_now(session: Session) -> None:
    crypto, settings = session.info.get("crypto"), session.info.get("settings")
    if crypto is None or settings is None:
        return
    with Session(bind=session.get_bind()) as fresh, fresh.begin():
        checkpoints.write(fresh, crypto.provider, settings.data_dir)


def take_durable(session: Session) -> list[dict[str, Any]]:
    """Entries that must survive a rollback (taken by app.db.transaction)."""
    session.info.pop(PENDING, None)
    return [q.fields for q in session.info.pop(DURABLE, [])]


def append(session: Session, entries: list[dict[str, Any]]) -> None:
    """Chain and insert entries under the head row's lock (FOR UPDATE; BEGIN IMMEDIATE on
    SQLite), which also makes ``seq`` gapless."""
    head = session.execute(
        select(AuditHead.seq, AuditHead.head_hash).where(AuditHead.id == 1).with_for_update()
    ).one()
    seq, prev = head.seq, head.head_hash
    rows = []
    for fields in entries:
        seq += 1
        row = {**fields, "seq": seq, "prev_hash": prev}
        row["entry_hash"] = prev = entry_hash(prev, row)
        rows.append(row)
    session.execute(insert(AuditEntry), rows)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, head_hash=prev))


# Reading the trail (auditors) -------------------------------------------------------------------
def read_entries(
    session: Session,
    actor: Actor,
    *,
    actor_id: uuid.UUID | None = None,
    subject: uuid.UUID | None = None,
    action: str | None = None,
    limit: int = 100,
    cursor: int | None = None,
) -> tuple[list[AuditEntry], int | None]:
    """A page of entries in ``seq`` order, and the cursor of the next page (None at the end);
    the read is itself audited as ``audit.read`` (GET /audit)."""
    query = select(AuditEntry).order_by(AuditEntry.seq).limit(limit + 1)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if subject is not None:
        query = query.where(AuditEntry.subject_id == subject)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if cursor is not None:
        query = query.where(AuditEntry.seq > cursor)
    rows = list(session.scalars(query))
    page = rows[:limit]
    record(session, actor=actor, action="audit.read", details={"count": len(page)})
    return page, page[-1].seq if len(rows) > limit else None


def verify_trail(
    session: Session, actor: Actor, provider: KeyProvider, data_dir: Path
) -> Verification:
    """The whole chain and its signed checkpoints checked, audited as ``audit.verify``
    (GET /audit/verify)."""
    result = verify_all(session, provider, data_dir)
    record(session, actor=actor, action="audit.verify", details={"ok": result.ok})
    return result
