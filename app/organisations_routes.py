"""/organisations: administrators create them; staff pick one as a referral's target."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app import organisations
from app.actor import Actor
from app.auth import profile
from app.auth.deps import require
from app.auth.roles import Action
from app.db import SessionDep
from app.models.organisation import Organisation
from app.validation import Name

router = APIRouter(tags=["organisations"])


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name


class OrganisationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    created_at: dt.datetime
    time_zone: str | None = None
    locale: str | None = None


class OrganisationDefaults(BaseModel):
    """``PATCH /organisations/{id}``: the IANA zone and language (en, km, th,
    th-u-ca-buddhist) of its staff who have not chosen their own; null clears either."""

    model_config = ConfigDict(extra="forbid")
    time_zone: Annotated[str, Field(max_length=64)] | None = None
    locale: Annotated[str, Field(max_length=16)] | None = None


class OrganisationSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str


@router.post("/organisations", status_code=201, response_model=OrganisationRead)
def create_organisation(
    body: OrganisationCreate,
    actor: Annotated[Actor, require(Action.ORGANISATIONS_MANAGE)],
    session: SessionDep,
) -> Organisation:
    return organisations.create(session, actor, body.name)


# An organisation's name is not personal data: every member of staff who may refer a case
# may see the list, and reading it is not audited.
@router.get("/organisations", response_model=list[OrganisationSummary])
def list_organisations(
    actor: Annotated[Actor, require(Action.ORGANISATIONS_READ)],
    session: SessionDep,
) -> list[Organisation]:
    return organisations.listing(session)


@router.patch("/organisations/{organisation_id}", response_model=OrganisationRead)
def set_organisation_defaults(
    organisation_id: uuid.UUID,
    body: OrganisationDefaults,
    actor: Annotated[Actor, require(Action.ORGANISATIONS_MANAGE)],
    session: SessionDep,
) -> Organisation:
    given = body.model_fields_set
    return profile.set_organisation_defaults(
        session,
        actor,
        organisation_id,
        time_zone=body.time_zone,
        locale=body.locale,
        clear_time_zone="time_zone" in given and body.time_zone is None,
        clear_locale="locale" in given and body.locale is None,
    )
