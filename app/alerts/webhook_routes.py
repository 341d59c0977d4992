"""/webhooks: endpoints that receive signed alert notifications (administrators)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from app.actor import Actor
from app.alerts import webhooks
from app.auth.deps import require
from app.auth.roles import Action
from app.config import SettingsDep
from app.db import SessionDep
from app.models.alert import Webhook
from app.validation import SingleLine

router = APIRouter(tags=["webhooks"])


class WebhookCreate(BaseModel):
    url: Annotated[str, Field(min_length=1, max_length=2000), SingleLine]
    events: list[str] = Field(default_factory=lambda: ["alert.created"], max_length=32)
    secret: str | None = Field(default=None, max_length=200)


class WebhookCreated(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    secret: str  # shown once


class WebhookRead(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    created_at: dt.datetime
    disabled_at: dt.datetime | None


@router.post("/webhooks", status_code=201, response_model=WebhookCreated)
def create_webhook(
    body: WebhookCreate,
    actor: Annotated[Actor, require(Action.WEBHOOKS_MANAGE)],
    session: SessionDep,
    settings: SettingsDep,
) -> WebhookCreated:
    webhook, secret = webhooks.register(
        session,
        actor,
        url=body.url,
        events=body.events,
        secret=body.secret,
        allowed_hosts=settings.allowed_webhook_hosts,
    )
    return WebhookCreated(
        id=webhook.id, url=webhook.url, events=webhooks.events_of(webhook), secret=secret
    )


@router.get("/webhooks", response_model=list[WebhookRead])
def list_webhooks(
    actor: Annotated[Actor, require(Action.WEBHOOKS_MANAGE)], session: SessionDep
) -> list[WebhookRead]:
    return [_read(row) for row in webhooks.list_webhooks(session, actor)]


@router.delete("/webhooks/{webhook_id}", status_code=204)
def disable_webhook(
    webhook_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.WEBHOOKS_MANAGE)],
    session: SessionDep,
) -> Response:
    webhooks.disable(session, actor, webhook_id)
    return Response(status_code=204)


def _read(row: Webhook) -> WebhookRead:
    return WebhookRead(
        id=row.id,
        url=row.url,
        events=webhooks.events_of(row),
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )
