"""Referrals in the web client: the supervisor's inbox of incoming referrals (accept or
decline), revoking one, and what a case or person page shows about them: the banner of a
record seen through a referral, and the case's referrals with the form that makes one.

Everything goes through ``app.referrals.service`` (scope, consent gate, audit, timeline and
alerts are decided there); this module only arranges it for the pages.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from app import organisations
from app.actor import Actor
from app.auth import roles
from app.auth.roles import Action
from app.auth.scope import SECTIONS, active_referrals
from app.consent import service as consent
from app.i18n import N_, _
from app.models.case import Case
from app.models.referral import Referral
from app.referrals import service as referrals
from app.referrals.schemas import ReferralCreate, ReferralRead
from app.web.render import FormError, WebRoute, render, see_other
from app.web.session import SessionForm, present, signed_in, values_of

router = APIRouter(route_class=WebRoute)

# The sections' names in English: translated where shown (``_(label)`` in the templates).
SECTION_LABELS = {
    "identity": N_("Identity"),
    "documents": N_("Travel documents"),
    "unhcr_status": N_("UNHCR status"),
    "incidents": N_("Incidents"),
    "history": N_("Case history and notes"),
}
REFER_FIELDS = ("to_organisation", "purpose", "expires_on")
# What a page shows of a person seen through a referral, whatever the referral holds.
PERSON_DEFAULTS: dict[str, Any] = {
    "full_name": None,
    "native_name": None,
    "aliases": [],
    "date_of_birth": None,
    "sex": None,
    "nationalities": [],
    "affiliation": None,
    "affiliation_role": None,
    "current_country": None,
    "current_location": None,
    "contact": None,
    "notes": None,
    "check_in_every_hours": None,
    "last_check_in_at": None,
    "risk": {"level": None, "score": None},
    "unhcr_status": None,
}


def with_defaults(person: Mapping[str, Any]) -> dict[str, Any]:
    """A person as the templates expect them: the fields a referral leaves out, empty."""
    return {**PERSON_DEFAULTS, **{k: v for k, v in person.items() if v is not None}}


def section_labels(sections: list[str]) -> list[str]:
    return [_(SECTION_LABELS[s]) if s in SECTION_LABELS else s for s in sections]


# The banner ------------------------------------------------------------------------------------
def referral_of_person(
    session: Session, actor: Actor, individual_id: uuid.UUID
) -> ReferralRead | None:
    """The newest active referral through which the actor sees the person (None: its own)."""
    referral = session.scalar(
        select(Referral)
        .where(
            Referral.case_id.in_(select(Case.id).where(Case.individual_id == individual_id)),
            Referral.id.in_(active_referrals(actor)),
        )
        .order_by(Referral.created_at.desc())
        .limit(1)
    )
    return referrals.present(session, actor, referral) if referral is not None else None


# A case's referrals and the form that makes one ----------------------------------------------
def case_context(session: Session, actor: Actor, case: Case, *, may_refer: bool) -> dict[str, Any]:
    """The "Referrals" part of a case of the actor's own organisation."""
    context: dict[str, Any] = {
        "referrals": referrals.for_case(session, actor, case.id),
        "may_refer": may_refer,
        "organisations": [],
        "sections": [(s, SECTION_LABELS[s]) for s in SECTIONS],
        "consent": None,
    }
    if may_refer:
        context["organisations"] = [
            (str(org.id), org.name)
            for org in organisations.listing(session)
            if org.id != actor.organisation_id
        ]
        context["consent"] = consent.current(session, case.individual_id)
    return context


def may_refer(actor: Actor, case: Case, may_assign: bool) -> bool:
    """A supervisor of the case's organisation or its caseworker (who may also assign)."""
    return (
        roles.allows(actor.role, Action.REFERRALS_WRITE)
        and case.organisation_id == actor.organisation_id
        and may_assign
    )


def referral_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = values_of(form, REFER_FIELDS)
    values["sections"] = [v for v in form.getlist("sections") if isinstance(v, str)]
    return values


def referral_body(values: dict[str, Any]) -> ReferralCreate:
    """The API's body model, validated from the form's values; errors by field."""
    try:
        return ReferralCreate.model_validate(present(values))
    except ValidationError as exc:
        failed = FormError.from_validation(exc)
        if "sections" in failed.errors:
            failed.errors["sections"] = _("Tick at least one section to share.")
        if "to_organisation" in failed.errors:
            failed.errors["to_organisation"] = _("Choose the organisation to refer the case to.")
        raise failed from None


# The inbox -------------------------------------------------------------------------------------
def _grouped(items: list[ReferralRead]) -> dict[str, list[ReferralRead]]:
    groups: dict[str, list[ReferralRead]] = {"pending": [], "active": [], "ended": []}
    for item in items:
        if item.status == "pending":
            groups["pending"].append(item)
        elif item.active:
            groups["active"].append(item)
        else:
            groups["ended"].append(item)
    return groups


@router.get("/referrals")
def inbox(request: Request) -> Response:
    with signed_in(request, Action.REFERRALS_DECIDE) as (session, actor):
        incoming = _grouped(referrals.incoming(session, actor))
        outgoing = referrals.outgoing(session, actor)
        return render(
            request,
            "referrals/inbox.html",
            actor=actor,
            incoming=incoming,
            outgoing=outgoing,
            labels=SECTION_LABELS,
        )


@router.post("/referrals/{referral_id}/accept")
def accept(request: Request, referral_id: uuid.UUID, form: SessionForm) -> Response:
    with signed_in(request, Action.REFERRALS_DECIDE) as (session, actor):
        referral = referrals.accept(session, actor, referral_id)
    return see_other(f"/cases/{referral.case_id}", done="referral-accepted")


@router.post("/referrals/{referral_id}/decline")
def decline(request: Request, referral_id: uuid.UUID, form: SessionForm) -> Response:
    with signed_in(request, Action.REFERRALS_DECIDE) as (session, actor):
        referrals.decline(session, actor, referral_id)
    return see_other("/referrals", done="referral-declined")


@router.post("/referrals/{referral_id}/revoke")
def revoke(request: Request, referral_id: uuid.UUID, form: SessionForm) -> Response:
    with signed_in(request, Action.REFERRALS_WRITE) as (session, actor):
        referral = referrals.revoke(session, actor, referral_id)
    return see_other(f"/cases/{referral.case_id}#referrals", done="referral-revoked")
