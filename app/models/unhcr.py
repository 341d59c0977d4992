"""UNHCR status: a history of append-only rows; the newest governs."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UUIDPrimaryKey, utcnow


class UnhcrStatus(UUIDPrimaryKey, Base):
    __tablename__ = "unhcr_status"

    individual_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("individual.id"), index=True)
    status_ct: Mapped[bytes] = mapped_column(LargeBinary)  # padded: all statuses one length
    effective_date: Mapped[dt.date]
    unhcr_reference_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_on: Mapped[dt.date | None]  # certificate expiry, for the expiry alerts
    note_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    recorded_by: Mapped[uuid.UUID | None]
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
