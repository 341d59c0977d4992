"""Consent: a history per person, like UNHCR status; the newest row governs."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UUIDPrimaryKey, utcnow


class Consent(UUIDPrimaryKey, Base):
    """One recorded decision. ``terms_ct`` seals {store, share_with_partners, method}."""

    __tablename__ = "consent"
    __table_args__ = (
        Index("ix_consent_individual_id_recorded_at", "individual_id", "recorded_at"),
    )

    individual_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("individual.id"))
    terms_ct: Mapped[bytes] = mapped_column(LargeBinary)  # padded: every decision one length
    note_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    recorded_on: Mapped[dt.date]
    recorded_by: Mapped[uuid.UUID | None]
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
