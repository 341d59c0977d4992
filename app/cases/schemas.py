"""Bodies for /cases, assignments, notes, emergency access and the timeline."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated, Any, Required, TypedDict

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.validation import LongText, ShortText


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Status(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class AssignmentRole(enum.StrEnum):
    CASEWORKER = "caseworker"
    LAWYER = "lawyer"


class Access(enum.StrEnum):
    """Why the caller sees the case."""

    ASSIGNED = "assigned"
    ORGANISATION = "organisation"
    BREAK_GLASS = "break_glass"
    REFERRAL = "referral"  # another organisation's case, referred to the caller's


REASON_MIN, REASON_MAX = 20, 2000


def _body(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _reason(value: str) -> str:
    value = value.strip()
    if len(value) < REASON_MIN:
        raise ValueError(f"give a reason of at least {REASON_MIN} characters")
    return value


Title = Annotated[ShortText, Field(max_length=200)]
NoteBody = Annotated[LongText, AfterValidator(_body)]
Reason = Annotated[LongText, Field(max_length=REASON_MAX), AfterValidator(_reason)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseCreate(Strict):
    individual_id: uuid.UUID
    title: Title | None = None
    priority: Priority = Priority.NORMAL


class CaseUpdate(Strict):
    title: Title | None = None
    priority: Priority | None = None
    status: Status | None = None


class AssignmentCreate(Strict):
    user_id: uuid.UUID
    role: AssignmentRole


class AssignmentRead(BaseModel):
    user_id: uuid.UUID
    username: str | None = None
    role: str
    assigned_at: dt.datetime


class CaseRead(BaseModel):
    id: uuid.UUID
    individual_id: uuid.UUID
    title: str | None = None
    priority: str
    status: str
    assignments: list[AssignmentRead]
    access: Access
    opened_by: uuid.UUID | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None = None


class CasePage(BaseModel):
    items: list[CaseRead]
    next_cursor: str | None = None


class NoteCreate(Strict):
    body: NoteBody


class NoteRead(BaseModel):
    id: uuid.UUID
    kind: str
    body: str | None
    author: str | None
    author_id: uuid.UUID | None = None
    created_at: dt.datetime


class BreakGlassCreate(Strict):
    reason: Reason


class BreakGlassRead(BaseModel):
    case_id: uuid.UUID
    expires_at: dt.datetime


class HistoryEntryRead(BaseModel):
    at: dt.datetime
    actor: str | None
    kind: str
    summary: str
    changes: dict[str, Any] | None = None
    case_id: uuid.UUID | None = None
    subject_type: str | None = None
    subject_id: uuid.UUID | None = None


class HistoryRead(BaseModel):
    entries: list[HistoryEntryRead]


# What the services hand their routes, pages and exports ----------------------------------------
class AssignmentView(TypedDict):
    user_id: uuid.UUID
    username: str | None
    role: str
    assigned_at: dt.datetime


class CandidateView(TypedDict):
    """Someone who could be assigned to the case (its assignment form)."""

    user_id: uuid.UUID
    username: str
    role: str


class CaseView(TypedDict, total=False):
    """A case in scope (CaseRead). Through a referral the title goes with the history section
    and ``opened_by`` is left out: the referring organisation's staff are its own business."""

    id: Required[uuid.UUID]
    individual_id: Required[uuid.UUID]
    title: str | None
    priority: Required[str]
    status: Required[str]
    assignments: Required[list[AssignmentView]]
    access: Required[str]
    opened_by: uuid.UUID | None
    created_at: Required[dt.datetime]
    updated_at: Required[dt.datetime]
    closed_at: Required[dt.datetime | None]


class NoteView(TypedDict):
    """A case note (NoteRead); staff of another organisation are shown as that organisation,
    with no ``author_id``."""

    id: uuid.UUID
    kind: str
    body: str | None
    author: str | None
    author_id: uuid.UUID | None
    created_at: dt.datetime


class AttachmentView(TypedDict):
    """A stored file's description (AttachmentRead); the bytes are read by ``download``."""

    id: uuid.UUID
    case_id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: uuid.UUID | None
    created_at: dt.datetime
