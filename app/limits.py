"""Request body limits (413 before a large body is read into memory), and the per-user limit
on lookups (429)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, case, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import events
from app.actor import Actor
from app.audit import service as audit
from app.crypto import crypto_of
from app.db import on_rollback
from app.errors import RateLimited
from app.events import LookupBurst
from app.models.base import utcnow
from app.models.user import LoginThrottle


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; an HTTPException so body parsers pass it on."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


# A web form (not the API) may be this many times HAVEN_MAX_BODY_BYTES: a description pasted
# too long then reaches the form's own validation, which shows the form again with everything
# typed kept and the field named, instead of a bare refusal that loses it.
WEB_FORM_FACTOR = 4


def is_web(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    return not path.startswith("/api/") and path != "/api"


class BodyLimitMiddleware:
    """Refuses bodies over the limit, by Content-Length up front or by counting as it streams.

    Attachment uploads have their own, larger limit (enforced again while they are stored).
    The web client's forms get ``WEB_FORM_FACTOR`` times the limit (see above), and a refusal
    as a page that says the limit, not as JSON.
    """

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    def _limit(self, scope: Scope) -> int:
        if scope["path"].endswith("/attachments"):
            return self.max_upload
        return self.max_body * WEB_FORM_FACTOR if is_web(scope) else self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False
            if too_large:
                await _refuse(send, limit, web=is_web(scope))
                return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _refuse(send, limit, web=is_web(scope))


def megabytes(size: int) -> str:
    """A byte count as people say it: "25 MB", "1 MB", "1.5 MB"."""
    return f"{size / 1_048_576:.1f}".removesuffix(".0") + " MB"


# The page a browser gets: the body was never read, so what was typed is still in the form the
# browser goes back to (the web client's script checks sizes before sending, so with it this
# page is not reached at all).
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Too large to send - Haven</title><link rel="stylesheet" href="/static/haven.css"></head>
<body><main id="main" class="narrow"><h1>That was too large to send</h1>
<p>Haven takes up to {limit} at once{what}. Nothing was saved.</p>
<p>Go back with your browser's Back button: what you typed is still in the form. Shorten the
text, or choose a smaller file (a photo or scan at a lower resolution, or the file split in
parts).</p><p><a href="/">Alerts</a> · <a href="/people">People</a></p></main></body></html>
"""


async def _refuse(send: Send, limit: int, *, web: bool = False) -> None:
    if web:
        what = " (a file with the form around it)" if limit > 8 * 1_048_576 else ""
        body = _PAGE.format(limit=megabytes(limit), what=what).encode()
        kind = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"detail": f"request body larger than {limit} bytes"}).encode()
        kind = b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# Lookups: searches by name or document number, duplicate checks ------------------------------
LOOKUP_WINDOW = dt.timedelta(minutes=1)
# The answer of a route that counts lookups, for its OpenAPI description.
LOOKUP_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many lookups by this user in a minute; see Retry-After"}
}


def count_lookup(session: Session, actor: Actor) -> None:
    """Count one lookup by ``actor``; past HAVEN_LOOKUP_LIMIT_PER_MINUTE within the minute,
    429 with Retry-After, and the organisation's supervisors are told once per minute.

    Each lookup answers whether someone is on the records, so a coerced or stolen account
    could otherwise test thousands of names and passport numbers. The counter is a row keyed by
    a keyed hash of the account (shared by every process), counted in the request's own
    transaction; a refusal is counted, alerted and audited in a transaction of its own, since
    the request's is rolled back.
    """
    settings = session.info.get("settings")
    limit = settings.lookup_limit_per_minute if settings is not None else 0
    if not limit:
        return
    key = bytes.fromhex(crypto_of(session).index.tag("lookup-account", str(actor.id)))
    now = utcnow()
    counted = session.execute(
        _COUNT, {"account": key, "now": now, "started_by": now - LOOKUP_WINDOW, "limit": limit}
    )
    if cast(CursorResult[Any], counted).rowcount == 1:
        return  # under the limit (or a new minute): counted in place
    row = _counter(session, key, now)  # no row yet, or the limit reached
    if row.failures < limit:
        row.failures += 1
        return
    wait = int((row.window_started_at + LOOKUP_WINDOW - now).total_seconds()) + 1
    on_rollback(session, _refused(key, actor))
    raise RateLimited("too many searches in a minute; try again shortly", retry_after=wait)


_THROTTLE = cast(Table, LoginThrottle.__table__)  # every model maps one table
_EXPIRED = _THROTTLE.c.window_started_at <= bindparam("started_by")
# One statement for a lookup under the limit: the row is raised under its lock (the UPDATE's),
# a minute that has passed starting a new count; every SET reads the row as it was.
_COUNT = (
    update(_THROTTLE)
    .where(
        _THROTTLE.c.key == bindparam("account"),
        or_(_EXPIRED, _THROTTLE.c.failures < bindparam("limit")),
    )
    .values(
        failures=case((_EXPIRED, 1), else_=_THROTTLE.c.failures + 1),
        window_started_at=case((_EXPIRED, bindparam("now")), else_=_THROTTLE.c.window_started_at),
        locked_until=case((_EXPIRED, None), else_=_THROTTLE.c.locked_until),
    )
)


def _counter(session: Session, key: bytes, now: dt.datetime) -> LoginThrottle:
    """This minute's counter row (the table the sign-in throttle uses, under its own keys)."""
    # Read anew: this transaction may have raised the row in place already (``_COUNT``).
    row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    if row is None:
        try:
            with session.begin_nested():
                row = LoginThrottle(key=key, failures=0, window_started_at=now)
                session.add(row)
        except IntegrityError:  # a concurrent lookup created it first
            row = session.get_one(LoginThrottle, key, with_for_update=True)
    if row.window_started_at + LOOKUP_WINDOW <= now:
        row.failures, row.window_started_at, row.locked_until = 0, now, None
    return row


def _refused(key: bytes, actor: Actor) -> Callable[[Session], None]:
    def job(session: Session) -> None:
        row = _counter(session, key, utcnow())
        audit.record(
            session,
            actor=actor,
            action="individuals.lookup_limited",
            subject_type="user",
            subject_id=actor.id,
            outcome="denied",
        )
        if row.locked_until is None:  # the first refusal of this minute: tell supervisors
            row.locked_until = row.window_started_at + LOOKUP_WINDOW
            events.publish(
                session,
                LookupBurst(actor=actor, user_id=actor.id, organisation_id=actor.organisation_id),
            )

    return job
