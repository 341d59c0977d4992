"""/incidents: report what happened to whom; read them back within scope."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.db import SessionDep
from app.incidents import schemas, service
from app.incidents.schemas import IncidentView

router = APIRouter(tags=["incidents"])


@router.post("/incidents", status_code=201, response_model=schemas.IncidentRead)
def create_incident(
    body: schemas.IncidentCreate,
    actor: Annotated[Actor, require(Action.INCIDENTS_WRITE)],
    session: SessionDep,
) -> IncidentView:
    return service.record_incident(session, actor, body.model_dump())


@router.get("/incidents", response_model=schemas.IncidentPage)
def list_incidents(
    actor: Annotated[Actor, require(Action.INCIDENTS_READ)],
    session: SessionDep,
    individual_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    items, next_cursor = service.list_incidents(
        session, actor, individual_id=individual_id, limit=limit, cursor=cursor
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/incidents/{incident_id}", response_model=schemas.IncidentRead)
def get_incident(
    incident_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.INCIDENTS_READ)],
    session: SessionDep,
) -> IncidentView:
    return service.read_incident(session, actor, incident_id)
