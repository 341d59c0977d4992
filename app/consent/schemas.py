"""Bodies for /individuals/{id}/consent."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict

from app.validation import LongText, PastDate


class Method(enum.StrEnum):
    VERBAL = "verbal"
    WRITTEN = "written"


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store: bool
    share_with_partners: bool
    method: Method
    recorded_on: PastDate  # the day the person gave it: never in the future
    note: LongText | None = None


class ErasurePath(BaseModel):
    """Where to erase the person's record, offered when they no longer consent to it."""

    method: Literal["DELETE"] = "DELETE"
    href: str


class ConsentRead(BaseModel):
    id: uuid.UUID
    store: bool
    share_with_partners: bool
    method: Method
    recorded_on: dt.date
    note: str | None = None
    recorded_by: uuid.UUID | None = None
    recorded_at: dt.datetime
    erasure: ErasurePath | None = None
