"""/individuals/{id}/check-ins, /lists/match and /country-events."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.db import SessionDep
from app.monitoring import service
from app.validation import CountryCode, LongText, Name, NoControl, PastDate, ShortText

router = APIRouter(tags=["monitoring"])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckInCreate(Strict):
    channel: Annotated[str, Field(max_length=32), NoControl] | None = None
    note: LongText | None = None


class CheckInRead(BaseModel):
    id: uuid.UUID
    individual_id: uuid.UUID
    at: dt.datetime
    channel: str | None


class ListMatchRequest(Strict):
    names: list[Name] = Field(min_length=1, max_length=5000)
    source: ShortText
    published_on: PastDate


class ListMatchItem(BaseModel):
    individual_id: uuid.UUID
    name: str


class ListMatchResult(BaseModel):
    list_id: uuid.UUID
    matched: list[ListMatchItem]


class Affects(Strict):
    nationality: CountryCode | None = None
    affiliation: ShortText | None = None
    current_country: CountryCode | None = None


class CountryEventCreate(Strict):
    country: CountryCode
    kind: Annotated[str, Field(min_length=2, max_length=48, pattern=r"^[a-z][a-z_]*$")]
    occurred_on: PastDate
    description: LongText
    affects: Affects


class CountryEventCreated(BaseModel):
    id: uuid.UUID
    reassessed: int


@router.post("/individuals/{individual_id}/check-ins", status_code=201, response_model=CheckInRead)
def create_check_in(
    individual_id: uuid.UUID,
    body: CheckInCreate,
    actor: Annotated[Actor, require(Action.CHECK_INS_WRITE)],
    session: SessionDep,
) -> dict[str, Any]:
    return service.record_check_in(session, actor, individual_id, body.model_dump())


@router.post("/lists/match", response_model=ListMatchResult)
def match_list(
    body: ListMatchRequest,
    actor: Annotated[Actor, require(Action.LISTS_MATCH)],
    session: SessionDep,
) -> dict[str, Any]:
    return service.match_list(session, actor, body.model_dump())


@router.post("/country-events", status_code=201, response_model=CountryEventCreated)
def create_country_event(
    body: CountryEventCreate,
    actor: Annotated[Actor, require(Action.COUNTRY_EVENTS_WRITE)],
    session: SessionDep,
) -> dict[str, Any]:
    return service.record_country_event(session, actor, body.model_dump())
