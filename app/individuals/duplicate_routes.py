"""/individuals/{id}/duplicates and /individuals/{id}/merge."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from app import limits
from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.db import SessionDep, writes
from app.individuals import duplicates

router = APIRouter(tags=["individuals"])


class DuplicatesRead(BaseModel):
    possible_duplicates: list[uuid.UUID]


class MergeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: uuid.UUID


class MergeRead(BaseModel):
    id: uuid.UUID
    merged_into: uuid.UUID
    merged_at: dt.datetime


@router.get(
    "/individuals/{individual_id}/duplicates",
    response_model=DuplicatesRead,
    responses=limits.LOOKUP_LIMITED,
)
@writes
def list_duplicates(
    individual_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.DUPLICATES_READ)],
    session: SessionDep,
) -> dict[str, Any]:
    limits.count_lookup(session, actor)
    return {"possible_duplicates": duplicates.possible_duplicates(session, actor, individual_id)}


@router.post("/individuals/{individual_id}/merge", response_model=MergeRead)
def merge_individual(
    individual_id: uuid.UUID,
    body: MergeCreate,
    actor: Annotated[Actor, require(Action.INDIVIDUALS_MERGE)],
    session: SessionDep,
) -> dict[str, Any]:
    return duplicates.merge(session, actor, individual_id, body.into)
