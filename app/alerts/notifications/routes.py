"""/me/notifications, /push/key, /me/push-subscriptions, /on-call, /notifications/unreachable."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.actor import Actor
from app.alerts.notifications import oncall, preferences, push, reach
from app.auth.deps import require
from app.auth.roles import Action
from app.config import SettingsDep
from app.db import SessionDep, transaction
from app.models.base import utcnow
from app.validation import SingleLine

router = APIRouter(tags=["notifications"])


class Severity(enum.StrEnum):
    INFO = "info"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Annotated[str, Field(min_length=5, max_length=5, examples=["22:00"])]
    end: Annotated[str, Field(min_length=5, max_length=5, examples=["07:00"])]


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: bool
    push: bool
    min_severity: Severity
    quiet_hours: QuietHours | None = None
    # The profile's time zone (User.time_zone): omitted or null leaves it as it is.
    time_zone: Annotated[str | None, Field(max_length=64, examples=["Asia/Bangkok"])] = None


class PreferencesRead(BaseModel):
    email: bool
    push: bool
    min_severity: str
    quiet_hours: QuietHours | None
    time_zone: str
    time_zone_is_default: bool


class PushKeyRead(BaseModel):
    public_key: str
    enabled: bool  # HAVEN_PUSH_CONTACT is set: messages are sent


class SubscriptionKeys(BaseModel):
    p256dh: Annotated[str, Field(min_length=80, max_length=100), SingleLine]
    auth: Annotated[str, Field(min_length=16, max_length=32), SingleLine]


class SubscriptionCreate(BaseModel):
    endpoint: Annotated[str, Field(min_length=1, max_length=2000), SingleLine]
    keys: SubscriptionKeys
    expirationTime: float | None = None


class SubscriptionCreated(BaseModel):
    id: uuid.UUID


class SubscriptionRead(BaseModel):
    id: uuid.UUID
    created_at: dt.datetime
    last_success_at: dt.datetime | None


class SubscriptionList(BaseModel):
    items: list[SubscriptionRead]


class ShiftCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID
    starts_at: dt.datetime
    ends_at: dt.datetime


class ShiftRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    username: str
    starts_at: dt.datetime
    ends_at: dt.datetime


class RotaRead(BaseModel):
    on_call_now: ShiftRead | None
    shifts: list[ShiftRead]


class UnreachableRead(BaseModel):
    user_id: uuid.UUID
    username: str
    role: str
    reasons: list[str]


class ReachRead(BaseModel):
    channels: list[str]
    nobody_on_call: bool
    unreachable: list[UnreachableRead]


# Preferences ---------------------------------------------------------------------------------
@router.get("/me/notifications", response_model=PreferencesRead)
def get_preferences(
    actor: Annotated[Actor, require(Action.NOTIFICATIONS_OWN)], session: SessionDep
) -> preferences.PreferencesView:
    return preferences.read(session, actor)


@router.put("/me/notifications", response_model=PreferencesRead)
def put_preferences(
    body: PreferencesUpdate,
    actor: Annotated[Actor, require(Action.NOTIFICATIONS_OWN)],
    session: SessionDep,
) -> preferences.PreferencesView:
    quiet = (body.quiet_hours.start, body.quiet_hours.end) if body.quiet_hours else None
    return preferences.update(
        session,
        actor,
        email=body.email,
        push=body.push,
        min_severity=body.min_severity.value,
        quiet_hours=quiet,
        time_zone=body.time_zone,
    )


# Web Push ------------------------------------------------------------------------------------
@router.get("/push/key", response_model=PushKeyRead)
def get_push_key(
    request: Request,
    actor: Annotated[Actor, require(Action.NOTIFICATIONS_OWN)],
    session: SessionDep,
    settings: SettingsDep,
) -> PushKeyRead:
    key = push.existing_key(session)
    if key is None:  # made on first use, in a writing transaction (reads run read-only)
        with transaction(request.app.state.sessionmaker) as writer:
            key = push.public_key(writer)
    return PushKeyRead(public_key=key, enabled=bool(settings.push_contact))


@router.post("/me/push-subscriptions", status_code=201, response_model=SubscriptionCreated)
def create_push_subscription(
    body: SubscriptionCreate,
    actor: Annotated[Actor, require(Action.NOTIFICATIONS_OWN)],
    session: SessionDep,
    settings: SettingsDep,
) -> SubscriptionCreated:
    row = push.subscribe(
        session,
        actor,
        endpoint=body.endpoint,
        p256dh=body.keys.p256dh,
        auth=body.keys.auth,
        allowed_hosts=settings.allowed_webhook_hosts,
    )
    return SubscriptionCreated(id=row.id)


@router.get("/me/push-subscriptions", response_model=SubscriptionList)
def list_push_subscriptions(
    actor: Annotated[Actor, require(Action.NOTIFICATIONS_OWN)], session: SessionDep
) -> SubscriptionList:
    items = [SubscriptionRead.model_validate(i) for i in push.list_mine(session, actor)]
    return SubscriptionList(items=items)


@router.delete("/me/push-subscriptions/{subscription_id}", status_code=204)
def delete_push_subscription(
    subscription_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.NOTIFICATIONS_OWN)],
    session: SessionDep,
) -> Response:
    push.unsubscribe(session, actor, subscription_id)
    return Response(status_code=204)


# On call -------------------------------------------------------------------------------------
@router.get("/on-call", response_model=RotaRead)
def get_rota(
    actor: Annotated[Actor, require(Action.ON_CALL_READ)], session: SessionDep
) -> oncall.RotaView:
    return oncall.rota(session, actor, utcnow())


@router.post("/on-call", status_code=201, response_model=ShiftRead)
def add_shift(
    body: ShiftCreate,
    actor: Annotated[Actor, require(Action.ON_CALL_MANAGE)],
    session: SessionDep,
) -> oncall.ShiftView:
    return oncall.add_shift(
        session, actor, user_id=body.user_id, starts_at=body.starts_at, ends_at=body.ends_at
    )


@router.delete("/on-call/{shift_id}", status_code=204)
def remove_shift(
    shift_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.ON_CALL_MANAGE)],
    session: SessionDep,
) -> Response:
    oncall.remove_shift(session, actor, shift_id)
    return Response(status_code=204)


# Reach ---------------------------------------------------------------------------------------
@router.get("/notifications/unreachable", response_model=ReachRead)
def get_unreachable(
    actor: Annotated[Actor, require(Action.REACH_READ)], session: SessionDep
) -> reach.ReachView:
    """Caseworkers and supervisors a critical alert would reach by no channel at all."""
    return reach.unreachable(session, actor, utcnow())
