"""Risk assessments (every one kept, with its policy version), overrides, country profiles."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UUIDPrimaryKey, utcnow


class RiskAssessment(UUIDPrimaryKey, Base):
    """One computed assessment. Factors (codes, weights, evidence ids) are sealed with the
    person's key: which threats a person faces is itself sensitive."""

    __tablename__ = "risk_assessment"
    __table_args__ = (
        Index("ix_risk_assessment_individual_id_assessed_at", "individual_id", "assessed_at"),
    )

    individual_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("individual.id"))
    assessed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    policy_version: Mapped[str] = mapped_column(String(64))
    score: Mapped[int]
    level: Mapped[str] = mapped_column(String(16))
    factors_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    trigger: Mapped[str] = mapped_column(String(48))


class RiskOverride(UUIDPrimaryKey, Base):
    """A supervisor's level, shown beside the computed one until it expires or is lifted."""

    __tablename__ = "risk_override"

    individual_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("individual.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    justification_ct: Mapped[bytes] = mapped_column(LargeBinary)
    expires_on: Mapped[dt.date | None]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[dt.datetime | None]


class CountryProfileOverride(UUIDPrimaryKey, Base):
    """An administrator's correction to the shipped country reference data (effective-dated)."""

    __tablename__ = "country_profile_override"
    __table_args__ = (
        Index("ix_country_profile_override_country_effective_on", "country", "effective_on"),
    )

    country: Mapped[str] = mapped_column(String(3))
    effective_on: Mapped[dt.date]
    fields: Mapped[str] = mapped_column(Text)  # JSON: the profile keys it changes
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
