"""Verification of the whole audit chain against its signed checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import chain, checkpoints
from app.crypto.keyring import KeyProvider
from app.models.audit import AuditEntry, AuditHead

_COLUMNS = [AuditEntry.__table__.c[name] for name in (*chain.FIELDS, "prev_hash", "entry_hash")]


@dataclass
class Verification:
    ok: bool
    entries: int
    head: str | None = None
    first_bad: int | None = None
    reason: str | None = None
    checkpoints: int = 0

    def summary(self) -> str:
        if not self.ok:
            return f"audit chain BROKEN at entry {self.first_bad}: {self.reason}"
        if self.entries == 0:
            return "audit chain: no entries"
        return (
            f"audit chain intact: {self.entries} entries, head {self.head}, "
            f"{self.checkpoints} checkpoints match"
        )

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "entries": self.entries, "head": self.head}
        if not self.ok:
            body["first_bad"] = self.first_bad
            body["reason"] = self.reason
        return body


def _rows(session: Session, batch: int = 20_000) -> Iterator[Any]:
    """Plain tuples in seq order, fetched a batch at a time (a server-side cursor on
    PostgreSQL), never ORM objects or mappings: the replay hashes every entry."""
    result = session.execute(
        select(*_COLUMNS).order_by(AuditEntry.seq).execution_options(yield_per=batch)
    )
    for part in result.tuples().partitions():
        yield from part


def verify_all(session: Session, provider: KeyProvider, data_dir: Path) -> Verification:
    """Replay the chain from genesis, then hold every checkpoint (stored and exported) to it."""
    public_key = provider.audit_signing_key().public_key()
    known = checkpoints.stored(session) + checkpoints.exported(data_dir)
    replay = chain.verify_tuples(_rows(session), keep={c.size for c in known})
    head = replay.head.hex() if replay.entries else None
    if not replay.ok:
        return Verification(False, replay.entries, head, replay.first_bad, replay.reason)
    recorded = session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0
    if recorded > replay.entries:
        return Verification(
            False,
            replay.entries,
            head,
            replay.entries + 1,
            f"entries {replay.entries + 1} to {recorded} are missing (the head row counts "
            f"{recorded})",
        )
    hashes = replay.hashes or {}
    for cp in known:
        if not checkpoints.signature_ok(cp, public_key):
            return Verification(
                False,
                replay.entries,
                head,
                cp.size,
                f"checkpoint ({cp.source}) has a bad signature",
            )
        if cp.size > replay.entries:
            return Verification(
                False,
                replay.entries,
                head,
                replay.entries + 1,
                f"entries {replay.entries + 1} to {cp.size} are missing: a signed checkpoint "
                f"({cp.source}) saw {cp.size} entries",
            )
        if hashes.get(cp.size) != cp.head:
            return Verification(
                False, replay.entries, head, cp.size, f"checkpoint ({cp.source}) does not match"
            )
    return Verification(True, replay.entries, head, checkpoints=len(known))
