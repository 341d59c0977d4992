"""The alert inbox: the home page of everyone who handles alerts.

Open alerts first, then the ones someone is on, each list most severe and newest first (the
order of ``app.alerts.queries.list_alerts``). The page works as it is; ``haven.js`` keeps it
current from the alert stream by fetching ``/alerts/inbox`` (the lists alone) on each event.
Each card names the person (for a reader whose scope includes them; each read audited), the
country and the date of the event, and who is handling it; ``?names=off`` hides the names
for a screen in a shared office. Filters (severity, rule, person, handled by me, nobody) and
the pages go in the address.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.actor import Actor
from app.alerts import cards, queries, rules
from app.alerts import service as alerts
from app.alerts.routes import AlertResolve
from app.auth import roles
from app.auth.roles import Action
from app.i18n import N_, _
from app.web import alert_page
from app.web.render import FormError, WebRoute, local_path, render, see_other, uuid_or_none
from app.web.session import SessionForm, signed_in, submit_form, text

router = APIRouter(route_class=WebRoute)
ROLE_HOMES = (
    (Action.USERS_MANAGE, "/admin"),
    (Action.STATS_READ, "/analyst"),
    (Action.AUDIT_READ, "/audit"),
)
# Enough for a busy day, few enough to keep the page light on a weak connection (the rest is
# one link away).
WAITING, HANDLING = 40, 20


HANDLERS = (("", N_("Anyone")), ("me", N_("Handled by me")), ("none", N_("Nobody yet")))
FILTERS = ("severity", "rule", "person", "handler", "names")


def _filters(request: Request) -> dict[str, str]:
    """The inbox's filters as given in the address, unknown values dropped."""
    params = request.query_params
    kept = {name: params.get(name, "") for name in FILTERS}
    if kept["severity"] not in rules.SEVERITIES:
        kept["severity"] = ""
    if kept["rule"] not in rules.SUMMARIES:
        kept["rule"] = ""
    if uuid_or_none(kept["person"]) is None:
        kept["person"] = ""
    if kept["handler"] not in ("me", "none"):
        kept["handler"] = ""
    if kept["names"] != "off":
        kept["names"] = ""
    return kept


def _lists(session: Session, actor: Actor, request: Request) -> dict[str, Any]:
    params = request.query_params
    chosen = _filters(request)
    found = queries.read_inbox(
        session,
        actor,
        waiting=WAITING,
        handling=HANDLING,
        open_after=params.get("open_after") or None,
        handling_after=params.get("handling_after") or None,
        severity=chosen["severity"] or None,
        rule=chosen["rule"] or None,
        individual_id=uuid_or_none(chosen["person"]),
        handler=chosen["handler"] or None,
    )
    names = chosen["names"] != "off"
    for part in ("waiting", "handling"):
        found[part] = cards.cards(session, actor, found[part], via="inbox", names=names)
    found["groups"] = group_by_person(found["waiting"])
    kept = {k: v for k, v in chosen.items() if v}
    return {
        **found,
        "filters": chosen,
        "filter_query": ("&" + urlencode(kept)) if kept else "",
        "rule_options": sorted(
            ((rule, _(text)) for rule, text in rules.SUMMARIES.items()), key=lambda item: item[1]
        ),
        "handler_options": HANDLERS,
    }


def group_by_person(items: list[Any]) -> list[dict[str, Any]]:
    """One person's alerts together, at the place of their most urgent one (the list is most
    urgent first); alerts with no person each stand alone."""
    groups: list[dict[str, Any]] = []
    by_person: dict[Any, dict[str, Any]] = {}
    for item in items:
        person = item["individual_id"]
        if person is not None and person in by_person:
            by_person[person]["more"].append(item)
            continue
        group = {"lead": item, "more": []}
        groups.append(group)
        if person is not None:
            by_person[person] = group
    return groups


def _inbox(
    request: Request, session: Session, actor: Actor, *, status: int = 200, **context: Any
) -> Response:
    context.setdefault("failed", None)
    return render(
        request,
        "alerts/inbox.html",
        actor=actor,
        status=status,
        **_lists(session, actor, request),
        **context,
    )


@router.get("/")
def home(request: Request) -> Response:
    with signed_in(request) as (session, actor):
        if roles.allows(actor.role, Action.ALERTS_HANDLE):
            return _inbox(request, session, actor)
        if roles.allows(actor.role, Action.CASES_READ):
            return see_other("/cases")  # counsel: their cases are their home
        for action, page in ROLE_HOMES:  # administrators, analysts, auditors: their own pages
            if roles.allows(actor.role, action):
                return see_other(page)
        return render(request, "home.html", actor=actor)


@router.get("/alerts/inbox")
def inbox_lists(request: Request) -> Response:
    """The two lists alone, for the page's script to swap in."""
    with signed_in(request, Action.ALERTS_HANDLE) as (session, actor):
        return render(
            request,
            "alerts/_lists.html",
            actor=actor,
            failed=None,
            **_lists(session, actor, request),
        )


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, alert_id: uuid.UUID, form: SessionForm) -> Response:
    back = text(form, "next")

    def save(session: Session, actor: Actor) -> Response:
        alerts.acknowledge(session, actor, alert_id)
        return see_other(local_path(back) if back else f"/#alert-{alert_id}", done="acknowledged")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _inbox(request, session, actor, status=409, message=exc.message)

    return submit_form(request, Action.ALERTS_HANDLE, save=save, again=again)


@router.post("/alerts/{alert_id}/resolve")
def resolve(request: Request, alert_id: uuid.UUID, form: SessionForm) -> Response:
    note = text(form, "note")
    back = text(form, "next")

    def save(session: Session, actor: Actor) -> Response:
        body = AlertResolve.model_validate({"note": note})
        alerts.resolve(session, actor, alert_id, body.note)
        return see_other(local_path(back) if back else "/", done="resolved")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        failed = {
            "id": alert_id,
            "note": note,
            "error": exc.errors.get("note") or exc.message or _("Write a note."),
        }
        if not note:
            failed["error"] = _("Write a note saying how the alert was resolved.")
        if back == f"/alerts/{alert_id}":  # sent from the alert's own page: shown there again
            return alert_page.page(request, session, actor, alert_id, status=422, failed=failed)
        return _inbox(request, session, actor, status=422, failed=failed)

    return submit_form(request, Action.ALERTS_HANDLE, save=save, again=again)
