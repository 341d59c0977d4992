"""/individuals/{id}/risk, its override, and the country reference data behind it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.db import SessionDep, writes
from app.models.base import utcnow
from app.risk import overrides, reference, schemas, service
from app.validation import CountryCode, PlausibleDate

router = APIRouter(tags=["risk"])


@router.get(
    "/individuals/{individual_id}/risk",
    response_model=schemas.RiskRead,
    response_model_exclude_unset=True,
)
@writes  # assesses a person never assessed before
def get_risk(
    individual_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.RISK_READ)],
    session: SessionDep,
) -> service.RiskView:
    return service.read_risk(session, actor, individual_id)


@router.post(
    "/individuals/{individual_id}/risk/override",
    status_code=201,
    response_model=schemas.RiskRead,
    response_model_exclude_unset=True,
)
def override_risk(
    individual_id: uuid.UUID,
    body: schemas.RiskOverrideCreate,
    actor: Annotated[Actor, require(Action.RISK_OVERRIDE)],
    session: SessionDep,
) -> service.RiskView:
    return service.override(
        session,
        actor,
        individual_id,
        level=body.level.value,
        justification=body.justification,
        expires_on=body.expires_on,
    )


@router.delete("/individuals/{individual_id}/risk/override", status_code=204)
def lift_risk_override(
    individual_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.RISK_OVERRIDE)],
    session: SessionDep,
) -> Response:
    overrides.lift(session, actor, individual_id)
    return Response(status_code=204)


@router.get("/reference/countries", response_model=schemas.CountryListing)
def list_countries(
    actor: Annotated[Actor, require(Action.REFERENCE_MANAGE, Action.RISK_READ)],
    session: SessionDep,
    as_of: PlausibleDate | None = None,
) -> dict[str, Any]:
    return reference.listing(session, as_of or utcnow().date())


@router.put("/reference/countries/{code}", response_model=schemas.CountryOverrideRead)
def override_country(
    code: Annotated[CountryCode, Path()],
    body: schemas.CountryOverrideCreate,
    actor: Annotated[Actor, require(Action.REFERENCE_MANAGE)],
    session: SessionDep,
) -> reference.CountryOverrideResult:
    return reference.override(
        session,
        actor,
        country=code,
        fields=body.changes(),
        reason=body.reason,
        effective_on=body.effective_on,
    )
