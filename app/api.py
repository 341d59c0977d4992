"""/api/v1: the public sign-in route, and the authenticated router holding everything else."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from app.alerts.notifications.routes import router as notifications_router
from app.alerts.routes import router as alerts_router
from app.alerts.webhook_routes import router as webhooks_router
from app.audit_routes import router as audit_router
from app.auth.deps import current_actor
from app.auth.passkey_routes import public as passkeys_public
from app.auth.passkey_routes import router as passkeys_router
from app.auth.routes import public as auth_public
from app.auth.routes import router as auth_router
from app.cases.attachment_routes import router as attachments_router
from app.cases.export_routes import router as export_router
from app.cases.routes import router as cases_router
from app.consent.routes import router as consent_router
from app.documents.routes import router as documents_router
from app.incidents.routes import router as incidents_router
from app.individuals.duplicate_routes import router as duplicates_router
from app.individuals.routes import router as individuals_router
from app.lockdown_routes import router as lockdown_router
from app.monitoring.routes import router as monitoring_router
from app.organisations_routes import router as organisations_router
from app.referrals.routes import router as referrals_router
from app.risk.routes import router as risk_router
from app.stats.routes import router as stats_router
from app.unhcr.routes import router as unhcr_router

PREFIX = "/api/v1"
# Routes reachable without a token; the route-table test holds every other route to a role.
PUBLIC_PATHS = frozenset(
    {
        f"{PREFIX}/auth/login",
        f"{PREFIX}/auth/passkeys/login/options",
        f"{PREFIX}/auth/passkeys/login",
        "/healthz",
        "/readyz",
        "/metrics",
    }
)


class ErrorRead(BaseModel):
    """Every error body (rendered in app.errors); some errors add fields such as ``field``."""

    model_config = ConfigDict(extra="allow")
    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorRead(BaseModel):
    """422: the payload's problems, one per field (values left out), or one sentence."""

    model_config = ConfigDict(extra="allow")
    detail: str | list[ValidationIssue]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ValidationErrorRead if code == 422 else ErrorRead} for code in codes}


# The error statuses of shared/API.md, declared so that clients and the contract fuzzer
# (tests/fuzz) hold every route to them.
PUBLIC_ERRORS = _errors(400, 401, 413, 422, 429)
ERRORS = _errors(400, 401, 403, 404, 409, 413, 422)


def build_router() -> APIRouter:
    api = APIRouter(prefix=PREFIX)
    api.include_router(auth_public, responses=PUBLIC_ERRORS)
    api.include_router(passkeys_public, responses=PUBLIC_ERRORS)
    # Each router is included into this one directly (not through an "authenticated" router
    # between them): FastAPI matches a request level by level, so a level fewer is a read's
    # route found in half the work.
    for router in (
        auth_router,
        passkeys_router,
        individuals_router,
        duplicates_router,
        consent_router,
        organisations_router,
        referrals_router,
        documents_router,
        unhcr_router,
        risk_router,
        incidents_router,
        cases_router,
        attachments_router,
        export_router,
        monitoring_router,
        stats_router,
        audit_router,
        webhooks_router,
        alerts_router,
        notifications_router,
        lockdown_router,
    ):
        api.include_router(router, dependencies=[Depends(current_actor)], responses=ERRORS)
    return api
