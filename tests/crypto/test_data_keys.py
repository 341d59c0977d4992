"""Per-owner data keys live wrapped in the database and open values after a restart."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from app.crypto import Crypto, DataKey, DecryptionError, Pad, UnknownKeyError, crypto_of
from app.crypto.keyring import FileKeyProvider
from app.crypto.keys import DataKeyCache
from app.db import make_sessionmaker, transaction
from app.models.keys import RecordKey

from .support import NAME, assert_all_open, cold_sessions, name_of, seal_names


def test_wrapped_keys_in_the_database_open_values_with_a_cold_cache(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    sealed = seal_names(app.state.sessionmaker, 25)

    cold = cold_sessions(app)
    with cold() as session:
        crypto = crypto_of(session)
    assert crypto is not app.state.crypto
    assert crypto.keys.cache.unwraps == 0
    assert_all_open(cold, sealed)
    assert crypto.keys.cache.unwraps == len(sealed)  # each key came from its database row

    with transaction(cold) as session:
        rows = session.scalars(select(RecordKey).where(RecordKey.owner_id.in_(sealed))).all()
    assert len(rows) == len(sealed)
    assert {row.kek_version for row in rows} == {crypto.provider.current_kek_version()}
    assert all(row.wrapped is not None and len(row.wrapped) == 12 + 32 + 16 for row in rows)
    assert len({row.wrapped for row in rows}) == len(rows)
    assert all(row.owner_type == "individual" and row.destroyed_at is None for row in rows)


def test_key_id_in_the_header_is_the_database_row(app: FastAPI) -> None:
    owner = uuid.uuid4()
    with transaction(app.state.sessionmaker) as session:
        crypto = crypto_of(session)
        key = crypto.keys.create(session, owner, "individual")
        sealed = crypto.seal(key, NAME, owner, "Sok Dara", pad=Pad.SHORT)
        row_id = session.scalar(select(RecordKey.id).where(RecordKey.owner_id == owner))
    assert key.key_id == row_id
    assert int.from_bytes(sealed[2:6], "big") == row_id


def _wrapped_of(app: FastAPI, owners: list[uuid.UUID]) -> dict[uuid.UUID, bytes]:
    with transaction(app.state.sessionmaker) as session:
        rows = session.execute(
            select(RecordKey.owner_id, RecordKey.wrapped).where(RecordKey.owner_id.in_(owners))
        ).all()
    return dict(rows)  # type: ignore[arg-type]


def _set_wrapped(app: FastAPI, wrapped: dict[uuid.UUID, bytes]) -> None:
    with transaction(app.state.sessionmaker) as session:
        for owner, value in wrapped.items():
            session.execute(
                update(RecordKey).where(RecordKey.owner_id == owner).values(wrapped=value)
            )


def test_damaged_wrapped_key_does_not_open(app: FastAPI) -> None:
    sealed = seal_names(app.state.sessionmaker, 2)
    victim = next(iter(sealed))
    original = _wrapped_of(app, [victim])
    damaged = bytearray(original[victim])
    damaged[20] ^= 0x01
    _set_wrapped(app, {victim: bytes(damaged)})
    try:
        with transaction(cold_sessions(app)) as session, pytest.raises(DecryptionError):
            crypto_of(session).open(session, NAME, victim, victim, sealed[victim], pad=Pad.SHORT)
    finally:
        _set_wrapped(app, original)  # the shared database stays readable for other tests
    assert_all_open(cold_sessions(app), sealed)


def test_wrapped_keys_swapped_between_owners_do_not_open(app: FastAPI) -> None:
    sealed = seal_names(app.state.sessionmaker, 2)
    dara, sokha = list(sealed)
    original = _wrapped_of(app, [dara, sokha])
    _set_wrapped(app, {dara: original[sokha], sokha: original[dara]})
    try:
        cold = cold_sessions(app)
        for owner in (dara, sokha):
            with transaction(cold) as session, pytest.raises(DecryptionError):
                crypto_of(session).open(session, NAME, owner, owner, sealed[owner], pad=Pad.SHORT)
    finally:
        _set_wrapped(app, original)
    assert_all_open(cold_sessions(app), sealed)


def test_database_is_unreadable_with_another_keyring(app: FastAPI, tmp_path: Path) -> None:
    sealed = seal_names(app.state.sessionmaker, 3)
    stranger = Crypto(FileKeyProvider.create(tmp_path / "other" / "master.key", development=True))
    factory = make_sessionmaker(app.state.engine, stranger)
    for owner, value in sealed.items():
        with transaction(factory) as session, pytest.raises(DecryptionError):
            crypto_of(session).open(session, NAME, owner, owner, value, pad=Pad.SHORT)


def test_current_key_is_the_newest_live_one(app: FastAPI) -> None:
    owner = uuid.uuid4()
    with transaction(app.state.sessionmaker) as session:
        crypto = crypto_of(session)
        with pytest.raises(UnknownKeyError):
            crypto.keys.current(session, owner)
        first = crypto.keys.current_or_create(session, owner, "individual")
        assert crypto.keys.current_or_create(session, owner, "individual").key_id == first.key_id
        second = crypto.keys.create(session, owner, "individual")
        assert second.key_id > first.key_id
        old = crypto.seal(first, NAME, owner, name_of(owner), pad=Pad.SHORT)
    cold = cold_sessions(app)
    with transaction(cold) as session:
        crypto = crypto_of(session)
        assert crypto.keys.current(session, owner).key_id == second.key_id
        # Values sealed under the older key still open.
        assert crypto.open(session, NAME, owner, owner, old, pad=Pad.SHORT) == name_of(owner)


def test_key_cache_is_bounded_and_expires() -> None:
    owner = uuid.uuid4()
    keys = [DataKey.from_bytes(i, owner, bytes([i]) * 32) for i in range(1, 4)]
    cache = DataKeyCache(2, 300.0)
    for key in keys:
        cache.put(key)
    assert cache.get(1) is None  # least recently used, evicted
    assert cache.get(2) is keys[1] and cache.get(3) is keys[2]

    cache.get(2)  # 2 is now the most recent, so 3 goes next
    cache.put(DataKey.from_bytes(4, owner, b"\x04" * 32))
    assert cache.get(3) is None and cache.get(2) is keys[1]

    short = DataKeyCache(10, 0.05)
    short.put(keys[0])
    assert short.get(1) is keys[0]
    time.sleep(0.1)
    assert short.get(1) is None


def test_cached_key_is_not_served_for_another_owner(app: FastAPI) -> None:
    sealed = seal_names(app.state.sessionmaker, 2)
    dara, sokha = list(sealed)
    with transaction(app.state.sessionmaker) as session:
        crypto = crypto_of(session)
        # Dara's key is in the cache; asking for it as Sokha's must still fail.
        assert crypto.open(session, NAME, dara, dara, sealed[dara], pad=Pad.SHORT)
        with pytest.raises(UnknownKeyError):
            crypto.open(session, NAME, dara, sokha, sealed[dara], pad=Pad.SHORT)
