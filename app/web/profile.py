"""The profile page: the time zone (and language) a user's pages and e-mail use."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.actor import Actor
from app.auth import profile
from app.auth.roles import Action
from app.web import zones
from app.web.filters import in_zone
from app.web.render import FormError, WebRoute, render, see_other
from app.web.session import SessionForm, signed_in, submit_form, text

router = APIRouter(route_class=WebRoute)
# Offered as suggestions; any IANA zone may be typed.
COMMON_ZONES = (
    "Asia/Bangkok",
    "Asia/Phnom_Penh",
    "Asia/Kuala_Lumpur",
    "Asia/Jakarta",
    "Asia/Ho_Chi_Minh",
    "Asia/Yangon",
    "Asia/Singapore",
    "Asia/Manila",
    "Asia/Hong_Kong",
    "Australia/Sydney",
    "Europe/London",
    "Europe/Zurich",
    "America/New_York",
    "UTC",
)


def _page(
    request: Request, session: Session, actor: Actor, *, status: int = 200, **context: Any
) -> Response:
    current = profile.read(session, actor)
    context.setdefault("values", {"time_zone": current.time_zone or ""})
    return render(
        request,
        "account/profile.html",
        actor=actor,
        status=status,
        profile=current,
        zones=COMMON_ZONES,
        now_there=in_zone(dt.datetime.now(dt.UTC), current.effective_time_zone),
        **context,
    )


@router.get("/account/profile")
def profile_page(request: Request) -> Response:
    with signed_in(request, Action.SESSION) as (session, actor):
        return _page(request, session, actor)


@router.post("/account/profile")
def save_profile(request: Request, form: SessionForm) -> Response:
    chosen = text(form, "time_zone")

    def save(session: Session, actor: Actor) -> Response:
        profile.update(session, actor, time_zone=chosen or None, clear_time_zone=not chosen)
        zones.forget(actor.id)
        return see_other("/account/profile", done="profile")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        errors = exc.errors or {"time_zone": exc.message or "Not a time zone."}
        return _page(
            request,
            session,
            actor,
            status=422,
            values={"time_zone": chosen},
            errors=errors,
            message="Check the time zone.",
        )

    return submit_form(request, Action.SESSION, save=save, again=again)
