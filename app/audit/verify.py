"""Verification of the whole audit chain against its signed checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Dialect
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
    signed_head: int | None = None  # the size of the newest signed head held to the chain
    witness: str | None = None  # what the witness said, when one is configured

    def summary(self) -> str:
        if not self.ok:
            return f"audit chain BROKEN at entry {self.first_bad}: {self.reason}"
        if self.entries == 0:
            return "audit chain: no entries"
        text = (
            f"audit chain intact: {self.entries} entries, head {self.head}, "
            f"{self.checkpoints} checkpoints match"
        )
        if self.signed_head is not None:
            text += f", the newest signed head ({self.signed_head} entries) matches"
        if self.witness is not None:
            text += f"; witness: {self.witness}"
        return text

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "witness": self.witness,
        }
        if not self.ok:
            body["first_bad"] = self.first_bad
            body["reason"] = self.reason
        return body


# The replay reads the driver's own values, without SQLAlchemy's type processing, and writes
# each straight into the canonical form. PostgreSQL hands over text: the UUIDs in their
# canonical form and the timestamp as UTC wall time with its era, so no datetime or UUID object
# is built per entry.
_NAMES = [c.name for c in _COLUMNS]
_SELECT = "SELECT {} FROM audit_entry ORDER BY seq"
_SQLITE_SELECT = _SELECT.format(", ".join(_NAMES))
_PG_COLUMNS = {
    "at": "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US BC')",
    "actor_id": "actor_id::text",
    "subject_id": "subject_id::text",
}
_PG_SELECT = _SELECT.format(", ".join(_PG_COLUMNS.get(name, name) for name in _NAMES))


def _pg_at(value: str | None) -> str:
    """'2024-05-17 08:30:12.345678 AD' as chain._json writes that instant."""
    if value is None:
        return "null"
    if len(value) == 29 and value[26:] == " AD":
        return f'"{value[:10]}T{value[11:26]}+00:00"'
    # A year Python cannot hold (before 1 or after 9999): no entry Haven wrote, so the text
    # goes in as it is and cannot match the stored hash.
    return chain._string(value)


def _pg_uuid(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


def _sqlite_formatters(dialect: Dialect) -> tuple[Callable[[Any], str], Callable[[Any], str]]:
    """SQLite keeps the timestamp as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) and UUIDs as 32 hex
    digits. Values in exactly the form Haven writes are rearranged; anything else goes through
    the column types, as a mapped read would, so it encodes exactly as before."""
    table = AuditEntry.__table__
    to_datetime = table.c.at.type.dialect_impl(dialect).result_processor(dialect, None)
    to_uuid = table.c.actor_id.type.dialect_impl(dialect).result_processor(dialect, None)
    if to_datetime is None or to_uuid is None:
        raise RuntimeError("SQLite result processors for timestamps and UUIDs are expected")
    json_ = chain._json

    def at_json(value: Any) -> str:
        if type(value) is str and len(value) == 26 and value[10] == " ":
            return f'"{value[:10]}T{value[11:]}+00:00"'
        return json_(to_datetime(value))

    def uuid_json(value: Any) -> str:
        if value is None:
            return "null"
        if type(value) is str and len(value) == 32 and value.islower():
            return f'"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"'
        return json_(to_uuid(value))

    return at_json, uuid_json


def _canonical_rows(session: Session, batch: int = 20_000) -> Iterator[tuple[Any, bytes, Any, Any]]:
    """(seq, canonical bytes, prev_hash, entry_hash) per entry in seq order, read with the
    driver's cursor in batches (a server-side cursor on PostgreSQL) inside the session's
    transaction."""
    connection = session.connection()
    dialect = connection.dialect
    driver = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("the session's connection has no driver connection")
    at_json: Callable[[Any], str]
    uuid_json: Callable[[Any], str]
    if dialect.name == "postgresql":
        cursor = driver.cursor(name="haven_audit_verify")
        cursor.itersize = batch
        sql, at_json, uuid_json = _PG_SELECT, _pg_at, _pg_uuid
    else:
        cursor = driver.cursor()
        sql = _SQLITE_SELECT
        at_json, uuid_json = _sqlite_formatters(dialect)
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch):
            yield from chain.canonical_rows(rows, at_json, uuid_json)
    finally:
        cursor.close()


def verify_all(
    session: Session, provider: KeyProvider, data_dir: Path, *, witness: str | None = None
) -> Verification:
    """Replay the chain from genesis, then hold every checkpoint (stored and exported) to it,
    and the newest signed head of the data directory and of the witness (a directory, or a
    copy of what an https witness received)."""
    public_key = provider.audit_signing_key().public_key()
    known = checkpoints.stored(session) + checkpoints.exported(data_dir)
    # A signed head covers all before it (the chain is hash-linked): the newest of each source
    # is held to the chain; the others are superseded and not checked one by one.
    heads = [*checkpoints.local_head(data_dir)]
    witnessed = checkpoints.witnessed(witness) if witness else None
    if witnessed:
        heads.append(max(witnessed, key=lambda c: c.size))
    replay = chain.verify_canonical(
        _canonical_rows(session), keep={c.size for c in known} | {c.size for c in heads}
    )
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
    labelled = [("signed checkpoint", c) for c in known] + [("signed head", c) for c in heads]
    for kind, cp in labelled:
        if not checkpoints.signature_ok(cp, public_key):
            return Verification(
                False,
                replay.entries,
                head,
                cp.size,
                f"{kind} ({cp.source}) has a bad signature",
            )
        if cp.size > replay.entries:
            return Verification(
                False,
                replay.entries,
                head,
                replay.entries + 1,
                f"entries {replay.entries + 1} to {cp.size} are missing: a {kind} "
                f"({cp.source}) saw {cp.size} entries",
            )
        if hashes.get(cp.size) != cp.head:
            return Verification(
                False, replay.entries, head, cp.size, f"{kind} ({cp.source}) does not match"
            )
    return Verification(
        True,
        replay.entries,
        head,
        checkpoints=len(known),
        signed_head=max((c.size for c in heads), default=None),
        witness=_witness_state(witness, witnessed, replay.entries),
    )


def _witness_state(
    witness: str | None, witnessed: list[checkpoints.Checkpoint] | None, entries: int
) -> str | None:
    if not witness:
        return None
    if witnessed is None:
        return "an https endpoint, not read back (verify a copy of what it received)"
    if not witnessed:
        return f"no signed head received yet in {witness}" if entries else "nothing to witness"
    newest = max(c.size for c in witnessed)
    return f"the newest witnessed head ({newest} entries) matches"
