"""Shared helpers for the encryption-at-rest tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.crypto import Crypto, DataKey, FieldSlot, Pad, crypto_of
from app.crypto.keyring import FileKeyProvider, wrap_aad
from app.db import make_sessionmaker, transaction
from app.models.keys import RecordKey

NAME = FieldSlot("individual", "full_name")


def cold_sessions(app: FastAPI) -> sessionmaker[Session]:
    """Sessions on the app's database carrying a brand-new Crypto read from the keyring file:
    nothing cached, so every data key must be unwrapped from its database row."""
    crypto = Crypto(FileKeyProvider(app.state.settings.key_file))
    return make_sessionmaker(app.state.engine, crypto)


def name_of(owner: uuid.UUID) -> str:
    return f"Sokha {owner.hex[:12]}"


def seal_names(factory: sessionmaker[Session], count: int) -> dict[uuid.UUID, bytes]:
    """A data key and a sealed name for each of ``count`` new owners (row id = owner id)."""
    sealed: dict[uuid.UUID, bytes] = {}
    with transaction(factory) as session:
        crypto = crypto_of(session)
        for _ in range(count):
            owner = uuid.uuid4()
            key = crypto.keys.create(session, owner, "individual")
            sealed[owner] = crypto.seal(key, NAME, owner, name_of(owner), pad=Pad.SHORT)
    return sealed


def seal_names_in_bulk(factory: sessionmaker[Session], count: int) -> dict[uuid.UUID, bytes]:
    """As ``seal_names`` for thousands of owners: the rows DataKeys.create writes, but in one
    INSERT and one UPDATE instead of two statements per owner. Every value is later opened
    through the service path, so a mismatch with DataKeys.create would fail loudly."""
    sealed: dict[uuid.UUID, bytes] = {}
    with transaction(factory) as session:
        crypto = crypto_of(session)
        provider = crypto.provider
        rows = [
            RecordKey(owner_id=uuid.uuid4(), owner_type="individual", kek_version=0)
            for _ in range(count)
        ]
        session.add_all(rows)
        session.flush()
        version = provider.current_kek_version()
        for row in rows:
            material = os.urandom(32)
            row.kek_version = version
            row.wrapped = provider.wrap(version, material, wrap_aad(row.owner_id, row.id, version))
            key = DataKey.from_bytes(row.id, row.owner_id, material)
            sealed[row.owner_id] = crypto.seal(
                key, NAME, row.owner_id, name_of(row.owner_id), pad=Pad.SHORT
            )
    return sealed


def open_names(factory: sessionmaker[Session], sealed: dict[uuid.UUID, bytes]) -> dict:
    with transaction(factory) as session:
        crypto = crypto_of(session)
        return {
            owner: crypto.open(session, NAME, owner, owner, value, pad=Pad.SHORT)
            for owner, value in sealed.items()
        }


def assert_all_open(factory: sessionmaker[Session], sealed: dict[uuid.UUID, bytes]) -> None:
    opened = open_names(factory, sealed)
    wrong = [owner for owner, value in opened.items() if value != name_of(owner)]
    assert not wrong, f"{len(wrong)} of {len(sealed)} values did not open to their plaintext"


def versions(session: Session, owners: Iterable[uuid.UUID] | None = None) -> dict[int, int]:
    """Live data keys per KEK version."""
    query = (
        select(RecordKey.kek_version, func.count())
        .where(RecordKey.wrapped.is_not(None))
        .group_by(RecordKey.kek_version)
    )
    if owners is not None:
        query = query.where(RecordKey.owner_id.in_(list(owners)))
    return {version: count for version, count in session.execute(query).all()}
