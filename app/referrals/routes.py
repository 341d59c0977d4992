"""/cases/{id}/referrals and /referrals: refer a case, decide, revoke, list."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter

from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.db import SessionDep
from app.referrals import service
from app.referrals.schemas import Direction, ReferralCreate, ReferralRead, ReferralStatus

router = APIRouter(tags=["referrals"])


@router.post("/cases/{case_id}/referrals", status_code=201, response_model=ReferralRead)
def create_referral(
    case_id: uuid.UUID,
    body: ReferralCreate,
    actor: Annotated[Actor, require(Action.REFERRALS_WRITE)],
    session: SessionDep,
) -> ReferralRead:
    return service.create(session, actor, case_id, body)


@router.get("/cases/{case_id}/referrals", response_model=list[ReferralRead])
def list_case_referrals(
    case_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.CASES_READ)],
    session: SessionDep,
) -> list[ReferralRead]:
    return service.for_case(session, actor, case_id)


@router.get("/referrals", response_model=list[ReferralRead])
def list_referrals(
    actor: Annotated[Actor, require(Action.REFERRALS_READ)],
    session: SessionDep,
    direction: Direction = Direction.INCOMING,
    status: ReferralStatus | None = None,
) -> list[ReferralRead]:
    wanted = status.value if status else None
    if direction == Direction.OUTGOING:
        return service.outgoing(session, actor, wanted)
    return service.incoming(session, actor, wanted)


@router.get("/referrals/{referral_id}", response_model=ReferralRead)
def get_referral(
    referral_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.CASES_READ)],
    session: SessionDep,
) -> ReferralRead:
    return service.read(session, actor, referral_id)


@router.post("/referrals/{referral_id}/accept", response_model=ReferralRead)
def accept_referral(
    referral_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.REFERRALS_DECIDE)],
    session: SessionDep,
) -> ReferralRead:
    return service.accept(session, actor, referral_id)


@router.post("/referrals/{referral_id}/decline", response_model=ReferralRead)
def decline_referral(
    referral_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.REFERRALS_DECIDE)],
    session: SessionDep,
) -> ReferralRead:
    return service.decline(session, actor, referral_id)


@router.post("/referrals/{referral_id}/revoke", response_model=ReferralRead)
def revoke_referral(
    referral_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.REFERRALS_WRITE)],
    session: SessionDep,
) -> ReferralRead:
    return service.revoke(session, actor, referral_id)
