"""The caseworker's web client: server-rendered pages on the same services as the API.

``install(app)`` adds the pages (outside /api/v1), the static files at /static, the security
headers on every response, and the bridge that lets the browser's GET requests reach the API
with the session cookie (``app.web.cookies``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from app.cases import glyphs
from app.web import (
    admin,
    alert_page,
    alerts,
    analyst,
    auditor,
    cases,
    consent,
    cookies,
    duplicates,
    imports,
    individuals,
    notifications,
    oidc,
    passkeys,
    profile,
    records,
    referrals,
    session,
    supervisor,
)
from app.web.headers import SecurityHeadersMiddleware

STATIC = Path(__file__).parent / "static"
# Pages anyone may open; every other page of the web client needs a signed-in session.
PUBLIC_PAGES = frozenset(
    {"/login", "/auth/oidc/login", "/auth/oidc/callback", *notifications.PUBLIC}
)


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for module in (
        session,
        alerts,
        individuals,
        consent,
        duplicates,
        records,
        cases,
        referrals,
        supervisor,
        alert_page,
        profile,
        imports,
        admin,
        analyst,
        auditor,
        notifications,
        passkeys,
        oidc,
    ):
        router.include_router(module.router)
    return router


def install(app: FastAPI) -> None:
    settings = app.state.settings
    app.state.web_secret = settings.resolved_secret_key()
    app.include_router(build_router())
    # Khmer and Thai fonts from Haven itself (the PDF export's own files), never from a CDN.
    app.mount("/static/fonts", StaticFiles(directory=glyphs.FONT_DIR), name="fonts")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(cookies.ApiCookieBridge, production=settings.production)
    app.add_middleware(SecurityHeadersMiddleware, production=settings.production)
