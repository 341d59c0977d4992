"""Per-owner data keys: created, unwrapped through a bounded cache, destroyed on erasure.

Several processes (workers, the ``haven`` command) share one database, each with its own cache.
A key one of them destroys must stop opening in all of them at once, not when their cached copy
expires: ``destroy`` bumps the erasure generation (``key_erasure``), and every transaction reads
it (one primary-key lookup) before it trusts a key from the cache; a generation it has not seen
drops the whole cache. Erasures are rare, so the cost is that lookup.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.orm import Session

from app.crypto.envelope import CryptoError, DataKey, UnknownKeyError
from app.crypto.keyring import KeyProvider, wrap_aad
from app.models.base import utcnow
from app.models.bulk import reserve_ids
from app.models.keys import KeyErasure, RecordKey

ERASURE_ROW = 1
_CHECKED = "haven_key_erasure_checked"  # session.info: the transaction that read the generation


class DataKeyCache:
    """A small LRU of unwrapped data keys with a time-to-live, safe across threads."""

    def __init__(self, size: int, ttl_seconds: float) -> None:
        self.size, self.ttl = size, ttl_seconds
        self._items: OrderedDict[int, tuple[float, DataKey]] = OrderedDict()
        self._lock = threading.Lock()
        self.generation: int | None = None  # the erasure generation the cached keys are from
        self.unwraps = 0  # unwrap volume is watched: mass exfiltration shows up as many unwraps

    def get(self, key_id: int) -> DataKey | None:
        with self._lock:
            item = self._items.get(key_id)
            if item is None:
                return None
            if item[0] < time.monotonic():
                del self._items[key_id]
                return None
            self._items.move_to_end(key_id)
            return item[1]

    def put(self, key: DataKey) -> None:
        with self._lock:
            self._items[key.key_id] = (time.monotonic() + self.ttl, key)
            self._items.move_to_end(key.key_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def forget(self, key_ids: list[int]) -> None:
        with self._lock:
            for key_id in key_ids:
                self._items.pop(key_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def observe(self, generation: int) -> None:
        """Keys were destroyed somewhere since ``generation`` changed: drop every cached key."""
        with self._lock:
            if self.generation != generation:
                self._items.clear()
                self.generation = generation


class DataKeys:
    """The data keys of every owner, wrapped by the provider's current KEK."""

    def __init__(self, provider: KeyProvider, cache: DataKeyCache) -> None:
        self.provider = provider
        self.cache = cache

    def create(self, session: Session, owner_id: uuid.UUID, owner_type: str) -> DataKey:
        """A new random key for an owner, written wrapped in one statement (its id, which goes
        into the wrap AAD and every ciphertext header, is taken first)."""
        return self.create_many(session, [owner_id], owner_type)[owner_id]

    def create_many(
        self, session: Session, owner_ids: list[uuid.UUID], owner_type: str
    ) -> dict[uuid.UUID, DataKey]:
        """A new key for each owner, in one statement however many owners (an import)."""
        if not owner_ids:
            return {}
        key_ids = reserve_ids(session, RecordKey.id, len(owner_ids))
        version = self.provider.current_kek_version()
        keys: dict[uuid.UUID, DataKey] = {}
        rows = []
        for owner, key_id in zip(owner_ids, key_ids, strict=True):
            material = os.urandom(32)
            aad = wrap_aad(owner, key_id, version)
            rows.append(
                {
                    "id": key_id,
                    "owner_id": owner,
                    "owner_type": owner_type,
                    "kek_version": version,
                    "wrapped": self.provider.wrap(version, material, aad),
                }
            )
            keys[owner] = DataKey.from_bytes(key_id, owner, material)
        session.execute(insert(RecordKey), rows)
        for key in keys.values():
            self.cache.put(key)
        return keys

    def current(self, session: Session, owner_id: uuid.UUID) -> DataKey:
        """The owner's newest live key (raises UnknownKeyError if it has none)."""
        row = session.execute(
            select(RecordKey.id, RecordKey.kek_version, RecordKey.wrapped)
            .where(RecordKey.owner_id == owner_id, RecordKey.wrapped.is_not(None))
            .order_by(RecordKey.id.desc())
            .limit(1)
        ).first()
        if row is None:
            raise UnknownKeyError("this record has no live data key")
        cached = self.cache.get(row.id)
        return cached or self._unwrap(row.id, owner_id, row.kek_version, row.wrapped)

    def current_or_create(self, session: Session, owner_id: uuid.UUID, owner_type: str) -> DataKey:
        try:
            return self.current(session, owner_id)
        except UnknownKeyError:
            return self.create(session, owner_id, owner_type)

    def _check_erasures(self, session: Session) -> None:
        """Once per transaction: drop the cache if any process destroyed keys since it filled."""
        transaction = session.get_transaction()
        if transaction is not None and session.info.get(_CHECKED) is transaction:
            return
        generation = session.scalar(
            select(KeyErasure.generation).where(KeyErasure.id == ERASURE_ROW)
        )
        self.observe_erasures(session, generation or 0)

    def observe_erasures(self, session: Session, generation: int) -> None:
        """The erasure generation, read in this transaction by whoever read it first (a
        request reads it with its sign-in generation, app.tokencache)."""
        self.cache.observe(generation)
        session.info[_CHECKED] = session.get_transaction()

    def by_id(self, session: Session, key_id: int, owner_id: uuid.UUID) -> DataKey:
        """The key a ciphertext header names, which must belong to the expected owner."""
        self._check_erasures(session)
        cached = self.cache.get(key_id)
        if cached is not None and cached.subject_id == owner_id:
            return cached
        row = session.execute(
            select(RecordKey.owner_id, RecordKey.kek_version, RecordKey.wrapped).where(
                RecordKey.id == key_id
            )
        ).first()
        if row is None or row.wrapped is None or row.owner_id != owner_id:
            raise UnknownKeyError(f"data key {key_id} is unknown, destroyed or not this record's")
        return self._unwrap(key_id, owner_id, row.kek_version, row.wrapped)

    def current_many(
        self, session: Session, owner_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, DataKey]:
        """``current`` for many owners in one query per thousand; owners without a live key
        are left out."""
        newest: dict[uuid.UUID, tuple[int, int, bytes]] = {}
        for start in range(0, len(owner_ids), 1000):
            rows = session.execute(
                select(RecordKey.id, RecordKey.owner_id, RecordKey.kek_version, RecordKey.wrapped)
                .where(
                    RecordKey.owner_id.in_(owner_ids[start : start + 1000]),
                    RecordKey.wrapped.is_not(None),
                )
                .order_by(RecordKey.id)
            )
            for key_id, owner_id, version, wrapped in rows:
                assert wrapped is not None  # the query leaves erased keys out
                newest[owner_id] = (key_id, version, wrapped)
        found = {}
        for owner_id, (key_id, version, wrapped) in newest.items():
            cached = self.cache.get(key_id)
            found[owner_id] = cached or self._unwrap(key_id, owner_id, version, wrapped)
        return found

    def load_many(self, session: Session, owners: dict[int, uuid.UUID]) -> None:
        """Unwrap into the cache, with one query, the keys (id -> owner) it lacks: for work
        over many people at once, where a lookup per key would be a round trip each."""
        self._check_erasures(session)
        missing = [key_id for key_id in owners if self.cache.get(key_id) is None]
        for start in range(0, len(missing), 1000):
            rows = session.execute(
                select(RecordKey.id, RecordKey.owner_id, RecordKey.kek_version, RecordKey.wrapped)
                .where(RecordKey.id.in_(missing[start : start + 1000]))
                .where(RecordKey.wrapped.is_not(None))
            )
            for key_id, owner_id, version, wrapped in rows:
                if owners[key_id] != owner_id:
                    continue
                assert wrapped is not None  # the query leaves erased keys out
                # One bad key must not stop the batch; opening its values fails on its own.
                with contextlib.suppress(CryptoError):
                    self._unwrap(key_id, owner_id, version, wrapped)

    def _unwrap(self, key_id: int, owner_id: uuid.UUID, version: int, wrapped: bytes) -> DataKey:
        material = self.provider.unwrap(version, wrapped, wrap_aad(owner_id, key_id, version))
        self.cache.unwraps += 1
        key = DataKey.from_bytes(key_id, owner_id, material)
        self.cache.put(key)
        return key

    def destroy(self, session: Session, owner_id: uuid.UUID) -> int:
        """Crypto-shredding: every key of the owner is gone, so its ciphertext is noise."""
        ids = list(session.scalars(select(RecordKey.id).where(RecordKey.owner_id == owner_id)))
        if not ids:
            return 0
        # The row stays as a tombstone (id, owner, when) so the key id is never reused.
        session.execute(
            update(RecordKey)
            .where(RecordKey.id.in_(ids))
            .values(wrapped=None, destroyed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        self.cache.forget(ids)
        _bump_generation(session)
        return len(ids)


def _bump_generation(session: Session) -> None:
    """Tell every other process's cache that keys were destroyed (see the module's note)."""
    # An UPDATE's result is a CursorResult; Session.execute is typed for the general case.
    bumped = cast(
        "CursorResult[Any]",
        session.execute(
            update(KeyErasure)
            .where(KeyErasure.id == ERASURE_ROW)
            .values(generation=KeyErasure.generation + 1)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if not bumped:  # a database made without the migration, which writes the row
        session.execute(insert(KeyErasure).values(id=ERASURE_ROW, generation=1))
