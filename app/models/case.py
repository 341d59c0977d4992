"""Cases, who is assigned to them, notes, attachments and emergency access."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey, utcnow


class Case(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "case"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    individual_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("individual.id"), index=True)
    title_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"), index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]


class CaseAssignment(UUIDPrimaryKey, Base):
    __tablename__ = "case_assignment"
    __table_args__ = (Index("ix_case_assignment_user_id_role", "user_id", "role"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"))
    role: Mapped[str] = mapped_column(String(16))  # caseworker | lawyer
    # Set when a receiving organisation's supervisor assigns its own staff to a referred case:
    # the assignment lasts only as long as that referral.
    referral_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("referral.id"), index=True)
    assigned_by: Mapped[uuid.UUID | None]
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[dt.datetime | None]


class CaseNote(UUIDPrimaryKey, CreatedAt, Base):
    """A note, sealed with the person's key (erasing the person erases the notes)."""

    __tablename__ = "case_note"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case.id"), index=True)
    author_id: Mapped[uuid.UUID | None]
    author_label: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="note")  # note | legal
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(UUIDPrimaryKey, CreatedAt, Base):
    """A file stored encrypted in the data dir, in chunks, under the person's key."""

    __tablename__ = "attachment"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case.id"), index=True)
    filename_ct: Mapped[bytes] = mapped_column(LargeBinary)
    # Content type, size and SHA-256, sealed together with the person's key: in plaintext the
    # digest would let anyone holding the database confirm that a known file is here.
    meta_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Rows stored before that kept them in plaintext (a migration cannot reach the keyring):
    # the first read seals them into ``meta_ct`` and clears these.
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[uuid.UUID | None]
    deleted_at: Mapped[dt.datetime | None]


class BreakGlassGrant(UUIDPrimaryKey, Base):
    """Emergency access to an unassigned case: reasoned, time-limited, audited, alerted."""

    __tablename__ = "break_glass_grant"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
    reason_ct: Mapped[bytes] = mapped_column(LargeBinary)
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
