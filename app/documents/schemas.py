"""Bodies for /individuals/{id}/documents, /documents and /documents/revocations."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated, NotRequired, Self, TypedDict

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.crypto.blind_index import fold_document_number
from app.documents import mrz
from app.validation import PastDate, PlausibleDate, ShortText


class DocumentType(enum.StrEnum):
    PASSPORT = "passport"
    NATIONAL_ID = "national_id"
    TRAVEL_DOCUMENT = "travel_document"
    OTHER = "other"


class DocumentStatus(enum.StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    LOST = "lost"
    CONFISCATED = "confiscated"


def _number(value: str) -> str:
    if not fold_document_number(value):
        raise ValueError("a document number needs at least one letter or digit")
    return value


def _issuer(value: str) -> str:
    """ISO 3166-1 alpha-3, or an ICAO-only code (checked against the MRZ rule below)."""
    code = mrz.to_iso(value.strip().upper())
    if mrz.is_icao_only(code) or (
        len(code) == 3 and pycountry.countries.get(alpha_3=code) is not None
    ):
        return code
    raise ValueError("not an ISO 3166-1 alpha-3 country code")


DocumentNumber = Annotated[ShortText, Field(max_length=64), AfterValidator(_number)]
IssuerCode = Annotated[str, Field(min_length=1, max_length=3), AfterValidator(_issuer)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentCreate(Strict):
    type: DocumentType
    number: DocumentNumber | None = None
    issuing_country: IssuerCode | None = None
    issued_on: PastDate | None = None
    expires_on: PlausibleDate | None = None
    status: DocumentStatus = DocumentStatus.VALID
    status_date: PlausibleDate | None = None
    status_source: ShortText | None = None
    mrz: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("expires_on")
    @classmethod
    def _not_before_issue(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        issued = info.data.get("issued_on")
        if value is not None and issued is not None and value < issued:
            raise ValueError("the expiry date precedes the issue date")
        return value

    @model_validator(mode="after")
    def _from_mrz_or_given(self) -> Self:
        if self.mrz is None:
            if self.number is None or self.issuing_country is None:
                raise ValueError("number and issuing_country are required without an mrz")
            if mrz.is_icao_only(self.issuing_country):
                raise ValueError(
                    "issuing_country: ICAO-only codes (XXA, UNO …) are accepted with an mrz only"
                )
        return self


class DocumentStatusUpdate(Strict):
    status: DocumentStatus
    status_date: PlausibleDate
    status_source: ShortText | None = None


class RevocationList(Strict):
    issuing_country: IssuerCode
    numbers: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=5000
    )
    effective_date: PlausibleDate
    source: ShortText


class DocumentWarning(BaseModel):
    field: str
    detail: str


class StatusChangeRead(BaseModel):
    status: str
    status_date: dt.date | None
    status_source: str | None
    changed_at: dt.datetime
    changed_by: uuid.UUID | None
    revocation_list_id: uuid.UUID | None


class DocumentRead(BaseModel):
    id: uuid.UUID
    individual_id: uuid.UUID
    type: str
    number: str | None
    issuing_country: str | None
    issued_on: dt.date | None
    expires_on: dt.date | None
    status: str
    status_date: dt.date | None
    status_source: str | None
    mrz: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    warnings: list[DocumentWarning] | None = None
    status_history: list[StatusChangeRead] | None = None
    # On creation: other people of the caller's organisation who may be the same holder.
    possible_duplicates: list[uuid.UUID] | None = None


class RevocationResult(BaseModel):
    matched: int = Field(description="documents in the caller's scope found on the list")
    unmatched: list[str] = Field(description="numbers, as given, that matched no document")
    newly_revoked: int = Field(description="matched documents that were not revoked before")
    list_id: uuid.UUID


# What the documents' service hands its routes and pages (the fields of DocumentRead).
class StatusChangeView(TypedDict):
    status: str
    status_date: dt.date | None
    status_source: str | None
    changed_at: dt.datetime
    changed_by: uuid.UUID | None
    revocation_list_id: uuid.UUID | None


class DocumentView(TypedDict):
    id: uuid.UUID
    individual_id: uuid.UUID
    type: str
    number: str | None
    issuing_country: str | None
    issued_on: dt.date | None
    expires_on: dt.date | None
    status: str
    status_date: dt.date | None
    status_source: str | None
    mrz: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    status_history: NotRequired[list[StatusChangeView]]
    warnings: NotRequired[list[dict[str, str]]]
    possible_duplicates: NotRequired[list[uuid.UUID]]
