"""Referrals: a case shared with another organisation, section by section, for a purpose."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class Referral(UUIDPrimaryKey, CreatedAt, Base):
    """pending → accepted | declined; pending or accepted → revoked; ``expires_at`` ends it too.

    The purpose is sealed with the person's key; the sections (which parts of the record the
    receiving organisation may see) stay plain because scope queries filter on them.
    """

    __tablename__ = "referral"
    __table_args__ = (
        Index("ix_referral_to_organisation_id_status", "to_organisation_id", "status"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case.id"), index=True)
    from_organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    to_organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    purpose_ct: Mapped[bytes] = mapped_column(LargeBinary)
    sections: Mapped[str] = mapped_column(String(200))  # comma-separated, from SECTIONS
    status: Mapped[str] = mapped_column(String(16), default="pending")
    expires_at: Mapped[dt.datetime | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"))
    revoked_at: Mapped[dt.datetime | None]
