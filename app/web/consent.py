"""A person's consent: the form that records a decision (kept as a history, the newest
governs), and the erasure that a withdrawal of consent to keep the record leads to.

Recording goes through ``app.consent.service.record`` (sealed, audited, on the timeline; a
withdrawal of consent to share ends the person's referrals there); erasure through
``app.individuals.service.erase``, as ``DELETE /api/v1/individuals/{id}`` does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.actor import Actor
from app.auth.roles import Action
from app.consent import service as consent
from app.consent.schemas import ConsentCreate
from app.i18n import N_, _
from app.individuals import schemas as person_schemas
from app.individuals import service as individuals
from app.web.render import FormError, WebRoute, render, see_other
from app.web.session import SessionForm, present, signed_in, submit_form, text, values_of

router = APIRouter(route_class=WebRoute)

CONSENT_FIELDS = ("method", "recorded_on", "note")
METHODS = [("verbal", N_("Verbal")), ("written", N_("Written"))]


def _consent_page(
    request: Request,
    session: Session,
    actor: Actor,
    individual_id: uuid.UUID,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    person = individuals.read_own(session, actor, individual_id)
    context.setdefault(
        "values",
        {"store": "1", "method": "verbal", "recorded_on": dt.date.today().isoformat()},
    )
    return render(
        request,
        "people/consent.html",
        actor=actor,
        status=status,
        person=person,
        methods=[(value, _(text)) for value, text in METHODS],
        **context,
    )


@router.get("/people/{individual_id}/consent/new")
def consent_page(request: Request, individual_id: uuid.UUID) -> Response:
    with signed_in(request, Action.CONSENT_WRITE) as (session, actor):
        return _consent_page(request, session, actor, individual_id)


def consent_body(values: dict[str, str]) -> ConsentCreate:
    """The API's body from the form: two checkboxes, a method, a date and a note."""
    store, share = values["store"] == "1", values["share_with_partners"] == "1"
    if share and not store:
        raise FormError(
            {
                "share_with_partners": _(
                    "Sharing needs consent to keep the record: tick both, or neither."
                )
            }
        )
    data = {
        **present({k: values[k] for k in CONSENT_FIELDS}),
        "store": store,
        "share_with_partners": share,
    }
    return ConsentCreate.model_validate(data)


@router.post("/people/{individual_id}/consent")
def record_consent(request: Request, individual_id: uuid.UUID, form: SessionForm) -> Response:
    values = values_of(form, (*CONSENT_FIELDS, "store", "share_with_partners"))

    def save(session: Session, actor: Actor) -> Response:
        consent.record(session, actor, individual_id, consent_body(values))
        return see_other(f"/people/{individual_id}#consent", done="consent")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _consent_page(
            request, session, actor, individual_id, status=422, values=values, **exc.shown()
        )

    return submit_form(request, Action.CONSENT_WRITE, save=save, again=again)


# Erasure ----------------------------------------------------------------------------------------
def _erase_page(
    request: Request,
    session: Session,
    actor: Actor,
    individual_id: uuid.UUID,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    person = individuals.read_own(session, actor, individual_id)
    return render(
        request,
        "people/erase.html",
        actor=actor,
        status=status,
        person=person,
        current=consent.current(session, individual_id),
        **context,
    )


@router.get("/people/{individual_id}/erase")
def erase_page(request: Request, individual_id: uuid.UUID) -> Response:
    with signed_in(request, Action.INDIVIDUALS_ERASE) as (session, actor):
        return _erase_page(request, session, actor, individual_id)


@router.post("/people/{individual_id}/erase")
def erase(request: Request, individual_id: uuid.UUID, form: SessionForm) -> Response:
    values = values_of(form, ("reason",))

    def save(session: Session, actor: Actor) -> Response:
        if text(form, "confirm") != "1":
            raise FormError({"confirm": _("Tick the box to confirm the erasure.")})
        body = person_schemas.Erasure.model_validate(present(values))
        individuals.erase(session, actor, individual_id, body.reason)
        return see_other("/people", done="erased")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _erase_page(
            request, session, actor, individual_id, status=422, values=values, **exc.shown()
        )

    return submit_form(request, Action.INDIVIDUALS_ERASE, save=save, again=again)
