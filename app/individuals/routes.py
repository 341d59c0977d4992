"""/individuals: register, read, update, search, erase."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app import limits
from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.db import SessionDep, answer_read, writes
from app.individuals import duplicates, listing, schemas, service
from app.individuals.schemas import PersonView, RiskLevel
from app.validation import CountryCode

router = APIRouter(tags=["individuals"])


@router.post("/individuals", status_code=201, response_model=schemas.IndividualRead)
def create_individual(
    body: schemas.IndividualCreate,
    actor: Annotated[Actor, require(Action.INDIVIDUALS_WRITE)],
    session: SessionDep,
) -> dict[str, Any]:
    person = service.create(session, actor, body.model_dump())
    return {
        **service.present_new(session, actor, person),
        "possible_duplicates": duplicates.duplicates_of(session, actor, person),
    }


@router.get(
    "/individuals",
    response_model=schemas.IndividualPage,
    response_model_exclude_unset=True,
    responses=limits.LOOKUP_LIMITED,
)
@writes
def list_individuals(
    actor: Annotated[Actor, require(Action.INDIVIDUALS_READ)],
    session: SessionDep,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    document_number: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    country: Annotated[CountryCode | None, Query()] = None,
    risk_level: RiskLevel | None = None,
    open_alerts: bool | None = None,
    sort: listing.Sort = "risk",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=12)] = None,
) -> listing.PeoplePage:
    if q is not None or name is not None or document_number is not None:
        limits.count_lookup(session, actor)  # asks whether someone is on record
    return listing.find(
        session,
        actor,
        listing.PeopleQuery(
            q=q,
            name=name,
            document_number=document_number,
            country=country,
            risk_level=risk_level.value if risk_level else None,
            open_alerts=open_alerts,
            sort=sort,
            limit=limit,
            offset=listing.parse_cursor(cursor),
        ),
    )


@router.get(
    "/individuals/{individual_id}",
    response_model=schemas.IndividualRead,
    response_model_exclude_unset=True,
)
async def get_individual(
    individual_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.INDIVIDUALS_READ)],
    session: SessionDep,
) -> PersonView:
    return await answer_read(session, lambda: service.read(session, actor, individual_id))


@router.patch("/individuals/{individual_id}", response_model=schemas.IndividualRead)
def update_individual(
    individual_id: uuid.UUID,
    body: schemas.IndividualUpdate,
    actor: Annotated[Actor, require(Action.INDIVIDUALS_WRITE)],
    session: SessionDep,
) -> PersonView:
    return service.update_person(session, actor, individual_id, body.model_dump(exclude_unset=True))


@router.delete("/individuals/{individual_id}", status_code=204)
def erase_individual(
    individual_id: uuid.UUID,
    body: schemas.Erasure,
    actor: Annotated[Actor, require(Action.INDIVIDUALS_ERASE)],
    session: SessionDep,
) -> Response:
    service.erase(session, actor, individual_id, body.reason)
    return Response(status_code=204)
