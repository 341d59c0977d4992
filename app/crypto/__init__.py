"""Encryption at rest: one Crypto object per running app, reached from the session.

Services seal and open fields explicitly, because a per-person data key cannot be reached from
a column type (STYLE.md, cautions)::

    crypto = crypto_of(session)
    key = crypto.keys.create(session, person.id, "individual")
    person.full_name_ct = crypto.seal(key, NAME, person.id, "Sok Dara", pad=Pad.SHORT)
    crypto.open(session, NAME, person.id, person.id, person.full_name_ct, pad=Pad.SHORT)
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.crypto import codec
from app.crypto.blind_index import BlindIndexer, IndexSpec
from app.crypto.codec import Pad
from app.crypto.envelope import (
    CryptoError,
    DataKey,
    DecryptionError,
    FieldSlot,
    UnknownKeyError,
    UnsupportedFormat,
    header_key_id,
)
from app.crypto.keyring import KeyProvider
from app.crypto.keys import DataKeyCache, DataKeys

__all__ = [
    "Crypto",
    "CryptoError",
    "DataKey",
    "DecryptionError",
    "FieldSlot",
    "Pad",
    "UnknownKeyError",
    "UnsupportedFormat",
    "crypto_of",
]


class Crypto:
    """Field encryption, data keys and blind indexes over one key provider."""

    def __init__(
        self, provider: KeyProvider, *, cache_size: int = 4096, cache_seconds: float = 300.0
    ) -> None:
        self.provider = provider
        self.keys = DataKeys(provider, DataKeyCache(cache_size, cache_seconds))
        self.index = BlindIndexer(provider.index_root_key())

    def seal(
        self, key: DataKey, slot: FieldSlot, row_id: uuid.UUID, value: Any, *, pad: Pad
    ) -> bytes:
        plaintext = codec.pad(codec.encode(value), pad)
        return key.seal(slot.context(row_id, key.subject_id), plaintext)

    def open(
        self,
        session: Session,
        slot: FieldSlot,
        row_id: uuid.UUID,
        owner_id: uuid.UUID,
        sealed: bytes,
        *,
        pad: Pad,
    ) -> Any:
        key = self.keys.by_id(session, header_key_id(sealed), owner_id)
        return self.open_with(key, slot, row_id, sealed, pad=pad)

    # open_with(key, slot, row_id, sealed, *, pad): the value a sealed field holds, under a key
    # already at hand. Bound straight to the codec so a field read costs no extra call.
    open_with = staticmethod(codec.open_value)

    def blind_index(self, spec: IndexSpec, value: str) -> int | None:
        return self.index.value(spec, value)

    def client_tag(self, address: str) -> str:
        """A keyed hash of a client address: lets the audit trail link requests from one
        address without storing the address."""
        return self.index.tag("client-address", address)


def crypto_of(session: Session) -> Crypto:
    """The Crypto of the app that opened this session (see app.db)."""
    crypto: Crypto | None = session.info.get("crypto")
    if crypto is None:
        raise CryptoError("this session was not opened with a keyring")
    return crypto
