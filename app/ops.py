"""/healthz, /readyz and /metrics, and the middleware that feeds the metrics and access log.

These three routes are deliberately public: load balancers and Prometheus call them without
credentials, and they say nothing about any person (counts by route template only).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import migrate
from app.config import IPNetwork, Settings
from app.db import READ_ONLY
from app.logs import client_var, request_id_var, route_template

router = APIRouter(tags=["operations"])
access_log = logging.getLogger("haven.access")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "haven_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "haven_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            registry=self.registry,
        )


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]
) -> str | None:
    """The caller's address: the peer's, unless the peer is a trusted proxy.

    From a trusted proxy (HAVEN_TRUSTED_PROXIES), the nearest hop of X-Forwarded-For that is not
    itself a trusted proxy (the left-most if all are): hops left of it were written by the
    client and prove nothing. A hop that is not an address leaves the peer's."""
    if peer is None or not forwarded_for or not _within(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    found = peer
    for hop in reversed(hops):
        try:
            found = str(ipaddress.ip_address(hop))
        except ValueError:
            return peer
        if not _within(found, trusted):
            return found
    return found


def _within(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _header(scope: Scope, name: bytes) -> str | None:
    values = [v.decode("latin-1") for k, v in scope.get("headers") or [] if k == name]
    return ",".join(values) if values else None  # repeated headers are one list, in order


def _trusted_proxies(scope: Scope) -> tuple[IPNetwork, ...]:
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    return settings.trusted_proxy_networks if isinstance(settings, Settings) else ()


class RequestContextMiddleware:
    """Request id, access log line and metrics, all keyed by the route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        client = scope.get("client")
        peer = client[0] if client else None
        trusted = _trusted_proxies(scope)
        forwarded = _header(scope, b"x-forwarded-for")
        client_token = client_var.set(client_address(peer, forwarded, trusted))
        if peer is not None and _within(peer, trusted):
            # The scheme the client used, as the TLS-terminating proxy saw it (Secure cookies).
            proto = (_header(scope, b"x-forwarded-proto") or "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            access_log.info(
                "%s %s %s %.1fms",
                method,
                route,
                status,
                elapsed * 1000,
                extra={
                    "route": route,
                    "method": method,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
            request_id_var.reset(token)
            client_var.reset(client_token)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "A check failed; the body names which, as for 200"}},
)
def readyz(request: Request) -> Response:
    state = request.app.state
    checks: dict[str, Any] = {}
    try:
        # Read-only: on SQLite a probe must not queue for the write lock behind busy requests.
        with state.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
    # Locked down (app/lockdown.py): not ready, and the keys stay out of memory.
    locked = checks["database"] == "ok" and state.lockdown.refresh()
    checks["lockdown"] = "locked" if locked else "ok"
    try:
        if locked:
            raise PermissionError("locked down")
        crypto = state.crypto
        version = crypto.provider.current_kek_version()
        probe = uuid.uuid4()
        aad = b"haven-readyz" + probe.bytes
        material = b"\x00" * 32
        if crypto.provider.unwrap(version, crypto.provider.wrap(version, material, aad), aad) != (
            material
        ):
            raise RuntimeError("keyring round trip failed")
        checks["keyring"] = "ok"
    except Exception as exc:
        checks["keyring"] = f"locked ({type(exc).__name__})"
    if checks["database"] == "ok":
        try:
            checks["migrations"] = "ok" if migrate.at_head(state.engine) else "behind head"
        except Exception as exc:
            checks["migrations"] = f"unknown ({type(exc).__name__})"
    else:
        checks["migrations"] = "unknown"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format", "content": {"text/plain": {}}}},
)
def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
