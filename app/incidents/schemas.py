"""Bodies for /incidents."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated, TypedDict

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.validation import CountryCode, LongText, PastDate, ShortText


class IncidentType(enum.StrEnum):
    ARREST = "arrest"
    DETENTION = "detention"
    RELEASE = "release"
    PHYSICAL_ATTACK = "physical_attack"
    ABDUCTION_ATTEMPT = "abduction_attempt"
    SURVEILLANCE = "surveillance"
    THREAT = "threat"
    DENIAL_OF_ENTRY = "denial_of_entry"
    DEPORTATION_ORDER = "deportation_order"
    FORCED_RETURN = "forced_return"
    DISAPPEARANCE = "disappearance"
    DEATH_IN_CUSTODY = "death_in_custody"
    CRIMINAL_CHARGE = "criminal_charge"
    ARREST_WARRANT = "arrest_warrant"
    PUBLIC_DENUNCIATION = "public_denunciation"
    COERCED_CONFESSION = "coerced_confession"
    TRAVEL_BAN = "travel_ban"
    PASSPORT_REVOKED = "passport_revoked"


class Reliability(enum.StrEnum):
    """Admiralty grading of the source (DOMAIN.md §2.6), independent of credibility."""

    A = "A"  # completely reliable
    B = "B"  # usually reliable
    C = "C"  # fairly reliable
    D = "D"  # not usually reliable
    E = "E"  # unreliable
    F = "F"  # cannot be judged


Credibility = Annotated[int, Field(ge=1, le=6, strict=True)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Description = Annotated[LongText, AfterValidator(_not_blank)]
MAX_PEOPLE = 50


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(Strict):
    name: ShortText
    reliability: Reliability
    credibility: Credibility


class IncidentCreate(Strict):
    type: IncidentType
    occurred_on: PastDate
    country: CountryCode
    location: ShortText | None = None
    description: Description
    perpetrator: ShortText | None = None
    individual_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_PEOPLE)
    source: Source


class SourceRead(BaseModel):
    name: str | None
    reliability: str
    credibility: int


class IncidentRead(BaseModel):
    id: uuid.UUID
    type: str
    occurred_on: dt.date
    country: str
    location: str | None = None
    description: str | None = None
    perpetrator: str | None = None
    individual_ids: list[uuid.UUID]
    source: SourceRead
    after_return: bool
    created_by: str | None = None
    created_at: dt.datetime


class IncidentPage(BaseModel):
    items: list[IncidentRead]
    next_cursor: str | None = None


# What the incidents' service hands its routes and pages (the fields of IncidentRead).
class SourceView(TypedDict):
    name: str | None
    reliability: str
    credibility: int


class IncidentView(TypedDict):
    id: uuid.UUID
    type: str
    occurred_on: dt.date
    country: str
    location: str | None
    description: str | None
    perpetrator: str | None
    individual_ids: list[uuid.UUID]
    source: SourceView
    after_return: bool
    created_by: str | None
    created_at: dt.datetime
