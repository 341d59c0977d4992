"""Supervisors' tools: a government's list of annulled passports (pasted or as CSV), a
country event, and overriding a person's risk level with a justification."""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from app import supervision
from app.actor import Actor
from app.alerts.notifications import oncall
from app.auth.roles import Action
from app.documents import revocations
from app.documents.schemas import RevocationList
from app.errors import NotFound
from app.i18n import N_, _
from app.individuals import service as individuals
from app.models.base import utcnow
from app.monitoring import service as monitoring
from app.monitoring.routes import CountryEventCreate
from app.risk import overrides
from app.risk import service as risk
from app.risk.schemas import RiskOverrideCreate
from app.web.render import FormError, WebRoute, render, see_other
from app.web.session import SessionForm, present, signed_in, submit_form, values_of

router = APIRouter(route_class=WebRoute)

EVENT_KINDS = (
    "crackdown",
    "deportation_agreement",
    "return_order",
    "arrest_warrants",
    "death_in_custody",
    "coerced_confession",
    "travel_ban",
)
NUMBER_HEADERS = {"number", "document_number", "passport_number", "passport", "passport_no"}
MAX_CSV_BYTES = 512 * 1024
# The overview's age buckets (app.supervision.AGES) as column headings, translated where shown.
AGE_HEADINGS = {
    "under an hour": N_("Under an hour"),
    "1 to 24 hours": N_("1 to 24 hours"),
    "1 to 7 days": N_("1 to 7 days"),
    "over 7 days": N_("Over 7 days"),
}


@router.get("/supervisor")
def tools(request: Request) -> Response:
    """The organisation's overview (app.supervision) above the supervisor's tools."""
    with signed_in(request, Action.REVOCATIONS_APPLY, Action.COUNTRY_EVENTS_WRITE) as (
        session,
        actor,
    ):
        found = supervision.overview(session, actor)
        names = {}  # the overdue people's names: each a read of their record, audited
        for due in found.overdue:
            try:
                names[due.individual_id] = individuals.read(session, actor, due.individual_id).get(
                    "full_name"
                )
            except NotFound:
                continue
        nobody = oncall.on_call(session, actor.organisation_id, utcnow()) is None
        return render(
            request,
            "supervisor/tools.html",
            actor=actor,
            overview=found,
            ages=[
                (_(AGE_HEADINGS.get(name, name.capitalize())), span)
                for name, span in supervision.AGES
            ],
            names=names,
            nobody_on_call=nobody,
        )


# A revocation list ----------------------------------------------------------------------------
def numbers_from(pasted: str, upload: Any) -> list[str]:
    """Numbers pasted (one per line, or separated by commas or spaces) and from a CSV file:
    the column headed number / document_number / passport…, or else the first column."""
    found = [n for n in re.split(r"[\s,;]+", pasted) if n]
    if isinstance(upload, UploadFile) and upload.filename:
        raw = upload.file.read(MAX_CSV_BYTES + 1)
        if len(raw) > MAX_CSV_BYTES:
            raise FormError({"csv": _("The CSV file is larger than 512 KB; split the list.")})
        try:
            content = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FormError({"csv": _("The CSV file is not UTF-8 text.")}) from None
        rows = [row for row in csv.reader(io.StringIO(content)) if any(c.strip() for c in row)]
        column = 0
        if rows:
            header = [c.strip().lower().replace(" ", "_") for c in rows[0]]
            named = [i for i, c in enumerate(header) if c in NUMBER_HEADERS]
            if named:
                column, rows = named[0], rows[1:]
        found += [row[column].strip() for row in rows if len(row) > column and row[column].strip()]
    return found


def _revocation_page(
    request: Request, actor: Any, *, status: int = 200, **context: Any
) -> Response:
    context.setdefault("result", None)
    return render(request, "supervisor/revocations.html", actor=actor, status=status, **context)


@router.get("/supervisor/revocations")
def revocation_page(request: Request) -> Response:
    with signed_in(request, Action.REVOCATIONS_APPLY) as (_, actor):
        return _revocation_page(request, actor)


@router.post("/supervisor/revocations")
def apply_revocations(request: Request, form: SessionForm) -> Response:
    values = values_of(form, ("issuing_country", "effective_date", "source", "numbers"))

    def save(session: Session, actor: Actor) -> Response:
        numbers = numbers_from(values["numbers"], form.get("csv"))
        if not numbers:
            raise FormError({"numbers": _("Paste the numbers, or choose a CSV file.")})
        data = {**present(values), "numbers": numbers}
        body = RevocationList.model_validate(data)
        result = revocations.apply_revocations(
            session,
            actor,
            issuing_country=body.issuing_country,
            numbers=body.numbers,
            effective_date=body.effective_date,
            source=body.source,
        )
        return _revocation_page(request, actor, result=result, values={})

    def again(_: Session, actor: Actor, exc: FormError) -> Response:
        return _revocation_page(request, actor, status=422, values=values, **exc.shown())

    return submit_form(request, Action.REVOCATIONS_APPLY, save=save, again=again)


# A country event ------------------------------------------------------------------------------
def _event_page(request: Request, actor: Any, *, status: int = 200, **context: Any) -> Response:
    context.setdefault("result", None)
    return render(
        request,
        "supervisor/country_event.html",
        actor=actor,
        status=status,
        kinds=EVENT_KINDS,
        **context,
    )


@router.get("/supervisor/country-events")
def country_event_page(request: Request) -> Response:
    with signed_in(request, Action.COUNTRY_EVENTS_WRITE) as (_, actor):
        return _event_page(request, actor)


def event_data(form: FormData) -> tuple[dict[str, str], dict[str, Any]]:
    values = values_of(
        form,
        (
            "country",
            "kind",
            "occurred_on",
            "description",
            "nationality",
            "affiliation",
            "current_country",
        ),
    )
    data: dict[str, Any] = present(
        {k: values[k] for k in ("country", "kind", "occurred_on", "description")}
    )
    if "kind" in data:
        data["kind"] = data["kind"].lower().replace(" ", "_")
    data["affects"] = present(
        {k: values[k] for k in ("nationality", "affiliation", "current_country")}
    )
    return values, data


@router.post("/supervisor/country-events")
def record_country_event(request: Request, form: SessionForm) -> Response:
    values, data = event_data(form)

    def save(session: Session, actor: Actor) -> Response:
        body = CountryEventCreate.model_validate(data)
        if not any(body.affects.model_dump().values()):
            raise FormError(
                {
                    "nationality": _(
                        "Say whom it affects: a nationality, an affiliation or a country of "
                        "residence."
                    )
                }
            )
        result = monitoring.record_country_event(session, actor, body.model_dump())
        return _event_page(request, actor, result=result, values={})

    def again(_: Session, actor: Actor, exc: FormError) -> Response:
        shown = exc.shown()
        shown["errors"] = {k.removeprefix("affects."): v for k, v in exc.errors.items()}
        return _event_page(request, actor, status=422, values=values, **shown)

    return submit_form(request, Action.COUNTRY_EVENTS_WRITE, save=save, again=again)


# Overriding a risk level ----------------------------------------------------------------------
def _override_page(
    request: Request,
    session: Session,
    actor: Actor,
    individual_id: uuid.UUID,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    current = risk.read_risk(session, actor, individual_id)  # 404 through a referral
    person = individuals.read(session, actor, individual_id)
    return render(
        request,
        "people/risk_override.html",
        actor=actor,
        status=status,
        person=person,
        risk=current,
        **context,
    )


@router.get("/people/{individual_id}/risk/override")
def override_page(request: Request, individual_id: uuid.UUID) -> Response:
    with signed_in(request, Action.RISK_OVERRIDE) as (session, actor):
        return _override_page(request, session, actor, individual_id)


@router.post("/people/{individual_id}/risk/override")
def override_risk(request: Request, individual_id: uuid.UUID, form: SessionForm) -> Response:
    values = values_of(form, ("level", "justification", "expires_on"))

    def save(session: Session, actor: Actor) -> Response:
        body = RiskOverrideCreate.model_validate(present(values))
        overrides.set_override(
            session,
            actor,
            individual_id,
            level=body.level.value,
            justification=body.justification,
            expires_on=body.expires_on,
        )
        return see_other(f"/people/{individual_id}#risk", done="override")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _override_page(
            request, session, actor, individual_id, status=422, values=values, **exc.shown()
        )

    return submit_form(request, Action.RISK_OVERRIDE, save=save, again=again)
