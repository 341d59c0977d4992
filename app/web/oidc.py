"""Single sign-on in the web client: /auth/oidc/login sends the browser to the identity
provider, /auth/oidc/callback signs it in (see app.auth.oidc). What must survive the round
trip (state, nonce, PKCE verifier, where to go) is kept in a short-lived cookie of its own,
signed with the app's secret key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.auth import oidc
from app.db import transaction
from app.errors import NotAuthenticated
from app.web import cookies
from app.web.render import WebRoute, local_path, see_other
from app.web.session import _end_previous as end_previous
from app.web.session import _sign_in_page as sign_in_page

router = APIRouter(route_class=WebRoute)
COOKIE, LIFETIME = "haven-oidc", 600
UNAVAILABLE = "Single sign-on is not available right now. Sign in with your password or a passkey."


def _sign(secret: str, payload: bytes) -> str:
    # HMAC-SHA256 of the payload under the app's secret, as the CSRF tokens are made.
    return hmac.new(secret.encode(), b"haven-oidc:" + payload, hashlib.sha256).hexdigest()


def _pack(request: Request, values: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(values).encode())
    return payload.decode() + "." + _sign(request.app.state.web_secret, payload)


def _unpack(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(COOKIE, "")
    payload, _, mac = raw.partition(".")
    if not payload or not hmac.compare_digest(
        mac, _sign(request.app.state.web_secret, payload.encode())
    ):
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError:
        return None
    if not isinstance(values, dict) or values.get("exp", 0) < time.time():
        return None
    return values


@router.get("/auth/oidc/login")
def oidc_login(request: Request) -> Response:
    settings = request.app.state.settings
    provider = oidc.configured(settings)
    if provider is None:
        return sign_in_page(request, status=404, message="Single sign-on is not set up here.")
    try:
        started = oidc.start(provider)
    except oidc.ProviderUnavailable:
        return sign_in_page(request, status=503, message=UNAVAILABLE)
    response = see_other("/")
    response.headers["location"] = started.url
    kept = {
        "state": started.state,
        "nonce": started.nonce,
        "verifier": started.verifier,
        "next": local_path(request.query_params.get("next")),
        "exp": time.time() + LIFETIME,
    }
    response.set_cookie(
        COOKIE,
        _pack(request, kept),
        max_age=LIFETIME,
        path="/auth/oidc",
        httponly=True,
        secure=settings.production,
        samesite="lax",  # sent on the provider's top-level redirect back, never on a POST
    )
    return response


@router.get("/auth/oidc/callback")
def oidc_callback(request: Request) -> Response:
    settings = request.app.state.settings
    provider = oidc.configured(settings)
    kept = _unpack(request)
    state = request.query_params.get("state", "")
    code = request.query_params.get("code", "")
    if (
        provider is None
        or kept is None
        or not code
        or not hmac.compare_digest(str(kept.get("state", "")), state)
    ):
        return sign_in_page(
            request, status=400, message="That single sign-on did not start here. Try again."
        )
    try:
        with transaction(request.app.state.sessionmaker) as session:
            issued = oidc.finish(
                session,
                provider,
                code=code,
                verifier=str(kept["verifier"]),
                nonce=str(kept["nonce"]),
            )
            end_previous(session, cookies.session_token(request))
    except oidc.ProviderUnavailable:
        return sign_in_page(request, status=503, message=UNAVAILABLE)
    except NotAuthenticated as exc:
        return sign_in_page(
            request, status=401, message=exc.detail[:1].upper() + exc.detail[1:] + "."
        )
    response = see_other(
        "/account/two-factor" if issued.mfa_enrollment_required else str(kept.get("next", "/"))
    )
    cookies.set_session(response, request, issued.token)
    response.delete_cookie(COOKIE, path="/auth/oidc")
    return response
