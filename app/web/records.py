"""Forms that add to a person's record: travel documents (with an MRZ pasted in), UNHCR
status, welfare check-ins, and incidents concerning one or several people.

Each form is validated by the API's own body model and saved by the API's own service call,
in one transaction; what is wrong is shown next to the field it concerns.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from app import limits
from app.actor import Actor
from app.auth.roles import Action
from app.documents import mrz
from app.documents import schemas as document_schemas
from app.documents import service as documents
from app.i18n import N_, _
from app.incidents import schemas as incident_schemas
from app.incidents import service as incidents
from app.individuals import schemas as person_schemas
from app.individuals import service as individuals
from app.individuals.schemas import PersonView
from app.monitoring import service as monitoring
from app.monitoring.routes import CheckInCreate
from app.unhcr import service as unhcr
from app.unhcr.routes import UnhcrStatusCreate
from app.web import duplicates as web_duplicates
from app.web.render import FormError, WebRoute, render, see_other, uuid_or_none
from app.web.session import SessionForm, present, signed_in, submit_form, text, values_of

router = APIRouter(route_class=WebRoute)

DOCUMENT_FIELDS = (
    "type",
    "number",
    "issuing_country",
    "issued_on",
    "expires_on",
    "status",
    "status_date",
    "status_source",
    "mrz",
)
UNHCR_FIELDS = ("status", "effective_date", "unhcr_reference", "expires_on", "note")
INCIDENT_FIELDS = (
    "type",
    "occurred_on",
    "country",
    "location",
    "description",
    "perpetrator",
    "source_name",
    "source_reliability",
    "source_credibility",
)
CHANNELS = ("phone", "in_person", "message", "video", "third_party")


def _form_page(
    request: Request,
    session: Session,
    actor: Actor,
    individual_id: uuid.UUID,
    template: str,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    person = individuals.read_own(session, actor, individual_id)  # never through a referral
    return render(request, template, actor=actor, status=status, person=person, **context)


# Travel documents -----------------------------------------------------------------------------
@router.get("/people/{individual_id}/documents/new")
def document_page(request: Request, individual_id: uuid.UUID) -> Response:
    with signed_in(request, Action.DOCUMENTS_WRITE) as (session, actor):
        return _form_page(
            request,
            session,
            actor,
            individual_id,
            "people/document.html",
            values={"type": "passport", "status": "valid"},
        )


@router.post("/people/{individual_id}/documents")
def add_document(request: Request, individual_id: uuid.UUID, form: SessionForm) -> Response:
    values = values_of(form, DOCUMENT_FIELDS)

    def save(session: Session, actor: Actor) -> Response:
        body = document_schemas.DocumentCreate.model_validate(present(values))
        added = documents.add_to_person(session, actor, individual_id, body.model_dump())
        found = web_duplicates.possible(session, actor, individual_id)
        warnings = [w["field"] for w in added.get("warnings") or []]
        warnings += ["duplicates"] if found else []
        return see_other(f"/people/{individual_id}#documents", done="document", warn=warnings)

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        if exc.errors.get("mrz"):  # "the passport number's check digit does not match"
            exc.errors["mrz"] = mrz.explain(exc.errors["mrz"])
        return _form_page(
            request,
            session,
            actor,
            individual_id,
            "people/document.html",
            status=422,
            values=values,
            **exc.shown(),
        )

    return submit_form(request, Action.DOCUMENTS_WRITE, save=save, again=again)


# UNHCR status ---------------------------------------------------------------------------------
@router.get("/people/{individual_id}/unhcr/new")
def unhcr_page(request: Request, individual_id: uuid.UUID) -> Response:
    with signed_in(request, Action.UNHCR_WRITE) as (session, actor):
        return _form_page(request, session, actor, individual_id, "people/unhcr.html")


@router.post("/people/{individual_id}/unhcr")
def add_unhcr_status(request: Request, individual_id: uuid.UUID, form: SessionForm) -> Response:
    values = values_of(form, UNHCR_FIELDS)

    def save(session: Session, actor: Actor) -> Response:
        body = UnhcrStatusCreate.model_validate(present(values))
        unhcr.add_for_person(session, actor, individual_id, body.model_dump())
        return see_other(f"/people/{individual_id}#unhcr", done="unhcr")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _form_page(
            request,
            session,
            actor,
            individual_id,
            "people/unhcr.html",
            status=422,
            values=values,
            **exc.shown(),
        )

    return submit_form(request, Action.UNHCR_WRITE, save=save, again=again)


# Welfare check-ins ----------------------------------------------------------------------------
@router.get("/people/{individual_id}/check-ins/new")
def check_in_page(request: Request, individual_id: uuid.UUID) -> Response:
    with signed_in(request, Action.CHECK_INS_WRITE) as (session, actor):
        return _form_page(
            request, session, actor, individual_id, "people/check_in.html", channels=CHANNELS
        )


@router.post("/people/{individual_id}/check-ins")
def add_check_in(request: Request, individual_id: uuid.UUID, form: SessionForm) -> Response:
    values = values_of(form, ("channel", "note"))

    def save(session: Session, actor: Actor) -> Response:
        body = CheckInCreate.model_validate(present(values))
        monitoring.record_check_in(session, actor, individual_id, body.model_dump())
        return see_other(f"/people/{individual_id}#check-ins", done="check-in")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _form_page(
            request,
            session,
            actor,
            individual_id,
            "people/check_in.html",
            status=422,
            values=values,
            channels=CHANNELS,
            **exc.shown(),
        )

    return submit_form(request, Action.CHECK_INS_WRITE, save=save, again=again)


@router.post("/people/{individual_id}/check-in-interval")
def set_check_in_interval(
    request: Request, individual_id: uuid.UUID, form: SessionForm
) -> Response:
    values = values_of(form, ("check_in_every_hours",))

    def save(session: Session, actor: Actor) -> Response:
        body = person_schemas.IndividualUpdate.model_validate(present(values))
        individuals.update_person(
            session, actor, individual_id, {"check_in_every_hours": body.check_in_every_hours}
        )
        return see_other(f"/people/{individual_id}#check-ins", done="interval")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _form_page(
            request,
            session,
            actor,
            individual_id,
            "people/check_in.html",
            status=422,
            interval=values,
            channels=CHANNELS,
            **exc.shown(),
        )

    return submit_form(
        request,
        Action.INDIVIDUALS_WRITE,
        save=save,
        again=again,
        again_as=(Action.CHECK_INS_WRITE,),
    )


# Incidents ------------------------------------------------------------------------------------
def _candidates(
    session: Session, actor: Actor, chosen: list[uuid.UUID], find: str
) -> list[PersonView]:
    """People to tick: those already chosen, then a name search, or the caller's caseload."""
    people: dict[uuid.UUID, PersonView] = {}
    for person_id in chosen:
        person = individuals.read_own(session, actor, person_id)  # never through a referral
        people[person["id"]] = person
    if find:
        limits.count_lookup(session, actor)  # a search by name, like the People page's
        found, _ = individuals.search(session, actor, name=find, limit=30)
    elif not chosen:
        found, _ = individuals.search(session, actor, limit=30)
    else:
        found = []
    for person in found:
        if person["organisation"] == actor.organisation_id:  # not those seen through a referral
            people.setdefault(person["id"], person)
    return list(people.values())


def _incident_page(
    request: Request,
    session: Session,
    actor: Actor,
    chosen: list[uuid.UUID],
    *,
    find: str = "",
    status: int = 200,
    **context: Any,
) -> Response:
    context.setdefault("values", {"source_reliability": "C", "source_credibility": "3"})
    return render(
        request,
        "incidents/new.html",
        actor=actor,
        status=status,
        people=_candidates(session, actor, chosen, find[:200]),
        chosen=set(chosen),
        find=find,
        types=list(incident_schemas.IncidentType),
        reliability={k: _(v) for k, v in RELIABILITY.items()},
        credibility={k: _(v) for k, v in CREDIBILITY.items()},
        **context,
    )


RELIABILITY = {
    "A": N_("A: completely reliable"),
    "B": N_("B: usually reliable"),
    "C": N_("C: fairly reliable"),
    "D": N_("D: not usually reliable"),
    "E": N_("E: unreliable"),
    "F": N_("F: reliability cannot be judged"),
}
CREDIBILITY = {
    "1": N_("1: confirmed by other sources"),
    "2": N_("2: probably true"),
    "3": N_("3: possibly true"),
    "4": N_("4: doubtful"),
    "5": N_("5: improbable"),
    "6": N_("6: truth cannot be judged"),
}


@router.get("/incidents/new")
def incident_page(request: Request) -> Response:
    people = request.query_params.getlist("person")
    if request.query_params.get("find"):  # a name never stays in the address (browser history)
        return see_other(
            "/incidents/new" + (f"?{urlencode({'person': people}, True)}" if people else "")
        )
    chosen = [p for v in people if (p := uuid_or_none(v))]
    with signed_in(request, Action.INCIDENTS_WRITE) as (session, actor):
        return _incident_page(request, session, actor, chosen)


@router.post("/incidents/new")
def incident_page_finding(request: Request, form: SessionForm) -> Response:
    """The same page, with the people found by a name posted in its CSRF-checked finder."""
    chosen = [p for v in form.getlist("person") if isinstance(v, str) and (p := uuid_or_none(v))]
    find = text(form, "find")
    with signed_in(request, Action.INCIDENTS_WRITE) as (session, actor):
        return _incident_page(request, session, actor, chosen, find=find)


def incident_data(values: dict[str, str], people: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {k: v for k, v in present(values).items() if not k.startswith("source_")}
    data["individual_ids"] = people
    source: dict[str, Any] = {
        "name": values["source_name"] or None,
        "reliability": values["source_reliability"] or None,
        "credibility": int(c) if (c := values["source_credibility"]).isdigit() else None,
    }
    data["source"] = {k: v for k, v in source.items() if v is not None}
    return data


@router.post("/incidents")
def create_incident(request: Request, form: SessionForm) -> Response:
    values = values_of(form, INCIDENT_FIELDS)
    people = [str(v) for v in form.getlist("individual_ids") if isinstance(v, str)]
    chosen = [p for v in people if (p := uuid_or_none(v))]

    def save(session: Session, actor: Actor) -> Response:
        body = incident_schemas.IncidentCreate.model_validate(incident_data(values, people))
        incidents.record_incident(session, actor, body.model_dump())
        return see_other(f"/people/{chosen[0]}#incidents", done="incident")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        failed = exc.shown()
        failed["errors"] = {_incident_field(k): v for k, v in exc.errors.items()}
        return _incident_page(request, session, actor, chosen, status=422, values=values, **failed)

    return submit_form(request, Action.INCIDENTS_WRITE, save=save, again=again)


def _incident_field(name: str) -> str:
    """The model's ``source.reliability`` is the form's ``source_reliability``."""
    return name.replace("source.", "source_")
