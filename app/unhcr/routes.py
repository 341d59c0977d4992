"""/individuals/{id}/unhcr-status: a history, never overwritten."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel

from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.db import SessionDep
from app.unhcr import service
from app.unhcr.schemas import UnhcrStatusCreate as UnhcrStatusCreate

router = APIRouter(tags=["unhcr status"])


class UnhcrStatusRead(BaseModel):
    id: uuid.UUID
    status: str
    effective_date: dt.date
    unhcr_reference: str | None
    expires_on: dt.date | None
    note: str | None
    recorded_at: dt.datetime


@router.post(
    "/individuals/{individual_id}/unhcr-status", status_code=201, response_model=UnhcrStatusRead
)
def add_unhcr_status(
    individual_id: uuid.UUID,
    body: UnhcrStatusCreate,
    actor: Annotated[Actor, require(Action.UNHCR_WRITE)],
    session: SessionDep,
) -> service.UnhcrStatusView:
    return service.add_for_person(session, actor, individual_id, body.model_dump())


@router.get("/individuals/{individual_id}/unhcr-status", response_model=list[UnhcrStatusRead])
def list_unhcr_status(
    individual_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.INDIVIDUALS_READ)],
    session: SessionDep,
) -> list[service.UnhcrStatusView]:
    return service.read_history(session, actor, individual_id)
