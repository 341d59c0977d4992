"""Key metadata: KEK versions (never their material) and wrapped per-owner data keys."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, utcnow


class KeyEncryptionKey(Base):
    """A KEK version known to the keyring; the material stays in the key provider."""

    __tablename__ = "key_encryption_key"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    rotation_completed_at: Mapped[dt.datetime | None]


class RecordKey(CreatedAt, Base):
    """One data key of one owner (a person, a user, a webhook), wrapped under a KEK version.

    The id is the key id written into every ciphertext header. Erasure deletes the wrapped key,
    so what it sealed can never be opened again.
    """

    __tablename__ = "record_key"
    __table_args__ = (Index("ix_record_key_kek_version_id", "kek_version", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(index=True)
    owner_type: Mapped[str] = mapped_column(String(32))
    kek_version: Mapped[int]
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    destroyed_at: Mapped[dt.datetime | None]


class KeyErasure(Base):
    """One row counting the erasures that destroyed data keys (its ``generation``).

    Every running process reads it once per transaction before it trusts a data key from its
    own cache: when another process has destroyed keys since, the cache is dropped, so an
    erasure takes effect everywhere at once, not when cached keys expire.
    """

    __tablename__ = "key_erasure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
