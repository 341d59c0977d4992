"""Incidents: what happened, to whom, where, and how sure the source is."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class Incident(UUIDPrimaryKey, CreatedAt, Base):
    """Sealed with the incident's own data key: it concerns several people at once."""

    __tablename__ = "incident"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    occurred_on: Mapped[dt.date]
    country: Mapped[str] = mapped_column(String(3))
    location_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    description_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    perpetrator_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    source_name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    source_reliability: Mapped[str] = mapped_column(String(1))
    source_credibility: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[uuid.UUID | None]
    created_by_label: Mapped[str | None] = mapped_column(String(100))
    # Reported for a date after the person's recorded forced return: kept, and flagged.
    after_return: Mapped[bool] = mapped_column(default=False)


class IncidentSubject(Base):
    __tablename__ = "incident_subject"

    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incident.id"), primary_key=True)
    individual_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("individual.id"), primary_key=True, index=True
    )
