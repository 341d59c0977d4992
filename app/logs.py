"""Structured logging with request ids; nothing identifying reaches a log line.

Haven logs no request bodies and no query strings, and its access log names the route template
(``/api/v1/individuals/{individual_id}``), never the raw path. The filter below is the second
line of defence: whatever a library logs passes through it and loses query strings, bearer
tokens, e-mail addresses and long digit runs before a handler sees it.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
from typing import Any

from starlette.types import Scope

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "haven_request_id", default=None
)
# The caller's address, for throttling and (as a keyed hash) for the audit trail.
client_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "haven_client", default=None
)

_REDACTIONS = (
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (re.compile(r"(?i)\b(hvn_[a-z]+_)[A-Za-z0-9_-]+"), r"\1[redacted]"),
    (re.compile(r"\?[^\s\"']*"), "?[redacted]"),
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]"),
    (re.compile(r"\b[A-Z0-9]{0,3}\d{5,}[A-Z0-9]*\b"), "[number]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Renders each record once, scrubbed, so handlers never see raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record must not break logging
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            # Exception messages of database drivers can quote row values; keep the type only.
            record.exc_text = type(record.exc_info[1]).__name__
            record.exc_info = None
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the fields are few and fixed, so no library is needed."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("request_id", "route", "method", "status", "duration_ms", "exc_text"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None)
        prefix = f"[{rid[:8]}] " if rid else ""
        exc = getattr(record, "exc_text", None)
        suffix = f" ({exc})" if exc else ""
        return f"{record.levelname:<7} {record.name}: {prefix}{record.getMessage()}{suffix}"


def configure(*, json_logs: bool, level: str = "INFO", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if json_logs else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_haven", False):
            root.removeHandler(old)
    handler._haven = True  # type: ignore[attr-defined]  # marks Haven's handler for reconfigure
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Uvicorn's access log prints raw paths with query strings; Haven writes its own.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


def route_template(scope: Scope) -> str:
    """The matched route's template with its full prefix, never the raw path."""
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    template = getattr(effective, "path", None)  # routers included by newer FastAPI
    if not template:
        template = getattr(scope.get("route"), "path", None)
    return template or "<unmatched>"
