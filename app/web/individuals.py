"""People: search, a person's page, and registering a new person."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import Field, ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from app import limits
from app.actor import Actor
from app.alerts import cards as alert_cards
from app.alerts import queries as alert_queries
from app.auth import roles
from app.auth.roles import Action
from app.auth.scope import SECTIONS
from app.cases import service as cases
from app.consent import service as consent
from app.documents import service as documents
from app.documents.schemas import DocumentView
from app.errors import HavenError
from app.i18n import N_, _, ngettext
from app.incidents import service as incidents
from app.individuals import listing, schemas
from app.individuals import service as individuals
from app.models.base import utcnow
from app.records import history
from app.records.sharing import sections_for_person
from app.risk import service as risk
from app.unhcr import service as unhcr
from app.validation import CountryCode
from app.web import duplicates as web_duplicates
from app.web import referrals as web_referrals
from app.web.filters import in_zone, label
from app.web.render import FormError, WebRoute, render, see_other
from app.web.session import SessionForm, present, signed_in, submit_form, text, values_of

router = APIRouter(route_class=WebRoute)

PERSON_FIELDS = (
    "full_name",
    "native_name",
    "aliases",
    "date_of_birth",
    "sex",
    "nationalities",
    "affiliation",
    "affiliation_role",
    "current_country",
    "current_location",
    "contact",
    "notes",
    "check_in_every_hours",
)
SEARCH_LIMIT = 50
EXPIRY_WARNING_DAYS = 180


def split_list(value: str, *, codes: bool = False) -> list[str]:
    """One alias per line; country codes separated by commas or spaces."""
    if codes:
        return [part.upper() for part in re.split(r"[\s,;]+", value) if part]
    return [line.strip() for line in value.splitlines() if line.strip()]


# Search ---------------------------------------------------------------------------------------
class _Query(schemas.Strict):
    """The API's search parameters (GET /individuals), as a form."""

    q: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    document_number: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    country: CountryCode | None = None
    risk_level: schemas.RiskLevel | None = None
    open_alerts: bool | None = None
    sort: listing.Sort = "risk"
    page: Annotated[int, Field(ge=1, le=100_000)] = 1


SEARCH_FIELDS = ("q", "document_number", "country", "risk_level", "open_alerts", "sort", "page")
# Typed into the form and posted, never put in the address: a URL stays in browser history,
# and a seized laptop's history would list who was looked for.
SEARCH_TERMS = ("q", "name", "document_number")
SORT_LABELS = (
    ("risk", N_("Risk, highest first")),
    ("name", N_("Name")),
    ("updated", N_("Last change")),
)


@router.get("/people")
def search_page(request: Request) -> Response:
    """The form, and results for the filters an address may carry (country, risk, open
    alerts, sort, page, everyone)."""
    params = request.query_params
    if any(params.get(term) for term in SEARCH_TERMS):  # an old link or a hand-typed address
        kept = {k: v for k, v in params.items() if k not in SEARCH_TERMS and v}
        return see_other("/people" + (f"?{urlencode(kept)}" if kept else ""))
    values = {field: params.get(field, "").strip() for field in SEARCH_FIELDS}
    return _search(request, values, everyone=params.get("all") == "1")


@router.post("/people")
def search_posted(request: Request, form: SessionForm) -> Response:
    """A search by name or document number: the terms come in the body of a CSRF-checked form."""
    values = values_of(form, SEARCH_FIELDS)
    values["q"] = values["q"] or text(form, "name")  # the field's name before words were searched
    return _search(request, values, everyone=False)


def _search(request: Request, values: dict[str, str], *, everyone: bool) -> Response:
    with signed_in(request, Action.INDIVIDUALS_READ) as (session, actor):
        asked = any(v for k, v in values.items() if k not in ("sort", "page")) or everyone
        found: listing.PeoplePage | None = None
        errors: dict[str, str] = {}
        query: _Query | None = None
        if asked:
            try:
                query = _Query.model_validate(present(values))
            except ValidationError as exc:
                errors = FormError.from_validation(exc).errors
            else:
                if query.q is not None or query.document_number is not None:
                    limits.count_lookup(session, actor)
                try:
                    found = listing.find(
                        session,
                        actor,
                        listing.PeopleQuery(
                            q=query.q,
                            document_number=query.document_number,
                            country=query.country,
                            risk_level=query.risk_level.value if query.risk_level else None,
                            open_alerts=query.open_alerts or None,
                            sort=query.sort,
                            limit=SEARCH_LIMIT,
                            offset=(query.page - 1) * SEARCH_LIMIT,
                        ),
                    )
                except HavenError as exc:
                    errors = FormError.from_domain(exc).errors or {"q": exc.detail}
        pages = -(-found["total"] // SEARCH_LIMIT) if found else 0
        return render(
            request,
            "people/search.html",
            actor=actor,
            status=422 if errors else 200,
            values=values,
            errors=errors,
            results=[web_referrals.with_defaults(p) for p in found["items"]] if found else None,
            total=found["total"] if found else 0,
            page=query.page if query else 1,
            pages=pages,
            limit=SEARCH_LIMIT,
            everyone=everyone,
            posted=request.method == "POST",
            sorts=[(value, _(text)) for value, text in SORT_LABELS],
            address=_address(values, everyone),
        )


def _address(values: dict[str, str], everyone: bool) -> str:
    """The list's address without the page (never the typed terms), for the pager's links."""
    kept = {k: v for k, v in values.items() if v and k not in SEARCH_TERMS and k != "page"}
    if everyone:
        kept["all"] = "1"
    return "/people?" + urlencode(kept)


# Registering a person -------------------------------------------------------------------------
def _new_page(request: Request, actor: Actor, *, status: int = 200, **context: Any) -> Response:
    context.setdefault("values", {"open_case": "1"})
    return render(request, "people/new.html", actor=actor, status=status, **context)


@router.get("/people/new")
def new_person_page(request: Request) -> Response:
    with signed_in(request, Action.INDIVIDUALS_WRITE) as (_, actor):
        return _new_page(request, actor)


def person_data(values: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = present(values)
    if "aliases" in data:
        data["aliases"] = split_list(data["aliases"])
    if "nationalities" in data:
        data["nationalities"] = split_list(data["nationalities"], codes=True)
    return data


@router.post("/people/new")
def create_person(request: Request, form: SessionForm) -> Response:
    values = values_of(form, PERSON_FIELDS)
    open_case = text(form, "open_case")

    def save(session: Session, actor: Actor) -> Response:
        body = schemas.IndividualCreate.model_validate(person_data(values))
        person = individuals.create(session, actor, body.model_dump())
        opened = bool(open_case) and roles.allows(actor.role, Action.CASES_WRITE)
        if opened:
            cases.open_case(session, actor, {"individual_id": person.id})
        found = web_duplicates.possible(session, actor, person.id)
        return see_other(
            f"/people/{person.id}",
            done="person-case" if opened else "person",
            warn=["duplicates"] if found else None,
        )

    def again(_: Session, actor: Actor, exc: FormError) -> Response:
        return _new_page(
            request,
            actor,
            status=422,
            values={**values, "open_case": open_case},
            **exc.shown(),
        )

    return submit_form(request, Action.INDIVIDUALS_WRITE, save=save, again=again)


# A person's page ------------------------------------------------------------------------------
def document_state(document: DocumentView, today: dt.date) -> tuple[str, str]:
    """(tone, words) for a document's validity at a glance, in the reader's language."""
    status = document["status"]
    expires = document.get("expires_on")
    if status != "valid":
        tone = "danger" if status in ("revoked", "confiscated") else "warning"
        if document.get("status_date"):
            since = in_zone(document["status_date"])
            return tone, _("%(status)s since %(date)s") % {"status": label(status), "date": since}
        return tone, label(status)
    if expires is None:
        return "ok", _("Valid (no expiry date recorded)")
    if expires < today:
        return "danger", _("Expired on %(date)s") % {"date": in_zone(expires)}
    days = (expires - today).days
    if days <= EXPIRY_WARNING_DAYS:
        return "warning", ngettext(
            "Valid, expires in %(num)d day (%(date)s)",
            "Valid, expires in %(num)d days (%(date)s)",
            days,
        ) % {"num": days, "date": in_zone(expires)}
    return "ok", _("Valid until %(date)s") % {"date": in_zone(expires)}


def _check_ins(session: Session, person_id: uuid.UUID) -> list[dict[str, Any]]:
    entries = history.timeline(session, person_id, with_values=False)
    return [e for e in reversed(entries) if e["kind"] == "check_in.recorded"][:10]


def _overdue(person: dict[str, Any]) -> bool:
    every, last = person.get("check_in_every_hours"), person.get("last_check_in_at")
    return bool(every and last and last + dt.timedelta(hours=every) < utcnow())


def _risk(session: Session, actor: Actor, individual_id: uuid.UUID) -> dict[str, Any]:
    return {"override": None, **risk.read_risk(session, actor, individual_id)}


def person_context(session: Session, actor: Actor, individual_id: uuid.UUID) -> dict[str, Any]:
    """Everything the person's page shows, each part read through its own service.

    A person of another organisation, seen through a referral of one of their cases, shows
    the referral's banner and the referred sections only (never risk, alerts, check-ins,
    consent or duplicates: no referral shares them)."""
    allowed = {a for a in Action if roles.allows(actor.role, a)}
    read, row, hidden = individuals.read_record(session, actor, individual_id)
    person = web_referrals.with_defaults(read)
    own = row.organisation_id == actor.organisation_id
    shown = set(SECTIONS) if own else set(sections_for_person(session, actor, row) or ())
    context: dict[str, Any] = {
        "person": person,
        "own": own,
        "sections_shown": shown,
        "referral": None if own else web_referrals.referral_of_person(session, actor, row.id),
        "section_labels": web_referrals.SECTION_LABELS,
        "documents": [],
        "unhcr_history": [],
        "risk": None,
        "incidents": [],
        "cases": [],
        "check_ins": [],
        "overdue": False,
        "alerts": [],
        "alert_countries": [],
        "hidden": hidden,
        "consents": [],
        "duplicates": [],
    }
    if "documents" in shown:
        today = dt.date.today()
        context["documents"] = [
            {**doc, "tone": tone, "state": state}
            for doc in documents.list_documents(session, actor, row)
            for tone, state in [document_state(doc, today)]
        ]
    if "unhcr_status" in shown:
        context["unhcr_history"] = unhcr.read_history(session, actor, row.id)
    if Action.CASES_READ in allowed:
        context["cases"] = cases.list_cases(session, actor, individual_id=row.id, limit=20)[0]
    if Action.INCIDENTS_READ in allowed and "incidents" in shown:
        context["incidents"] = incidents.list_incidents(
            session, actor, individual_id=row.id, limit=50
        )[0]
    if not own:
        return context
    context["check_ins"] = _check_ins(session, row.id)
    context["overdue"] = _overdue(person)
    context["consents"] = consent.history(session, actor, row.id)
    context["duplicates"] = web_duplicates.possible(session, actor, row.id)
    if Action.RISK_READ in allowed:
        context["risk"] = _risk(session, actor, row.id)
    if Action.ALERTS_READ in allowed:
        active = [
            a
            for a in alert_queries.list_alerts(session, actor, individual_id=row.id, limit=20)[0]
            if a["status"] != "resolved"
        ]
        # The person's name and country are on the page already: not read again per alert.
        context["alerts"] = alert_cards.cards(session, actor, active, via="person", names=False)
        context["alert_countries"] = sorted(
            {
                c["country"]
                for c in context["alerts"]
                if c["country_is_event"] and c["country"] != person.get("current_country")
            }
            - {None}
        )
    return context


@router.get("/people/{individual_id}")
def person_page(request: Request, individual_id: uuid.UUID) -> Response:
    with signed_in(request, Action.INDIVIDUALS_READ) as (session, actor):
        context = person_context(session, actor, individual_id)
        return render(request, "people/person.html", actor=actor, **context)
