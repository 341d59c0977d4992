"""The hash chain itself (app.audit.chain): pure, no database."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest

from app.audit import chain

AT = dt.datetime(2026, 11, 21, 20, 22, 4, 126654, tzinfo=dt.UTC)
ACTOR = uuid.UUID("0b7e4c52-5d0f-4a8e-9a57-3f0a6c1d2e11")
SUBJECT = uuid.UUID("6f1c2d3e-4b5a-4978-8c6d-1e2f3a4b5c6d")


def fields(seq: int = 1, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "seq": seq,
        "at": AT + dt.timedelta(seconds=seq),
        "actor_id": ACTOR,
        "actor_label": "auditor-1",
        "actor_role": "auditor",
        "action": f"individual.read.{seq}",
        "subject_type": "individual",
        "subject_id": SUBJECT,
        "outcome": "ok",
        "request_id": f"req-{seq}",
        "client": "c0ffee",
        "details": '{"count":1}',
    }
    base.update(changes)
    return base


def build(n: int) -> list[dict[str, Any]]:
    """A chain of n entries, linked exactly as app.audit.service.append links them."""
    rows, prev = [], chain.GENESIS
    for seq in range(1, n + 1):
        row = {**fields(seq), "prev_hash": prev}
        row["entry_hash"] = prev = chain.entry_hash(prev, row)
        rows.append(row)
    return rows


def rehash(row: dict[str, Any]) -> dict[str, Any]:
    """What a forger who knows the algorithm (but holds no key) would do to a row."""
    return {**row, "entry_hash": chain.entry_hash(row["prev_hash"], row)}


# Canonical encoding ---------------------------------------------------------------------------
def test_canonical_encoding_is_a_known_byte_string() -> None:
    expected = (
        b'{"action":"individual.read.1","actor_id":"0b7e4c52-5d0f-4a8e-9a57-3f0a6c1d2e11",'
        b'"actor_label":"auditor-1","actor_role":"auditor",'
        b'"at":"2026-11-21T20:22:05.126654+00:00","client":"c0ffee",'
        b'"details":"{\\"count\\":1}","outcome":"ok","request_id":"req-1",'
        b'"seq":1,"subject_id":"6f1c2d3e-4b5a-4978-8c6d-1e2f3a4b5c6d",'
        b'"subject_type":"individual"}'
    )
    assert chain.canonical(fields(1)) == expected
    # entry_hash = SHA-256(domain || prev_hash || canonical), with the documented domain tag.
    assert chain.DOMAIN == b"haven-audit-v1\x00"
    assert chain.GENESIS == b"\x00" * 32
    assert (
        chain.entry_hash(chain.GENESIS, fields(1))
        == hashlib.sha256(b"haven-audit-v1\x00" + b"\x00" * 32 + expected).digest()
    )


def test_canonical_encoding_is_stable_and_independent_of_key_order() -> None:
    one = fields(7)
    reversed_order = dict(reversed(list(one.items())))
    assert list(reversed_order) != list(one)
    assert chain.canonical(one) == chain.canonical(reversed_order) == chain.canonical(fields(7))
    assert chain.entry_hash(b"\x01" * 32, one) == chain.entry_hash(b"\x01" * 32, reversed_order)
    # Columns that are not part of the entry's body (its own hash) do not change it.
    assert chain.canonical({**one, "entry_hash": b"x" * 32}) == chain.canonical(one)


def test_canonical_encoding_is_valid_json_of_every_field() -> None:
    decoded = json.loads(chain.canonical(fields(3)))
    assert set(decoded) == set(chain.FIELDS)
    assert decoded["seq"] == 3
    assert decoded["actor_id"] == str(ACTOR)


def test_the_same_instant_in_another_time_zone_encodes_the_same() -> None:
    elsewhere = AT.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    assert chain.canonical(fields(1, at=elsewhere)) == chain.canonical(fields(1, at=AT))
    # A missing field and an explicit None are the same entry.
    partial = fields(1)
    del partial["client"]
    assert chain.canonical(partial) == chain.canonical(fields(1, client=None))


def test_values_cannot_be_crafted_to_collide_with_other_fields() -> None:
    """JSON, never concatenation: a value that looks like another field stays a value."""
    honest = fields(1, actor_label="alice", action="case.read")
    injected = fields(1, actor_label='alice","action":"case.read', action="x")
    assert chain.canonical(honest) != chain.canonical(injected)
    assert json.loads(chain.canonical(injected))["actor_label"] == 'alice","action":"case.read'
    newline = fields(1, details='{"note":"ok"}\n{"seq":2}')
    assert b"\n" not in chain.canonical(newline)


# Every field is covered by the hash ------------------------------------------------------------
CHANGES: dict[str, Any] = {
    "seq": 2,
    "at": AT + dt.timedelta(seconds=1, microseconds=1),
    "actor_id": uuid.UUID(int=1),
    "actor_label": "auditor-2",
    "actor_role": "admin",
    "action": "individual.erase",
    "subject_type": "case",
    "subject_id": uuid.UUID(int=2),
    "outcome": "denied",
    "request_id": "req-forged",
    "client": "deadbeef",
    "details": '{"count":2}',
}


def test_every_field_has_a_change_to_try() -> None:
    assert set(CHANGES) == set(chain.FIELDS)


@pytest.mark.parametrize("name", chain.FIELDS)
def test_entry_hash_changes_when_any_field_changes(name: str) -> None:
    prev = b"\x42" * 32
    original = fields(1)
    assert CHANGES[name] != original[name]
    assert chain.entry_hash(prev, {**original, name: CHANGES[name]}) != chain.entry_hash(
        prev, original
    )
    # Removing a value (None) changes it too.
    assert chain.entry_hash(prev, {**original, name: None}) != chain.entry_hash(prev, original)


def test_entry_hash_changes_when_the_previous_hash_changes() -> None:
    assert chain.entry_hash(b"\x00" * 32, fields(1)) != chain.entry_hash(
        b"\x00" * 31 + b"\x01", fields(1)
    )


# Verification of a whole chain -----------------------------------------------------------------
N = 12


def test_an_intact_chain_verifies_with_the_right_head() -> None:
    rows = build(N)
    result = chain.verify(rows)
    assert result.ok
    assert result.entries == N
    assert result.head == rows[-1]["entry_hash"]
    assert result.first_bad is None


def test_an_empty_chain_verifies_at_genesis() -> None:
    result = chain.verify([])
    assert result.ok
    assert result.entries == 0
    assert result.head == chain.GENESIS


def test_verify_keeps_the_hashes_asked_for() -> None:
    rows = build(N)
    result = chain.verify(rows, keep={3, N})
    assert result.hashes is not None
    assert result.hashes[3] == rows[2]["entry_hash"]
    assert result.hashes[N] == rows[-1]["entry_hash"]


@pytest.mark.parametrize("k", [1, 5, N])
@pytest.mark.parametrize("name", [n for n in chain.FIELDS if n != "seq"])
def test_altering_any_field_of_entry_k_is_detected(name: str, k: int) -> None:
    rows = build(N)
    rows[k - 1] = {**rows[k - 1], name: CHANGES[name]}
    result = chain.verify(rows)
    assert not result.ok
    assert result.first_bad == k
    assert result.entries == k - 1
    assert result.head == (rows[k - 2]["entry_hash"] if k > 1 else chain.GENESIS)


@pytest.mark.parametrize("k", [1, 5, N])
def test_altering_entry_k_and_recomputing_its_hash_is_detected_at_the_next(k: int) -> None:
    rows = build(N)
    rows[k - 1] = rehash({**rows[k - 1], "action": "forged"})
    result = chain.verify(rows)
    if k == N:
        # The last entry alone can be rewritten undetected: that is what checkpoints are for.
        assert result.ok
    else:
        assert not result.ok
        assert result.first_bad == k + 1


@pytest.mark.parametrize("k", [1, 2, 6, N])
def test_altering_the_stored_seq_of_entry_k_is_detected(k: int) -> None:
    rows = build(N)
    rows[k - 1] = {**rows[k - 1], "seq": N + 5}
    result = chain.verify(rows)
    assert not result.ok
    assert result.first_bad == k


@pytest.mark.parametrize("k", [1, 2, 6, N - 1])
def test_deleting_entry_k_is_detected(k: int) -> None:
    rows = build(N)
    del rows[k - 1]
    result = chain.verify(rows)
    assert not result.ok
    assert result.first_bad == k
    assert result.entries == k - 1


@pytest.mark.parametrize("k", [1, 2, 6, N - 1])
def test_deleting_entry_k_and_renumbering_the_rest_is_detected(k: int) -> None:
    rows = build(N)
    del rows[k - 1]
    rows = [{**row, "seq": seq} for seq, row in enumerate(rows, start=1)]
    result = chain.verify(rows)
    assert not result.ok
    assert result.first_bad == k


@pytest.mark.parametrize(("a", "b"), [(1, 2), (3, 4), (2, 9), (N - 1, N)])
def test_swapping_two_entries_is_detected(a: int, b: int) -> None:
    rows = build(N)
    rows[a - 1], rows[b - 1] = rows[b - 1], rows[a - 1]
    result = chain.verify(rows)
    assert not result.ok
    assert result.first_bad == a


@pytest.mark.parametrize(("a", "b"), [(1, 2), (3, 4), (2, 9), (N - 1, N)])
def test_swapping_two_entries_and_their_seq_is_detected(a: int, b: int) -> None:
    """What a database administrator does: exchange the seq of two rows."""
    rows = build(N)
    rows[a - 1], rows[b - 1] = (
        {**rows[b - 1], "seq": a},
        {**rows[a - 1], "seq": b},
    )
    result = chain.verify(rows)
    assert not result.ok
    assert result.first_bad == a


@pytest.mark.parametrize("k", [1, 4, N])
def test_inserting_a_forged_entry_is_detected(k: int) -> None:
    """A well-formed forgery at seq k (right prev_hash, own hash recomputed, later entries
    renumbered) breaks the link to the entry after it."""
    rows = build(N)
    prev = rows[k - 2]["entry_hash"] if k > 1 else chain.GENESIS
    forged = rehash({**fields(k, action="case.close", actor_label="nobody"), "prev_hash": prev})
    shifted = [{**row, "seq": row["seq"] + 1} for row in rows[k - 1 :]]
    result = chain.verify([*rows[: k - 1], forged, *shifted])
    assert not result.ok
    assert result.first_bad == k + 1
    assert result.entries == k


@pytest.mark.parametrize("k", [1, 4, N])
def test_inserting_a_crudely_forged_entry_is_detected_at_itself(k: int) -> None:
    rows = build(N)
    forged = {**fields(k), "prev_hash": b"\x00" * 32, "entry_hash": b"\x11" * 32}
    shifted = [{**row, "seq": row["seq"] + 1} for row in rows[k - 1 :]]
    result = chain.verify([*rows[: k - 1], forged, *shifted])
    assert not result.ok
    assert result.first_bad == k


@pytest.mark.parametrize("k", [1, 2, 7, N])
def test_changing_prev_hash_of_entry_k_is_detected(k: int) -> None:
    rows = build(N)
    rows[k - 1] = {**rows[k - 1], "prev_hash": b"\x07" * 32}
    result = chain.verify(rows)
    assert not result.ok
    assert result.first_bad == k
    assert result.reason == "wrong previous hash"


@pytest.mark.parametrize("k", [2, 7, N])
def test_changing_prev_hash_and_rehashing_entry_k_is_detected(k: int) -> None:
    rows = build(N)
    rows[k - 1] = rehash({**rows[k - 1], "prev_hash": rows[k - 3]["entry_hash"] if k > 2 else b""})
    result = chain.verify(rows)
    assert not result.ok
    assert result.first_bad == k


@pytest.mark.parametrize("k", [1, 5, N])
def test_altering_the_stored_entry_hash_of_entry_k_is_detected(k: int) -> None:
    rows = build(N)
    rows[k - 1] = {**rows[k - 1], "entry_hash": b"\x99" * 32}
    result = chain.verify(rows)
    assert not result.ok
    assert result.first_bad == k


def test_a_chain_that_does_not_start_at_one_is_detected() -> None:
    rows = build(N)[3:]
    result = chain.verify(rows)
    assert not result.ok
    assert result.first_bad == 1
