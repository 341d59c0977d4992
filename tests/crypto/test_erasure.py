"""Crypto-shredding: an erased owner's values never open again, and the key bytes are gone."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.crypto import Crypto, Pad, UnknownKeyError, crypto_of
from app.crypto.erasure import shred
from app.crypto.keyring import FileKeyProvider
from app.db import make_sessionmaker, transaction
from app.models.keys import RecordKey

from .support import NAME, assert_all_open, cold_sessions, name_of, seal_names

SQLITE = os.environ.get("HAVEN_TEST_DATABASE", "sqlite") == "sqlite"


def _sqlite_bytes(app: FastAPI) -> bytes:
    """The database file with its -wal and -shm files, as a thief copying the folder gets them."""
    path: Path = app.state.settings.sqlite_path
    parts = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def _contains(haystack: bytes, needle: bytes) -> bool:
    return haystack.find(needle) >= 0  # keeps megabytes of file out of failure messages


def _open(factory, owner, sealed):  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        return crypto_of(session).open(session, NAME, owner, owner, sealed, pad=Pad.SHORT)


def test_shredded_owner_never_opens_again(app: FastAPI) -> None:
    factory = app.state.sessionmaker
    sealed = seal_names(factory, 5)
    victim = next(iter(sealed))
    assert _open(factory, victim, sealed[victim]) == name_of(victim)  # its key is now cached

    with transaction(factory) as session:
        assert shred(session, victim) == 1

    # The running service (cached key forgotten), a restarted one, and one started much later.
    with pytest.raises(UnknownKeyError, match="unknown, destroyed"):
        _open(factory, victim, sealed[victim])
    with pytest.raises(UnknownKeyError):
        _open(cold_sessions(app), victim, sealed[victim])
    seal_names(factory, 20)  # later keys never take the erased key's id
    with transaction(factory) as session:
        crypto_of(session).keys.create(session, victim, "individual")  # the person returns
    with pytest.raises(UnknownKeyError):
        _open(cold_sessions(app), victim, sealed[victim])
    fresh = make_sessionmaker(
        app.state.engine, Crypto(FileKeyProvider(app.state.settings.key_file))
    )
    with pytest.raises(UnknownKeyError):
        _open(fresh, victim, sealed[victim])

    survivors = {owner: value for owner, value in sealed.items() if owner != victim}
    assert_all_open(cold_sessions(app), survivors)


def test_shredding_removes_the_wrapped_key_and_keeps_a_tombstone(app: FastAPI) -> None:
    factory = app.state.sessionmaker
    sealed = seal_names(factory, 3)
    victim = next(iter(sealed))
    with transaction(factory) as session:
        crypto_of(session).keys.create(session, victim, "individual")  # a second key
    with transaction(factory) as session:
        assert shred(session, victim) == 2
    with transaction(factory) as session:
        rows = session.scalars(select(RecordKey).where(RecordKey.owner_id == victim)).all()
        assert len(rows) == 2
        assert all(row.wrapped is None and row.destroyed_at is not None for row in rows)
        with pytest.raises(UnknownKeyError):
            crypto_of(session).keys.current(session, victim)
        others = session.scalars(
            select(RecordKey).where(RecordKey.owner_id.in_(list(sealed)[1:]))
        ).all()
        assert len(others) == 2
        assert all(row.wrapped is not None and row.destroyed_at is None for row in others)
        assert shred(session, victim) == 2  # erasing again is harmless


def test_rolled_back_shred_keeps_the_key(app: FastAPI) -> None:
    factory = app.state.sessionmaker
    sealed = seal_names(factory, 1)
    victim = next(iter(sealed))

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), transaction(factory) as session:
        shred(session, victim)
        raise Abandon
    assert _open(cold_sessions(app), victim, sealed[victim]) == name_of(victim)


@pytest.mark.skipif(not SQLITE, reason="inspects the SQLite database and WAL files")
def test_shredded_key_bytes_are_gone_from_the_sqlite_files(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    factory = app.state.sessionmaker
    sealed = seal_names(factory, 30)
    victim = list(sealed)[10]
    with transaction(factory) as session:
        wrapped = session.scalar(select(RecordKey.wrapped).where(RecordKey.owner_id == victim))
        survivor_wrapped = session.scalars(
            select(RecordKey.wrapped).where(RecordKey.owner_id != victim)
        ).all()
    assert wrapped is not None and len(wrapped) == 60
    assert _contains(_sqlite_bytes(app), wrapped)  # the scan sees key bytes where they are

    with transaction(factory) as session:
        shred(session, victim)

    raw = _sqlite_bytes(app)
    assert not _contains(raw, wrapped)
    assert not _contains(raw, wrapped[:16]) and not _contains(raw, wrapped[-16:])
    assert all(_contains(raw, w) for w in survivor_wrapped)  # and still sees the live keys
    wal = Path(f"{app.state.settings.sqlite_path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated
