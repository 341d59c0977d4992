"""/alerts: the inbox, acknowledge, resolve, and a live stream of changes (Server-Sent Events)."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app.actor import Actor
from app.alerts import queries, service
from app.alerts.notifications import planner
from app.auth.deps import require
from app.auth.roles import Action
from app.auth.service import authenticate_token
from app.db import SessionDep, transaction
from app.errors import HavenError
from app.models.base import utcnow
from app.validation import LongText

router = APIRouter(tags=["alerts"])

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
# A change committed a little after a later one (a slow transaction) is still caught.
STREAM_LAG = dt.timedelta(seconds=10)


class Status(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Severity(enum.StrEnum):
    INFO = "info"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AlertRead(BaseModel):
    id: uuid.UUID
    rule: str
    severity: str
    status: str
    individual_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    summary: str
    created_at: dt.datetime
    dedup_key: str
    occurrences: int
    updated_at: dt.datetime
    inhibited: bool


class AlertDetail(AlertRead):
    last_seen_at: dt.datetime
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: uuid.UUID | None = None
    resolved_at: dt.datetime | None = None
    resolved_by: uuid.UUID | None = None
    escalated_at: dt.datetime | None = None
    inhibited_by: uuid.UUID | None = None
    group_key: str | None = None
    subject_id: uuid.UUID | None = None
    resolution_note: str | None = None


class AlertPage(BaseModel):
    items: list[AlertRead]
    next_cursor: str | None = None


class AlertResolve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[LongText, Field(min_length=1, max_length=service.MAX_NOTE)]


@router.get("/alerts", response_model=AlertPage)
def list_alerts(
    actor: Annotated[Actor, require(Action.ALERTS_READ)],
    session: SessionDep,
    status: Status | None = None,
    severity: Severity | None = None,
    individual_id: uuid.UUID | None = None,
    group_key: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    items, next_cursor = queries.read_alerts(
        session,
        actor,
        status=status.value if status else None,
        severity=severity.value if severity else None,
        individual_id=individual_id,
        group_key=group_key,
        limit=limit,
        cursor=cursor,
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/alerts/stream", response_class=StreamingResponse)
async def stream_alerts(
    request: Request,
    actor: Annotated[Actor, require(Action.ALERTS_READ)],
    session: SessionDep,
    once: bool = False,
    last_event_id: Annotated[str | None, Header(max_length=200)] = None,
) -> StreamingResponse:
    """One ``alert`` event per new or changed alert in the caller's scope.

    Each poll opens a short session of its own (none is held across the stream) and checks
    the caller's token again, so a revoked token or disabled account ends the stream.
    ``once`` answers with what is already there and one heartbeat, then ends (for tools and
    tests that cannot hold a stream open). ``Last-Event-ID`` resumes after a reconnect.
    """
    credentials = request.headers.get("authorization", "").partition(" ")[2].strip()
    queries.open_stream(session, actor, once=once)
    since = _resume_point(last_event_id) or utcnow()
    factory = request.app.state.sessionmaker
    events = _events(request, factory, actor, credentials, since, once=once)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _resume_point(last_event_id: str | None) -> dt.datetime | None:
    if not last_event_id:
        return None
    try:
        when = dt.datetime.fromisoformat(last_event_id.rpartition("@")[2])
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _poll(factory: Any, actor: Actor, credentials: str, since: dt.datetime) -> Any:
    """Changes since ``since`` in a short transaction; None when the caller's token is no
    longer valid."""
    try:
        with transaction(factory) as session:
            authenticate_token(session, credentials)
            return queries.changed_since(session, actor, since)
    except HavenError:
        return None


async def _events(
    request: Request,
    factory: Any,
    actor: Actor,
    credentials: str,
    since: dt.datetime,
    *,
    once: bool,
) -> AsyncIterator[str]:
    yield f"retry: 3000\n: connected {utcnow().isoformat()}\n\n"
    sent: dict[uuid.UUID, dt.datetime] = {}
    watermark = since
    last_beat = time.monotonic()
    while True:
        items = await run_in_threadpool(_poll, factory, actor, credentials, watermark - STREAM_LAG)
        if items is None:
            yield "event: end\ndata: {}\n\n"
            return
        for item in items:
            if item["updated_at"] <= since or sent.get(item["id"]) == item["updated_at"]:
                continue
            if not planner.stream(_notice(item)):
                continue
            sent[item["id"]] = item["updated_at"]
            watermark = max(watermark, item["updated_at"])
            yield _event(item)
        horizon = watermark - STREAM_LAG
        sent = {k: v for k, v in sent.items() if v >= horizon}
        if once:
            yield ": heartbeat\n\n"
            return
        if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
            last_beat = time.monotonic()
            yield ": heartbeat\n\n"
        await asyncio.sleep(POLL_SECONDS)
        if await request.is_disconnected():
            return


def _notice(item: dict[str, Any]) -> planner.Notice:
    kind = "alert.created" if item["updated_at"] == item["created_at"] else "alert.updated"
    return planner.Notice(
        event=kind, rule=item["rule"], severity=item["severity"], muted=item["inhibited"]
    )


def _event(item: dict[str, Any]) -> str:
    data = AlertRead.model_validate(item).model_dump(mode="json")
    event_id = f"{item['id']}@{item['updated_at'].isoformat()}"
    return f"event: alert\nid: {event_id}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(
    alert_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.ALERTS_READ)],
    session: SessionDep,
) -> queries.AlertDetailView:
    return queries.read_alert(session, actor, alert_id)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertDetail)
def acknowledge_alert(
    alert_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.ALERTS_HANDLE)],
    session: SessionDep,
) -> queries.AlertDetailView:
    alert = service.acknowledge(session, actor, alert_id)
    return queries.present_detail(session, actor, alert)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertDetail)
def resolve_alert(
    alert_id: uuid.UUID,
    body: AlertResolve,
    actor: Annotated[Actor, require(Action.ALERTS_HANDLE)],
    session: SessionDep,
) -> queries.AlertDetailView:
    alert = service.resolve(session, actor, alert_id, body.note)
    return queries.present_detail(session, actor, alert)
