"""The profile page: the time zone (and language) a user's pages and e-mail use."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from app import i18n
from app.actor import Actor
from app.auth import profile
from app.auth.roles import Action
from app.i18n import _
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
    context.setdefault(
        "values", {"time_zone": current.time_zone or "", "locale": current.locale or i18n.current()}
    )
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
    language = text(form, "locale")

    def save(session: Session, actor: Actor) -> Response:
        # The language shown as chosen is the page's own when the user has not chosen one:
        # saving it unchanged keeps following the organisation's default.
        mine = profile.read(session, actor).locale
        locale = language if language and (mine or language != i18n.current()) else None
        profile.update(
            session, actor, time_zone=chosen or None, clear_time_zone=not chosen, locale=locale
        )
        zones.forget(actor.id)
        return see_other("/account/profile", done="profile")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        # The service's words are the API's (English): the form says them in the reader's.
        errors = {}
        if "locale" in exc.errors:
            errors["locale"] = _("Choose one of the languages.")
        if "time_zone" in exc.errors or not errors:
            errors["time_zone"] = _("Not a time zone: use a name such as Asia/Bangkok.")
        return _page(
            request,
            session,
            actor,
            status=422,
            values={"time_zone": chosen, "locale": language or i18n.current()},
            errors=errors,
            message=_("Check the time zone.") if "time_zone" in errors else None,
        )

    return submit_form(request, Action.SESSION, save=save, again=again)
