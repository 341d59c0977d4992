"""Bodies for /individuals/{id}/risk and /reference/countries."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from app.individuals.schemas import RiskLevel
from app.validation import CountryCode, LongText, PlausibleDate, ShortText


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RiskFactorRead(BaseModel):
    code: str
    weight: float
    evidence: list[str]


class RiskOverrideRead(BaseModel):
    level: str
    justification: str | None
    expires_on: dt.date | None
    created_at: dt.datetime


class RiskRead(BaseModel):
    level: str
    score: int
    factors: list[RiskFactorRead]
    assessed_at: dt.datetime
    policy_version: str
    override: RiskOverrideRead | None = None


class RiskOverrideCreate(Strict):
    level: RiskLevel
    justification: Annotated[
        LongText, Field(min_length=10, max_length=2000), AfterValidator(_not_blank)
    ]
    expires_on: PlausibleDate | None = None


# -- country reference -------------------------------------------------------------------------

Year = Annotated[int, Field(ge=1900, le=2100, strict=True)]
SourceId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]


class DocumentedReturn(Strict):
    on: PlausibleDate
    precision: Annotated[str, Field(max_length=32)] | None = None
    source: SourceId | None = None


class CooperationPattern(Strict):
    nationality: CountryCode
    pattern: Annotated[str, Field(min_length=1, max_length=48, pattern=r"^[a-z][a-z_]*$")]
    returns: Annotated[list[DocumentedReturn], Field(max_length=100)] = []
    note: ShortText | None = None
    sources: Annotated[list[SourceId], Field(max_length=20)] = []


class CountryFields(Strict):
    """The fields of a country profile an override may set; unknown names are refused."""

    name: ShortText | None = None
    party_1951: StrictBool | None = None
    party_1951_year: Year | None = None
    party_1967: StrictBool | None = None
    party_1967_year: Year | None = None
    party_cat: StrictBool | None = None
    party_cat_year: Year | None = None
    cooperation: Annotated[list[CooperationPattern], Field(max_length=50)] | None = None
    targeted_affiliations: Annotated[list[ShortText], Field(max_length=50)] | None = None
    note: ShortText | None = None
    sources: Annotated[list[SourceId], Field(max_length=20)] | None = None

    @model_validator(mode="after")
    def _some_and_no_null_status(self) -> CountryFields:
        given = self.model_fields_set
        if not given:
            raise ValueError("name at least one field to change")
        for name in ("party_1951", "party_1967", "party_cat"):
            if name in given and getattr(self, name) is None:
                raise ValueError(f"{name} must be true or false")
        return self


class CountryOverrideCreate(Strict):
    fields: CountryFields
    reason: ShortText
    effective_on: PlausibleDate | None = None

    def changes(self) -> dict[str, Any]:
        return self.fields.model_dump(mode="json", exclude_unset=True)


class CountryOverrideRead(BaseModel):
    id: Any
    country: str
    effective_on: dt.date
    fields: dict[str, Any]
    reason: str
    created_at: dt.datetime
    profile: dict[str, Any] | None = None


class CountryListing(BaseModel):
    version: str
    data_as_of: str
    policy_version: str
    as_of: dt.date
    sources: list[dict[str, Any]]
    default: dict[str, Any]
    countries: list[dict[str, Any]]
    overrides: list[CountryOverrideRead]
