"""The audit trail: an append-only, hash-chained table, its head and signed checkpoints."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

_BIGINT = BigInteger().with_variant(Integer, "sqlite")


class AuditEntry(Base):
    """One audited action. Database triggers refuse UPDATE and DELETE on this table.

    ``entry_hash = SHA-256("haven-audit-v1\\0" || prev_hash || canonical JSON of the other
    columns)``; ``seq`` is gapless, so a missing, inserted or reordered entry breaks the chain.
    Nothing here is personal data: subjects are ids, details are counts and field names.
    """

    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(_BIGINT, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime]
    actor_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    actor_label: Mapped[str | None] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(Base):
    """The single row writers lock to append in order; verification never trusts it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(_BIGINT)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(Base):
    """A signed (size, head) statement; also appended to a file outside the database."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True, autoincrement=True)
    size: Mapped[int] = mapped_column(_BIGINT)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    at: Mapped[dt.datetime]
    note: Mapped[str] = mapped_column(Text)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
