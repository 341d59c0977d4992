"""Typed domain errors carrying their status, and the one place that renders them."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.logs import route_template

log = logging.getLogger("haven.errors")


class HavenError(Exception):
    """An error whose message is safe to show to the caller."""

    status_code = 400

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def headers(self) -> dict[str, str] | None:
        return None


class ConfigurationError(HavenError):
    """The service cannot start with this configuration."""


class BadRequest(HavenError):
    status_code = 400


class NotAuthenticated(HavenError):
    status_code = 401

    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(HavenError):
    status_code = 403


class NotFound(HavenError):
    """Unknown, or outside the caller's scope: the two must look alike."""

    status_code = 404

    def __init__(self, detail: str = "not found", **extra: Any) -> None:
        super().__init__(detail, **extra)


class Conflict(HavenError):
    status_code = 409


class PayloadTooLarge(HavenError):
    status_code = 413


class Unprocessable(HavenError):
    status_code = 422


class RateLimited(HavenError):
    status_code = 429

    def __init__(self, detail: str, *, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = max(1, int(retry_after))

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


def _safe_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Validation errors without the submitted values, which may be personal data."""
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(HavenError)
    async def _haven_error(_: Request, exc: HavenError) -> JSONResponse:
        body: dict[str, Any] = {"detail": exc.detail, **exc.extra}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers())

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _safe_validation_errors(exc)
        if any(err["type"] == "json_invalid" for err in errors):
            return JSONResponse({"detail": "malformed JSON body"}, status_code=400)
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(OperationalError)
    async def _database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        # The database is down, restarting or refusing connections (PEP 249: errors of its
        # operation, not of the statement): a clean 503 the caller may retry, not a 500.
        # Pooled connections are checked before use, so the next request reconnects.
        log.warning(
            "database unavailable (%s) on %s", type(exc.orig).__name__, _route_template(request)
        )
        return JSONResponse(
            {"detail": "the database is unavailable; try again shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only the type goes to the log: messages of driver errors can quote stored values.
        log.error(
            "unhandled %s on %s", type(exc).__name__, _route_template(request), exc_info=False
        )
        request_id = getattr(request.state, "request_id", None)
        # This response leaves from the outermost middleware, past the one that adds the
        # header to every other response.
        return JSONResponse(
            {"detail": "internal error", "request_id": request_id},
            status_code=500,
            headers={"X-Request-ID": request_id} if request_id else None,
        )


def _route_template(request: Request) -> str:
    return route_template(request.scope)
