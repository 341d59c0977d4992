"""Possible duplicates on a person's page, and merging one record into another (supervisors,
after a confirmation page). Matching and merging are ``app.individuals.duplicates``'."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.actor import Actor
from app.auth import roles
from app.auth.roles import Action
from app.i18n import _
from app.individuals import duplicates
from app.individuals import service as individuals
from app.web.render import FormError, WebRoute, render, see_other, uuid_or_none
from app.web.session import SessionForm, signed_in, text

router = APIRouter(route_class=WebRoute)


def possible(session: Session, actor: Actor, individual_id: uuid.UUID) -> list[uuid.UUID]:
    """The possible duplicates of a person of the actor's organisation (none for a role that
    is not told of them)."""
    if not roles.allows(actor.role, Action.DUPLICATES_READ):
        return []
    return duplicates.possible_duplicates(session, actor, individual_id)


@router.get("/people/{individual_id}/merge")
def merge_page(request: Request, individual_id: uuid.UUID) -> Response:
    into = uuid_or_none(request.query_params.get("into"))
    with signed_in(request, Action.INDIVIDUALS_MERGE) as (session, actor):
        if into is None or into == individual_id:
            raise FormError(message=_("Choose the record to merge this one into."))
        return render(
            request,
            "people/merge.html",
            actor=actor,
            duplicate=individuals.read_own(session, actor, individual_id),
            into=individuals.read_own(session, actor, into),
        )


@router.post("/people/{individual_id}/merge")
def merge(request: Request, individual_id: uuid.UUID, form: SessionForm) -> Response:
    into = uuid_or_none(text(form, "into"))
    with signed_in(request, Action.INDIVIDUALS_MERGE) as (session, actor):
        if into is None:
            raise FormError(message=_("Choose the record to merge this one into."))
        duplicates.merge(session, actor, individual_id, into)
    return see_other(f"/people/{into}", done="merged")
