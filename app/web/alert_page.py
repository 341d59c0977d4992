"""One alert's page, where webhook and e-mail links lead (``/alerts/{id}``; sign-in first,
then back here): who, what, where, when, the evidence, acknowledge and resolve, and who did
what."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.actor import Actor
from app.alerts import cards, queries
from app.auth.roles import Action
from app.errors import NotFound
from app.i18n import _
from app.incidents import service as incidents
from app.individuals import service as individuals
from app.web.render import WebRoute, render
from app.web.session import signed_in

router = APIRouter(route_class=WebRoute)


def history(alert: queries.AlertDetailView, names: dict[uuid.UUID, str]) -> list[dict[str, Any]]:
    """The alert's life, oldest first: raised, reported again, acknowledged, escalated,
    resolved, each with who (a person's username, or Haven)."""

    def who(user_id: uuid.UUID | None) -> str:
        return names.get(user_id, _("someone no longer on record")) if user_id else "Haven"

    steps: list[dict[str, Any]] = [
        {"at": alert["created_at"], "what": _("Raised"), "who": "Haven"},
    ]
    if alert["occurrences"] > 1 and alert["last_seen_at"]:
        steps.append(
            {
                "at": alert["last_seen_at"],
                "what": _("Reported again (%(num)d times in all)") % {"num": alert["occurrences"]},
                "who": "Haven",
            }
        )
    if alert["acknowledged_at"]:
        steps.append(
            {
                "at": alert["acknowledged_at"],
                "what": _("Acknowledged"),
                "who": who(alert["acknowledged_by"]),
            }
        )
    if alert["escalated_at"]:
        steps.append(
            {"at": alert["escalated_at"], "what": _("Escalated to supervisors"), "who": "Haven"}
        )
    if alert["resolved_at"]:
        steps.append(
            {
                "at": alert["resolved_at"],
                "what": _("Resolved"),
                "who": who(alert["resolved_by"]),
                "note": alert["resolution_note"],
            }
        )
    return sorted(steps, key=lambda step: step["at"])


def page(
    request: Request,
    session: Session,
    actor: Actor,
    alert_id: uuid.UUID,
    *,
    status: int = 200,
    failed: dict[str, Any] | None = None,
) -> Response:
    alert = queries.read_alert(session, actor, alert_id)  # audited; 404 outside the scope
    card = cards.cards(session, actor, [alert], via="alert")[0]
    person = None
    if alert["individual_id"] and card["person_name"] is not None:
        try:
            person = individuals.read(session, actor, alert["individual_id"])
        except NotFound:
            person = None
    incident = None
    if alert["subject_id"] and card["country_is_event"]:
        try:
            incident = incidents.read_incident(session, actor, alert["subject_id"])
        except NotFound:
            incident = None
    # The place: where the person is, or the incident's, only when their location is shown.
    place_allowed = person is not None and person.get("current_location") is not None
    names = cards.usernames(session, {alert["acknowledged_by"], alert["resolved_by"]} - {None})
    return render(
        request,
        "alerts/alert.html",
        actor=actor,
        status=status,
        alert=alert,
        card=card,
        person=person,
        incident=incident,
        place=(incident or {}).get("location") if incident else None,
        place_allowed=place_allowed,
        steps=history(alert, names),
        failed=failed,
        now=dt.datetime.now(dt.UTC),
    )


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, alert_id: uuid.UUID) -> Response:
    with signed_in(request, Action.ALERTS_READ) as (session, actor):
        return page(request, session, actor, alert_id)
