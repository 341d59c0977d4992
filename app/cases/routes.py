"""/cases: open, read, change, assign, notes, emergency access, history."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.cases import assignments, break_glass, notes, schemas, service, timeline
from app.db import SessionDep

router = APIRouter(tags=["cases"])


@router.post("/cases", status_code=201, response_model=schemas.CaseRead)
def create_case(
    body: schemas.CaseCreate,
    actor: Annotated[Actor, require(Action.CASES_WRITE)],
    session: SessionDep,
) -> schemas.CaseView:
    return service.open_case(session, actor, body.model_dump())


@router.get("/cases", response_model=schemas.CasePage, response_model_exclude_unset=True)
def list_cases(
    actor: Annotated[Actor, require(Action.CASES_READ)],
    session: SessionDep,
    status: schemas.Status | None = None,
    priority: schemas.Priority | None = None,
    individual_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    items, next_cursor = service.list_cases(
        session,
        actor,
        status=status.value if status else None,
        priority=priority.value if priority else None,
        individual_id=individual_id,
        limit=limit,
        cursor=cursor,
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/cases/{case_id}", response_model=schemas.CaseRead, response_model_exclude_unset=True)
def get_case(
    case_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.CASES_READ)],
    session: SessionDep,
) -> schemas.CaseView:
    return service.read_case(session, actor, case_id)


@router.patch("/cases/{case_id}", response_model=schemas.CaseRead)
def update_case(
    case_id: uuid.UUID,
    body: schemas.CaseUpdate,
    actor: Annotated[Actor, require(Action.CASES_WRITE)],
    session: SessionDep,
) -> schemas.CaseView:
    return service.update_case(session, actor, case_id, body.model_dump(exclude_unset=True))


@router.post("/cases/{case_id}/assignments", status_code=201, response_model=schemas.AssignmentRead)
def assign_to_case(
    case_id: uuid.UUID,
    body: schemas.AssignmentCreate,
    actor: Annotated[Actor, require(Action.CASES_ASSIGN)],
    session: SessionDep,
    response: Response,
) -> dict[str, Any]:
    item, created = assignments.assign(session, actor, case_id, body.user_id, body.role.value)
    if not created:
        response.status_code = 200  # already assigned: nothing changed
    return item


@router.delete("/cases/{case_id}/assignments/{user_id}", status_code=204)
def unassign_from_case(
    case_id: uuid.UUID,
    user_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.CASES_ASSIGN)],
    session: SessionDep,
) -> Response:
    assignments.unassign(session, actor, case_id, user_id)
    return Response(status_code=204)


@router.post("/cases/{case_id}/notes", status_code=201, response_model=schemas.NoteRead)
def add_note(
    case_id: uuid.UUID,
    body: schemas.NoteCreate,
    actor: Annotated[Actor, require(Action.NOTES_WRITE, Action.LEGAL_NOTES_WRITE)],
    session: SessionDep,
) -> schemas.NoteView:
    return notes.add_note(session, actor, case_id, body.body)


@router.get("/cases/{case_id}/notes", response_model=list[schemas.NoteRead])
def list_notes(
    case_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.CASES_READ)],
    session: SessionDep,
) -> list[schemas.NoteView]:
    return notes.list_notes(session, actor, case_id)


@router.post("/cases/{case_id}/break-glass", status_code=201, response_model=schemas.BreakGlassRead)
def open_break_glass(
    case_id: uuid.UUID,
    body: schemas.BreakGlassCreate,
    actor: Annotated[Actor, require(Action.BREAK_GLASS)],
    session: SessionDep,
) -> dict[str, Any]:
    grant = break_glass.break_glass(session, actor, case_id, body.reason)
    return {"case_id": grant.case_id, "expires_at": grant.expires_at}


@router.get("/cases/{case_id}/history", response_model=schemas.HistoryRead)
def get_case_history(
    case_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.HISTORY_READ)],
    session: SessionDep,
    as_of: dt.datetime | None = None,
) -> dict[str, Any]:
    return {"entries": timeline.case_history(session, actor, case_id, as_of=as_of)}
