"""The alert inbox: the home page of everyone who handles alerts.

Open alerts first, then the ones someone is on, each list most severe and newest first (the
order of ``app.alerts.queries.list_alerts``). The page works as it is; ``haven.js`` keeps it
current from the alert stream by fetching ``/alerts/inbox`` (the lists alone) on each event.
Alerts carry no names: the inbox is shown on screens in shared offices.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.actor import Actor
from app.alerts import queries
from app.alerts import service as alerts
from app.alerts.routes import AlertResolve
from app.auth import roles
from app.auth.roles import Action
from app.web.render import FormError, WebRoute, render, see_other
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


def _lists(session: Session, actor: Actor, request: Request) -> dict[str, Any]:
    params = request.query_params
    return queries.read_inbox(
        session,
        actor,
        waiting=WAITING,
        handling=HANDLING,
        open_after=params.get("open_after") or None,
        handling_after=params.get("handling_after") or None,
    )


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
    def save(session: Session, actor: Actor) -> Response:
        alerts.acknowledge(session, actor, alert_id)
        return see_other(f"/#alert-{alert_id}", done="acknowledged")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _inbox(request, session, actor, status=409, message=exc.message)

    return submit_form(request, Action.ALERTS_HANDLE, save=save, again=again)


@router.post("/alerts/{alert_id}/resolve")
def resolve(request: Request, alert_id: uuid.UUID, form: SessionForm) -> Response:
    note = text(form, "note")

    def save(session: Session, actor: Actor) -> Response:
        body = AlertResolve.model_validate({"note": note})
        alerts.resolve(session, actor, alert_id, body.note)
        return see_other("/", done="resolved")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        failed = {
            "id": alert_id,
            "note": note,
            "error": exc.errors.get("note") or exc.message or "Write a note.",
        }
        if not note:
            failed["error"] = "Write a note saying how the alert was resolved."
        return _inbox(request, session, actor, status=422, failed=failed)

    return submit_form(request, Action.ALERTS_HANDLE, save=save, again=again)
