"""Audit entry hashing and chain verification (pure: no session, no I/O)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = b"\x00" * 32
DOMAIN = b"haven-audit-v1\x00"
FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_label",
    "actor_role",
    "action",
    "subject_type",
    "subject_id",
    "outcome",
    "request_id",
    "client",
    "details",
)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def canonical(fields: Mapping[str, Any]) -> bytes:
    """JSON with sorted keys and no spaces: one byte string per entry, never concatenation."""
    body = {name: _plain(fields.get(name)) for name in FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: bytes, fields: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(DOMAIN + prev_hash + canonical(fields)).digest()


@dataclass
class ChainResult:
    ok: bool
    entries: int
    head: bytes
    first_bad: int | None = None
    reason: str | None = None
    hashes: dict[int, bytes] | None = None


def verify(rows: Iterable[Mapping[str, Any]], *, keep: set[int] | None = None) -> ChainResult:
    """Replay the chain from genesis in seq order; stop at the first bad entry.

    ``keep`` names sizes whose head hash the caller wants (to check checkpoints against).
    """
    prev, expected_seq, count = GENESIS, 1, 0
    hashes: dict[int, bytes] = {0: GENESIS}
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            reason = "a gap in the sequence" if seq > expected_seq else "entries out of order"
            return ChainResult(False, count, prev, first_bad=expected_seq, reason=reason)
        if row["prev_hash"] != prev:
            return ChainResult(False, count, prev, first_bad=seq, reason="wrong previous hash")
        computed = entry_hash(prev, row)
        if computed != row["entry_hash"]:
            return ChainResult(False, count, prev, first_bad=seq, reason="contents altered")
        prev, expected_seq, count = computed, seq + 1, count + 1
        if keep is not None and seq in keep:
            hashes[seq] = computed
    return ChainResult(True, count, prev, hashes=hashes)
