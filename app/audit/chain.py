"""Audit entry hashing and chain verification (pure: no session, no I/O)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


# The canonical JSON object, keys sorted, with one slot per field; built by formatting rather
# than json.dumps of a dict, since verification hashes every entry of the chain.
_ORDER = sorted(range(len(FIELDS)), key=lambda i: FIELDS[i])
_SORTED_FIELDS = (
    "action",
    "actor_id",
    "actor_label",
    "actor_role",
    "at",
    "client",
    "details",
    "outcome",
    "request_id",
    "seq",
    "subject_id",
    "subject_type",
)  # the order canonical_rows writes
assert tuple(FIELDS[i] for i in _ORDER) == _SORTED_FIELDS
_TEMPLATE = "{" + ",".join(f'"{FIELDS[i]}":%s' for i in _ORDER) + "}"
_string = json.encoder.encode_basestring  # the escaping of json.dumps(..., ensure_ascii=False)


def _json(value: Any) -> str:
    """One value as json.dumps(..., ensure_ascii=False) writes it, datetimes in UTC with
    microseconds and UUIDs in their hyphenated form."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is int:
        return int.__repr__(value)
    if isinstance(value, dt.datetime):
        return _string(value.astimezone(dt.UTC).isoformat(timespec="microseconds"))
    if isinstance(value, uuid.UUID):
        return f'"{value}"'
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def canonical_values(values: Sequence[Any]) -> bytes:
    """``canonical`` of the values of FIELDS, in that order."""
    return (_TEMPLATE % tuple(_json(values[i]) for i in _ORDER)).encode()


def canonical(fields: Mapping[str, Any]) -> bytes:
    """JSON with sorted keys and no spaces: one byte string per entry, never concatenation."""
    return canonical_values([fields.get(name) for name in FIELDS])


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
    names = (*FIELDS, "prev_hash", "entry_hash")
    return verify_tuples((tuple(row.get(n) for n in names) for row in rows), keep=keep)


def verify_tuples(rows: Iterable[Sequence[Any]], *, keep: set[int] | None = None) -> ChainResult:
    """``verify`` over rows of (the values of FIELDS, prev_hash, entry_hash)."""
    n = len(FIELDS)
    return verify_canonical(
        ((row[0], canonical_values(row), row[n], row[n + 1]) for row in rows), keep=keep
    )


def canonical_rows(
    rows: Iterable[Sequence[Any]],
    at_json: Callable[[Any], str],
    uuid_json: Callable[[Any], str],
) -> Iterator[tuple[Any, bytes, Any, Any]]:
    """Rows of (FIELDS as the database driver returns them, prev_hash, entry_hash) as rows of
    (seq, canonical bytes, prev_hash, entry_hash), for ``verify_canonical``.

    ``at_json`` and ``uuid_json`` turn the driver's form of the timestamp and of a UUID into
    exactly what ``_json`` writes for the value it stands for; every other column is a string,
    an integer or NULL, written as ``_json`` writes it. Flat and call-free per row, since
    verification does this for every entry of the chain.
    """
    template, string, json_ = _TEMPLATE, _string, _json
    int_repr = int.__repr__
    for (
        seq,
        at,
        actor_id,
        actor_label,
        actor_role,
        action,
        subject_type,
        subject_id,
        outcome,
        request_id,
        client,
        details,
        prev_hash,
        entry_hash,
    ) in rows:
        # The keys of the canonical object in sorted order (see _SORTED_FIELDS).
        text = template % (
            string(action) if type(action) is str else json_(action),
            uuid_json(actor_id),
            string(actor_label) if type(actor_label) is str else json_(actor_label),
            string(actor_role) if type(actor_role) is str else json_(actor_role),
            at_json(at),
            string(client) if type(client) is str else json_(client),
            string(details) if type(details) is str else json_(details),
            string(outcome) if type(outcome) is str else json_(outcome),
            string(request_id) if type(request_id) is str else json_(request_id),
            int_repr(seq) if type(seq) is int else json_(seq),
            uuid_json(subject_id),
            string(subject_type) if type(subject_type) is str else json_(subject_type),
        )
        yield seq, text.encode(), prev_hash, entry_hash


def verify_canonical(
    rows: Iterable[tuple[Any, bytes, Any, Any]], *, keep: set[int] | None = None
) -> ChainResult:
    """``verify`` over rows of (seq, canonical bytes, prev_hash, entry_hash)."""
    prev, expected_seq, count = GENESIS, 1, 0
    hashes: dict[int, bytes] = {0: GENESIS}
    sha256 = hashlib.sha256
    for seq, canonical_bytes, prev_hash, stored_hash in rows:
        if seq != expected_seq:
            reason = "a gap in the sequence" if seq > expected_seq else "entries out of order"
            return ChainResult(False, count, prev, first_bad=expected_seq, reason=reason)
        if prev_hash != prev:
            return ChainResult(False, count, prev, first_bad=seq, reason="wrong previous hash")
        computed = sha256(DOMAIN + prev + canonical_bytes).digest()
        if computed != stored_hash:
            return ChainResult(False, count, prev, first_bad=seq, reason="contents altered")
        prev, expected_seq, count = computed, seq + 1, count + 1
        if keep is not None and seq in keep:
            hashes[seq] = computed
    return ChainResult(True, count, prev, hashes=hashes)
