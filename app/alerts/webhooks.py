"""Webhook endpoints: registration with a sealed secret, Standard Webhooks signing, delivery.

Each endpoint's secret is a Standard Webhooks ``whsec_`` secret sealed with a data key of its
own. A delivery sends the outbox payload exactly as stored (ids, rule, severity and a link; never
a name, number or place), signed over ``webhook-id`` (the outbox message id, the same on every
retry), ``webhook-timestamp`` (the moment of sending) and the body.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import secrets
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook as Signer

from app import __version__
from app.actor import Actor
from app.alerts import egress
from app.audit import service as audit
from app.crypto import FieldSlot, Pad, crypto_of
from app.errors import BadRequest, NotFound, Unprocessable
from app.models.alert import OutboxMessage, Webhook
from app.models.base import utcnow

SECRET = FieldSlot("webhook", "secret")
SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)
SECRET_BYTES = 32
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64
ANY_EVENT = "*"
# Every event a webhook is sent (app.alerts.service and app.alerts.notify name them).
EVENTS = frozenset(
    {
        "alert.created",
        "alert.updated",
        "alert.acknowledged",
        "alert.resolved",
        "alert.escalated",
        "alert.group",
    }
)
MAX_EVENTS = 32
USER_AGENT = f"Haven-Webhooks/{__version__}"


# Secrets -------------------------------------------------------------------------------------
def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_secret(secret: str) -> str:
    """A given secret must be ``whsec_`` and the base64 of 24 to 64 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        raise BadRequest(f"webhook secrets start with {SECRET_PREFIX}")
    try:
        raw = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("the webhook secret is not valid base64") from None
    if not MIN_SECRET_BYTES <= len(raw) <= MAX_SECRET_BYTES:
        raise BadRequest(
            f"webhook secrets hold {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes"
        )
    return secret


def check_events(events: list[str]) -> list[str]:
    """The subscribed events, each one Haven sends (``EVENTS``) or ``*``: a misspelt name
    (``alert.crated``) would never fire, so it is refused (422) naming it."""
    unique = list(dict.fromkeys(e.strip() for e in events))
    known = ", ".join(sorted(EVENTS))
    if not unique:
        raise Unprocessable(f'events: name at least one of {known}, or "*" for all', field="events")
    if len(unique) > MAX_EVENTS:
        raise Unprocessable(f"events: at most {MAX_EVENTS} events", field="events")
    unknown = [e for e in unique if e != ANY_EVENT and e not in EVENTS]
    if unknown:
        raise Unprocessable(
            f"events: unknown {', '.join(repr(e[:48]) for e in unknown[:5])}; "
            f'Haven sends {known} ("*" for all)',
            field="events",
        )
    return [ANY_EVENT] if ANY_EVENT in unique else unique


# Registration --------------------------------------------------------------------------------
def register(
    session: Session,
    actor: Actor,
    *,
    url: str,
    events: list[str],
    secret: str | None,
    allowed_hosts: frozenset[str],
) -> tuple[Webhook, str]:
    """A new endpoint of the actor's organisation; returns it with its secret (shown once)."""
    destination = egress.check_registration(url, allowed_hosts)
    events = check_events(events)
    secret = check_secret(secret) if secret is not None else new_secret()
    webhook = Webhook(
        id=uuid.uuid4(),
        organisation_id=actor.organisation_id,
        url=url.strip(),
        events=json.dumps(events),
        secret_ct=b"",
        created_by=actor.id,
    )
    session.add(webhook)
    session.flush()
    crypto = crypto_of(session)
    key = crypto.keys.create(session, webhook.id, "webhook")
    webhook.secret_ct = crypto.seal(key, SECRET, webhook.id, secret, pad=Pad.SHORT)
    audit.record(
        session,
        actor=actor,
        action="webhook.created",
        subject_type="webhook",
        subject_id=webhook.id,
        details={"events": events, "scheme": destination.scheme},
    )
    return webhook, secret


def list_webhooks(session: Session, actor: Actor) -> list[Webhook]:
    return list(
        session.scalars(
            select(Webhook)
            .where(Webhook.organisation_id == actor.organisation_id)
            .order_by(Webhook.created_at, Webhook.id)
        )
    )


def disable(session: Session, actor: Actor, webhook_id: uuid.UUID) -> Webhook:
    """Stop deliveries to an endpoint of the actor's organisation (another's is not found)."""
    webhook = session.scalar(
        select(Webhook).where(
            Webhook.id == webhook_id, Webhook.organisation_id == actor.organisation_id
        )
    )
    if webhook is None:
        raise NotFound()
    if webhook.disabled_at is None:
        webhook.disabled_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="webhook.disabled",
            subject_type="webhook",
            subject_id=webhook.id,
        )
    return webhook


def events_of(webhook: Webhook) -> list[str]:
    return list(json.loads(webhook.events))


def open_secret(session: Session, webhook: Webhook) -> str:
    secret: str = crypto_of(session).open(
        session, SECRET, webhook.id, webhook.id, webhook.secret_ct, pad=Pad.SHORT
    )
    return secret


# Delivery ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """What a delivery needs, read (and the secret opened) while the message is claimed."""

    webhook_id: uuid.UUID
    url: str
    secret: str


def sign(secret: str, message_id: str, body: str, at: dt.datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for this body."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Signer(secret).sign(message_id, at, body),
    }


def send(endpoint: Endpoint, message_id: str, payload: str, allowed_hosts: frozenset[str]) -> int:
    """POST the stored payload, signed, to the endpoint's vetted address; the status code.

    Raises egress.DestinationRefused, OSError or httpx.HTTPError (see egress.post).
    """
    destination = egress.parse(endpoint.url, allowed_hosts)
    headers = sign(endpoint.secret, message_id, payload, dt.datetime.now(dt.UTC))
    headers |= {"content-type": "application/json", "user-agent": USER_AGENT}
    return egress.post(destination, payload.encode(), headers)


def describe(error: BaseException) -> str:
    """A short reason for the outbox row and the log: never a URL, address or body."""
    if isinstance(error, egress.DestinationRefused):
        return f"refused: {error.detail}"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.HTTPError | OSError):
        return f"connection failed ({type(error).__name__})"
    return f"failed ({type(error).__name__})"


# A test delivery, and what was sent lately ---------------------------------------------------
TEST_EVENT = "webhook.test"
RECENT = 10


@dataclass(frozen=True)
class DeliveryView:
    """One notice to an endpoint, as its administrator sees it (no payload)."""

    id: uuid.UUID
    event: str
    status: str
    attempts: int
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    last_error: str | None


def _own(session: Session, actor: Actor, webhook_id: uuid.UUID) -> Webhook:
    webhook = session.scalar(
        select(Webhook).where(
            Webhook.id == webhook_id, Webhook.organisation_id == actor.organisation_id
        )
    )
    if webhook is None:
        raise NotFound()
    return webhook


def send_test(session: Session, actor: Actor, webhook_id: uuid.UUID) -> uuid.UUID:
    """Queue a ``webhook.test`` notice (no alert, no person: the endpoint's id only) to an
    enabled endpoint of the actor's organisation; the delivery engine signs and sends it as any
    other, so the administrator sees it arrive (or fail) among the recent deliveries."""
    webhook = _own(session, actor, webhook_id)
    if webhook.disabled_at is not None:
        raise BadRequest("this endpoint is disabled")
    now = utcnow()
    body = json.dumps(
        {"type": TEST_EVENT, "timestamp": now.isoformat(), "data": {"webhook_id": str(webhook.id)}},
        separators=(",", ":"),
    )
    row = OutboxMessage(
        id=uuid.uuid4(),
        alert_id=None,
        event=TEST_EVENT,
        channel="webhook",
        target_id=webhook.id,
        payload=body,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    audit.record(
        session, actor=actor, action="webhook.test", subject_type="webhook", subject_id=webhook.id
    )
    return row.id


def recent_deliveries(
    session: Session, actor: Actor, webhook_id: uuid.UUID, limit: int = RECENT
) -> list[DeliveryView]:
    """The newest notices to an endpoint of the actor's organisation, newest first."""
    webhook = _own(session, actor, webhook_id)
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.channel == "webhook", OutboxMessage.target_id == webhook.id)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id)
        .limit(limit)
    )
    return [
        DeliveryView(
            r.id, r.event, r.status, r.attempts, r.created_at, r.delivered_at, r.last_error
        )
        for r in rows
    ]
