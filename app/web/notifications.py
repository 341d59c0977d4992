"""Notification pages: one's preferences and browsers, the on-call rota (supervisors), and
what makes the web client installable: the manifest, the service worker and the offline page
(which holds no record data: it is cached by the browser)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, Response

from app.actor import Actor
from app.alerts.notifications import oncall, preferences, push, reach
from app.alerts.notifications.oncall import ON_CALL_ROLES
from app.alerts.notifications.planner import zone as time_zone
from app.alerts.rules import SEVERITIES
from app.auth import roles
from app.auth.roles import Action
from app.db import transaction
from app.i18n import N_, _
from app.models.base import utcnow
from app.models.user import User
from app.web.render import FormError, WebRoute, render, see_other
from app.web.session import SessionForm, signed_in, submit_form, text

router = APIRouter(route_class=WebRoute)
STATIC = Path(__file__).parent / "static"
# Pages the browser fetches without a session: they carry no record data.
PUBLIC = frozenset({"/manifest.webmanifest", "/sw.js", "/offline"})
SEVERITY_TEXT = {
    "info": N_("Everything, information included"),
    "medium": N_("Medium and above"),
    "high": N_("High and critical"),
    "critical": N_("Critical only"),
}
MANIFEST = {
    "name": "Haven",
    "short_name": "Haven",
    "description": "Case management for people at risk of refoulement",
    "id": "/",
    "start_url": "/",
    "scope": "/",
    "display": "standalone",
    "background_color": "#ffffff",
    "theme_color": "#1d3557",
    "icons": [
        {"src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png"},
        {"src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png"},
        {
            "src": "/static/icon-512.png",
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
    ],
}


# Installable web client ----------------------------------------------------------------------
@router.get("/manifest.webmanifest")
def manifest() -> Response:
    return JSONResponse(MANIFEST, media_type="application/manifest+json")


@router.get("/sw.js")
def service_worker() -> Response:
    # Served from the root so that its scope is the whole site.
    body = (STATIC / "sw.js").read_bytes()
    return Response(body, media_type="text/javascript")


@router.get("/offline")
def offline(request: Request) -> Response:
    return render(request, "offline.html")


# Preferences ---------------------------------------------------------------------------------
def _page(request: Request, session: Session, actor: Actor, **extra: Any) -> Response:
    current = preferences.read(session, actor)
    values = {
        "email": "on" if current["email"] else "",
        "push": "on" if current["push"] else "",
        "min_severity": current["min_severity"],
        "quiet_start": current["quiet_hours"]["start"] if current["quiet_hours"] else "",
        "quiet_end": current["quiet_hours"]["end"] if current["quiet_hours"] else "",
        "time_zone": "" if current["time_zone_is_default"] else current["time_zone"],
    }
    settings = request.app.state.settings
    context: dict[str, Any] = {
        "current": current,
        "values": values,
        "severities": [(s, _(SEVERITY_TEXT[s])) for s in SEVERITIES],
        "browsers": push.list_mine(session, actor),
        "push_enabled": bool(settings.push_contact),
        "push_key": (push.existing_key(session) or "") if settings.push_contact else "",
        "reach": None,
    }
    if roles.allows(actor.role, Action.REACH_READ):
        context["reach"] = reach.unreachable(session, actor, utcnow())
    context.update(extra)
    return render(request, "account/notifications.html", actor=actor, **context)


@router.get("/account/notifications")
def preferences_page(request: Request) -> Response:
    with signed_in(request, Action.NOTIFICATIONS_OWN) as (session, actor):
        made = push.existing_key(session) is not None
        if made or not request.app.state.settings.push_contact:
            return _page(request, session, actor)
    # The push key is made on first use, in a writing transaction (pages read read-only).
    with transaction(request.app.state.sessionmaker) as writer:
        push.public_key(writer)
    with signed_in(request, Action.NOTIFICATIONS_OWN) as (session, actor):
        return _page(request, session, actor)


@router.post("/account/notifications")
def save_preferences(request: Request, form: SessionForm) -> Response:
    def save(session: Session, actor: Actor) -> Response:
        start, end = text(form, "quiet_start"), text(form, "quiet_end")
        if bool(start) != bool(end):
            raise FormError({"quiet_start": _("Give both the start and the end of quiet hours.")})
        severity = text(form, "min_severity")
        if severity not in SEVERITY_TEXT:
            raise FormError({"min_severity": _("Choose which alerts reach you.")})
        preferences.update(
            session,
            actor,
            email=text(form, "email") == "on",
            push=text(form, "push") == "on",
            min_severity=severity,
            quiet_hours=(start, end) if start else None,
            time_zone=text(form, "time_zone") or None,
        )
        return see_other("/account/notifications", done="notifications")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _page(request, session, actor, status=422, **exc.shown())

    return submit_form(request, Action.NOTIFICATIONS_OWN, save=save, again=again)


@router.post("/account/notifications/browsers")
def add_browser(request: Request, form: SessionForm) -> Response:
    """Called by the page's script with this browser's subscription (PushSubscription.toJSON)."""
    with signed_in(request, Action.NOTIFICATIONS_OWN) as (session, actor):
        row = push.subscribe(
            session,
            actor,
            endpoint=text(form, "endpoint"),
            p256dh=text(form, "p256dh"),
            auth=text(form, "auth"),
            allowed_hosts=request.app.state.settings.allowed_webhook_hosts,
        )
        return JSONResponse({"id": str(row.id)}, status_code=201)


@router.post("/account/notifications/browsers/forget")
def forget_browser(request: Request, form: SessionForm) -> Response:
    """Called by the page's script once this browser has unsubscribed."""
    with signed_in(request, Action.NOTIFICATIONS_OWN) as (session, actor):
        push.unsubscribe_endpoint(session, actor, text(form, "endpoint"))
    return Response(status_code=204)


@router.post("/account/notifications/browsers/{subscription_id}/delete")
def remove_browser(request: Request, subscription_id: uuid.UUID, form: SessionForm) -> Response:
    with signed_in(request, Action.NOTIFICATIONS_OWN) as (session, actor):
        push.unsubscribe(session, actor, subscription_id)
    return see_other("/account/notifications", done="browser-removed")


# On call -------------------------------------------------------------------------------------
def _rota_page(request: Request, session: Session, actor: Actor, **extra: Any) -> Response:
    staff = session.execute(
        select(User.id, User.username)
        .where(
            User.organisation_id == actor.organisation_id,
            User.role.in_(list(ON_CALL_ROLES)),
            User.disabled.is_(False),
        )
        .order_by(User.username)
    ).all()
    return render(
        request,
        "supervisor/on_call.html",
        actor=actor,
        rota=oncall.rota(session, actor, utcnow()),
        staff=[(str(i), name) for i, name in staff],
        **extra,
    )


@router.get("/supervisor/on-call")
def rota_page(request: Request) -> Response:
    with signed_in(request, Action.ON_CALL_MANAGE) as (session, actor):
        return _rota_page(request, session, actor)


def _when(form: FormData, name: str, zone: str) -> dt.datetime:
    raw = text(form, name)
    try:
        local = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise FormError({name: _("Give a date and time.")}) from None
    if local.tzinfo is None:  # a datetime-local field: the supervisor's own time zone
        local = local.replace(tzinfo=time_zone(zone))
    return local


@router.post("/supervisor/on-call")
def add_shift(request: Request, form: SessionForm) -> Response:
    def save(session: Session, actor: Actor) -> Response:
        zone = preferences.read(session, actor)["time_zone"]
        try:
            user_id = uuid.UUID(text(form, "user_id"))
        except ValueError:
            raise FormError({"user_id": _("Choose who is on call.")}) from None
        oncall.add_shift(
            session,
            actor,
            user_id=user_id,
            starts_at=_when(form, "starts_at", zone),
            ends_at=_when(form, "ends_at", zone),
        )
        return see_other("/supervisor/on-call", done="shift")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _rota_page(request, session, actor, status=422, **exc.shown())

    return submit_form(request, Action.ON_CALL_MANAGE, save=save, again=again)


@router.post("/supervisor/on-call/{shift_id}/delete")
def remove_shift(request: Request, shift_id: uuid.UUID, form: SessionForm) -> Response:
    with signed_in(request, Action.ON_CALL_MANAGE) as (session, actor):
        oncall.remove_shift(session, actor, shift_id)
    return see_other("/supervisor/on-call", done="shift-removed")
