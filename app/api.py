"""/api/v1: the public sign-in route, and the authenticated router holding everything else."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.alerts.routes import router as alerts_router
from app.alerts.webhook_routes import router as webhooks_router
from app.audit.routes import router as audit_router
from app.auth.deps import current_actor
from app.auth.routes import public as auth_public
from app.auth.routes import router as auth_router
from app.cases.attachment_routes import router as attachments_router
from app.cases.export_routes import router as export_router
from app.cases.routes import router as cases_router
from app.documents.routes import router as documents_router
from app.incidents.routes import router as incidents_router
from app.individuals.routes import router as individuals_router
from app.monitoring.routes import router as monitoring_router
from app.risk.routes import router as risk_router
from app.stats.routes import router as stats_router
from app.unhcr.routes import router as unhcr_router

PREFIX = "/api/v1"
# Routes reachable without a token; the route-table test holds every other route to a role.
PUBLIC_PATHS = frozenset({f"{PREFIX}/auth/login", "/healthz", "/readyz", "/metrics"})


def build_router() -> APIRouter:
    api = APIRouter(prefix=PREFIX)
    api.include_router(auth_public)
    authenticated = APIRouter(dependencies=[Depends(current_actor)])
    for router in (
        auth_router,
        individuals_router,
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
    ):
        authenticated.include_router(router)
    api.include_router(authenticated)
    return api
