"""/api/v1: the public sign-in route, and the authenticated router holding everything else."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.audit.routes import router as audit_router
from app.auth.deps import current_actor
from app.auth.routes import public as auth_public
from app.auth.routes import router as auth_router

PREFIX = "/api/v1"
# Routes reachable without a token; the route-table test holds every other route to a role.
PUBLIC_PATHS = frozenset({f"{PREFIX}/auth/login", "/healthz", "/readyz", "/metrics"})


def build_router() -> APIRouter:
    api = APIRouter(prefix=PREFIX)
    api.include_router(auth_public)
    authenticated = APIRouter(dependencies=[Depends(current_actor)])
    authenticated.include_router(auth_router)
    authenticated.include_router(audit_router)
    api.include_router(authenticated)
    return api
