"""Bodies for /cases/{id}/referrals and /referrals."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.auth.scope import SECTIONS
from app.validation import LongText

__all__ = ["SECTIONS", "Direction", "ReferralCreate", "ReferralRead", "ReferralStatus"]

Section = Literal["identity", "documents", "unhcr_status", "incidents", "history"]


class ReferralStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REVOKED = "revoked"
    EXPIRED = "expired"


class Direction(enum.StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"


class ReferralCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_organisation: str = Field(min_length=1, max_length=200)  # its id or its name
    purpose: LongText = Field(min_length=1, max_length=2000)
    sections: list[Section] = Field(min_length=1, max_length=len(SECTIONS))
    expires_on: dt.date | None = None  # access ends at the end of this day (UTC)

    @field_validator("sections")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each section at most once")
        return value

    @field_validator("purpose")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a purpose is required")
        return value


class ReferralRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    from_organisation: uuid.UUID
    from_organisation_name: str | None = None
    to_organisation: uuid.UUID
    to_organisation_name: str | None = None
    purpose: str | None = None
    sections: list[str]
    status: ReferralStatus
    active: bool
    expires_on: dt.date | None = None
    expires_at: dt.datetime | None = None
    created_at: dt.datetime
    decided_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
