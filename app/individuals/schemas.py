"""Bodies for /individuals."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any, Required, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from app.consent.schemas import ConsentRead
from app.unhcr.service import UnhcrStatusView
from app.validation import CountryCode, LongText, Name, PastDate, ShortText


class Sex(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class RiskLevel(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndividualCreate(Strict):
    full_name: Name
    aliases: list[Name] = Field(default_factory=list, max_length=20)
    native_name: Name | None = None
    date_of_birth: PastDate | None = None
    sex: Sex | None = None
    nationalities: list[CountryCode] = Field(default_factory=list, max_length=5)
    affiliation: ShortText | None = None
    affiliation_role: ShortText | None = None
    current_country: CountryCode | None = None
    current_location: ShortText | None = None
    contact: ShortText | None = None
    notes: LongText | None = None
    check_in_every_hours: int | None = Field(default=None, ge=1, le=24 * 90)


class IndividualUpdate(Strict):
    full_name: Name | None = None
    aliases: list[Name] | None = Field(default=None, max_length=20)
    native_name: Name | None = None
    date_of_birth: PastDate | None = None
    sex: Sex | None = None
    nationalities: list[CountryCode] | None = Field(default=None, max_length=5)
    affiliation: ShortText | None = None
    affiliation_role: ShortText | None = None
    current_country: CountryCode | None = None
    current_location: ShortText | None = None
    contact: ShortText | None = None
    notes: LongText | None = None
    check_in_every_hours: int | None = Field(default=None, ge=1, le=24 * 90)


class Erasure(Strict):
    reason: ShortText


class RiskSummary(BaseModel):
    level: str | None
    score: int | None


class IndividualRead(BaseModel):
    """Fields outside the sections of a referral are left out for its readers (not null)."""

    id: uuid.UUID
    full_name: str | None = None
    aliases: list[str] | None = None
    native_name: str | None = None
    date_of_birth: dt.date | None = None
    sex: str | None = None
    nationalities: list[str] | None = None
    affiliation: str | None = None
    affiliation_role: str | None = None
    current_country: str | None = None
    current_location: str | None = None
    contact: str | None = None
    notes: str | None = None
    check_in_every_hours: int | None = None
    last_check_in_at: dt.datetime | None = None
    risk: RiskSummary | None = None
    unhcr_status: dict[str, Any] | None = None
    organisation: uuid.UUID
    created_at: dt.datetime
    updated_at: dt.datetime
    consent: ConsentRead | None = None
    possible_duplicates: list[uuid.UUID] | None = None


class IndividualPage(BaseModel):
    items: list[IndividualRead]
    next_cursor: str | None = None
    total: int | None = None  # every match in scope, over all pages
    offset: int | None = None


class RiskSummaryView(TypedDict):
    level: str | None
    score: int | None


class PersonView(TypedDict, total=False):
    """What the people's service hands its routes and pages (IndividualRead): every field for the
    person's own organisation, the referred sections' fields only for a referral's reader."""

    id: Required[uuid.UUID]
    full_name: str | None
    aliases: list[str]
    native_name: str | None
    date_of_birth: dt.date | None
    sex: str | None
    nationalities: list[str]
    affiliation: str | None
    affiliation_role: str | None
    current_country: str | None
    current_location: str | None
    contact: str | None
    notes: str | None
    check_in_every_hours: int | None
    last_check_in_at: dt.datetime | None
    risk: RiskSummaryView
    unhcr_status: UnhcrStatusView | None
    consent: dict[str, Any] | None
    organisation: Required[uuid.UUID]
    created_at: Required[dt.datetime]
    updated_at: Required[dt.datetime]
    possible_duplicates: list[uuid.UUID]
