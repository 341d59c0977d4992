"""/individuals/{id}/consent: a history, never overwritten; the newest governs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter

from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.consent import service
from app.consent.schemas import ConsentCreate, ConsentRead
from app.db import SessionDep

router = APIRouter(tags=["consent"])


@router.post("/individuals/{individual_id}/consent", status_code=201, response_model=ConsentRead)
def record_consent(
    individual_id: uuid.UUID,
    body: ConsentCreate,
    actor: Annotated[Actor, require(Action.CONSENT_WRITE)],
    session: SessionDep,
) -> ConsentRead:
    return service.record(session, actor, individual_id, body)


# Read by whoever may read the person: the current consent is part of the person's record
# (IndividualRead.consent), and counsel must know what the person agreed to before acting
# on it, so the history is held to the same rule as the record.
@router.get("/individuals/{individual_id}/consent", response_model=list[ConsentRead])
def list_consent(
    individual_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.INDIVIDUALS_READ)],
    session: SessionDep,
) -> list[ConsentRead]:
    return service.history(session, actor, individual_id)
