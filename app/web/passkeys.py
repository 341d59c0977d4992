"""Passkeys in the web client: "Sign in with a passkey" on the sign-in page, and the security
page (add, name and remove passkeys; recent sign-ins). The browser's part is
/static/passkeys.js (no inline script: the CSP allows none); the ceremonies are
app.auth.passkeys', the same as the API's.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, Response

from app.actor import Actor
from app.auth import passkey_policy, passkeys, signins
from app.auth import service as auth
from app.auth.roles import Action
from app.db import transaction
from app.errors import HavenError
from app.i18n import _
from app.logs import client_var
from app.models.user import User
from app.web import cookies
from app.web.render import FormError, WebRoute, local_path, render, see_other
from app.web.session import SessionForm, SignInForm, signed_in, text
from app.web.session import _end_previous as end_previous

router = APIRouter(route_class=WebRoute)
MAX_CREDENTIAL = 16_384


def _credential(form: FormData) -> dict[str, Any] | None:
    raw = form.get("credential")
    if not isinstance(raw, str) or len(raw) > MAX_CREDENTIAL:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _refused(message: str, status: int) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


@router.post("/login/passkey")
def sign_in_with_passkey(request: Request, form: SignInForm) -> Response:
    """Called by passkeys.js with the browser's assertion: the session cookie, and where to go."""
    credential = _credential(form)
    if credential is None:
        return _refused(_("No passkey was given."), 400)
    try:
        with transaction(request.app.state.sessionmaker) as session:
            issued = passkeys.login(session, credential=credential, channel="web")
            end_previous(session, cookies.session_token(request))
    except HavenError as exc:
        message = _("That passkey was not accepted. Try again, or use your password.")
        return _refused(message, exc.status_code)
    target = local_path(text(form, "next"))
    response = JSONResponse(
        {"next": "/account/two-factor" if issued.mfa_enrollment_required else target}
    )
    cookies.set_session(response, request, issued.token)
    return response


# The security page ---------------------------------------------------------------------------
def _page(request: Request, session: Session, actor: Actor, **context: Any) -> Response:
    user = session.get_one(User, actor.id)
    return render(
        request,
        "account/security.html",
        actor=actor,
        passkeys=passkeys.list_passkeys(session, actor),
        sign_ins=signins.recent(session, actor),
        asked=passkey_policy.asked_to_register(session, user),
        required=user.role in passkey_policy.required_roles(session),
        removed=request.query_params.get("removed") == "1",
        added=request.query_params.get("added") == "1",
        **context,
    )


@router.get("/account/security")
def security_page(request: Request) -> Response:
    with signed_in(request, Action.SESSION) as (session, actor):
        return _page(request, session, actor)


@router.post("/account/security/passkeys/options")
def passkey_options(request: Request, form: SessionForm) -> Response:
    """Called by passkeys.js with the current password: creation options for the browser."""
    password = form.get("password")
    if not isinstance(password, str) or not password:
        return _refused(_("Enter your current password."), 422)
    try:
        with signed_in(request, Action.SESSION) as (session, actor):
            options = passkeys.registration_options(
                session,
                actor,
                password=password,
                code=text(form, "code") or None,
                client=client_var.get(),
            )
    except auth.Reauthentication:
        return _refused(_("That is not your current password (or two-factor code)."), 403)
    except HavenError as exc:
        return _refused(exc.detail, exc.status_code)
    except FormError as exc:
        return _refused(exc.message or _("Check the password and try again."), exc.status)
    return JSONResponse(options)


@router.post("/account/security/passkeys")
def add_passkey(request: Request, form: SessionForm) -> Response:
    """Called by passkeys.js with the new credential and the name the user gave it."""
    credential = _credential(form)
    name = text(form, "name")[:100] or "Passkey"
    if credential is None:
        return _refused(_("No passkey was given."), 400)
    try:
        with signed_in(request, Action.SESSION) as (session, actor):
            passkeys.register(session, actor, credential=credential, name=name)
    except (HavenError, FormError):
        return _refused(_("The passkey could not be added. Try again."), 400)
    return JSONResponse({"next": "/account/security?added=1"}, status_code=201)


@router.post("/account/security/passkeys/{passkey_id}/delete")
def remove_passkey(request: Request, passkey_id: uuid.UUID, form: SessionForm) -> Response:
    with signed_in(request, Action.SESSION) as (session, actor):
        passkeys.remove(session, actor, passkey_id)
    return see_other("/account/security?removed=1")


@router.post("/admin/users/{user_id}/passkeys/reset")
def admin_reset(request: Request, user_id: uuid.UUID, form: SessionForm) -> Response:
    """An administrator removes every passkey of an account (see passkeys.reset)."""
    with signed_in(request, Action.USERS_MANAGE) as (session, actor):
        passkeys.reset_user(session, actor, user_id)
    return see_other(f"/admin/users/{user_id}")
