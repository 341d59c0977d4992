"""/individuals/{id}/documents, /documents/{id} and /documents/revocations."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter

from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.db import SessionDep
from app.documents import revocations, schemas, service
from app.documents.schemas import DocumentView
from app.individuals import duplicates

router = APIRouter(tags=["travel documents"])


@router.post(
    "/individuals/{individual_id}/documents",
    status_code=201,
    response_model=schemas.DocumentRead,
)
def create_document(
    individual_id: uuid.UUID,
    body: schemas.DocumentCreate,
    actor: Annotated[Actor, require(Action.DOCUMENTS_WRITE)],
    session: SessionDep,
) -> dict[str, Any]:
    document = service.add_to_person(session, actor, individual_id, body.model_dump())
    return {
        **document,
        "possible_duplicates": duplicates.possible_duplicates(session, actor, individual_id),
    }


@router.get("/individuals/{individual_id}/documents", response_model=list[schemas.DocumentRead])
def list_documents(
    individual_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.INDIVIDUALS_READ)],
    session: SessionDep,
) -> list[DocumentView]:
    return service.list_for_person(session, actor, individual_id)


@router.post("/documents/revocations", response_model=schemas.RevocationResult)
def apply_revocations(
    body: schemas.RevocationList,
    actor: Annotated[Actor, require(Action.REVOCATIONS_APPLY)],
    session: SessionDep,
) -> dict[str, Any]:
    return revocations.apply_revocations(
        session,
        actor,
        issuing_country=body.issuing_country,
        numbers=body.numbers,
        effective_date=body.effective_date,
        source=body.source,
    )


@router.get("/documents/{document_id}", response_model=schemas.DocumentRead)
def get_document(
    document_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.INDIVIDUALS_READ)],
    session: SessionDep,
) -> DocumentView:
    return service.read_document(session, actor, document_id)


@router.patch("/documents/{document_id}", response_model=schemas.DocumentRead)
def update_document_status(
    document_id: uuid.UUID,
    body: schemas.DocumentStatusUpdate,
    actor: Annotated[Actor, require(Action.DOCUMENTS_WRITE)],
    session: SessionDep,
) -> DocumentView:
    return service.change_status(session, actor, document_id, body.model_dump())
