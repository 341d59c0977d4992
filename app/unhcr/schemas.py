"""Bodies for /individuals/{id}/unhcr-status (also read by the spreadsheet import)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.unhcr.service import Status
from app.validation import LongText, PlausibleDate, ShortText


class UnhcrStatusCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status
    effective_date: PlausibleDate
    unhcr_reference: ShortText | None = Field(default=None, max_length=64)
    expires_on: PlausibleDate | None = None
    note: LongText | None = None
