"""Web Push: the deployment's VAPID key, browsers' subscriptions, and sending one message.

RFC 8030 delivery, RFC 8291 message encryption (``aes128gcm``, done by ``pywebpush``), RFC 8292
VAPID (signed by ``py_vapid``; ``sub`` is HAVEN_PUSH_CONTACT). The push service is a third
party: a message holds exactly ``{"alert_id", "severity", "rule", "url"}`` — never a name, a
place or a number — and goes through the same SSRF guard as webhooks (``app.alerts.egress``:
public HTTPS only, the vetted address pinned; HAVEN_WEBHOOK_ALLOW_HOSTS admits a test service).

The notification's words are the service worker's (``app/web/static/sw.js``, English). For a
reader of another language the message also holds ``title`` and ``body``: the same fixed
sentences in their language (``for_reader``), still naming no one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, TypedDict

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02  # type: ignore[import-untyped]
from pywebpush import WebPusher  # type: ignore[import-untyped]
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import i18n
from app.actor import Actor
from app.alerts import egress
from app.audit import service as audit
from app.crypto import FieldSlot, Pad, crypto_of
from app.errors import NotFound, Unprocessable
from app.i18n import N_, _
from app.models.base import utcnow
from app.models.notification import PushServerKey, PushSubscription
from app.models.user import User

SERVER_KEY_ROW = 1
SERVER_KEY_OWNER = uuid.UUID("5e0d9a52-70c4-4a8f-9f3e-2b7d2f1c0a01")  # the key's data-key owner
PRIVATE_KEY = FieldSlot("push_server_key", "private_key")
ENDPOINT = FieldSlot("push_subscription", "endpoint")
KEYS = FieldSlot("push_subscription", "keys")
MAX_SUBSCRIPTIONS = 10
TTL_SECONDS = 12 * 3600  # a phone off for the night still gets it in the morning
CRITICAL_TTL_SECONDS = 24 * 3600
JWT_SECONDS = 12 * 3600  # RFC 8292 §2: at most 24 hours
PAYLOAD_FIELDS = ("alert_id", "severity", "rule", "url")
TEXT_FIELDS = ("title", "body")  # only for a reader of another language than English
# What the notification says (the service worker's English words, app/web/static/sw.js).
TITLE = N_("Alert in your caseload")
CRITICAL_TITLE = N_("Critical alert in your caseload")
BODY = N_("Open Haven to see it (you may need to sign in).")
GONE = frozenset({404, 410})


class Payload(TypedDict):
    alert_id: str
    severity: str
    rule: str
    url: str


class SubscriptionRead(TypedDict):
    id: str
    created_at: dt.datetime
    last_success_at: dt.datetime | None


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# The server key ----------------------------------------------------------------------------
_vapid_lock = threading.Lock()
_vapid_cache: dict[str, Any] = {}


def existing_key(session: Session) -> str | None:
    """The application server key if it was made already (a read)."""
    row = session.get(PushServerKey, SERVER_KEY_ROW)
    return row.public_key if row is not None else None


def public_key(session: Session) -> str:
    """The application server key (base64url of the uncompressed P-256 point), made once."""
    row = session.get(PushServerKey, SERVER_KEY_ROW)
    if row is not None:
        return row.public_key
    private = ec.generate_private_key(ec.SECP256R1())
    raw = private.private_numbers().private_value.to_bytes(32, "big")
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    crypto = crypto_of(session)
    try:
        with session.begin_nested():
            key = crypto.keys.current_or_create(session, SERVER_KEY_OWNER, "push_server_key")
            row = PushServerKey(
                id=SERVER_KEY_ROW,
                public_key=_b64url(point),
                private_key_ct=crypto.seal(
                    key, PRIVATE_KEY, SERVER_KEY_OWNER, _b64url(raw), pad=Pad.SHORT
                ),
            )
            session.add(row)
            session.flush()
    except IntegrityError:  # another process made it first: use theirs
        row = session.get(PushServerKey, SERVER_KEY_ROW)
        assert row is not None
    return row.public_key


def signer(session: Session) -> Any:
    """The VAPID signer of the deployment's key (unsealed once per process)."""
    public = public_key(session)
    with _vapid_lock:
        cached = _vapid_cache.get(public)
    if cached is not None:
        return cached
    row = session.get(PushServerKey, SERVER_KEY_ROW)
    assert row is not None
    raw = crypto_of(session).open(
        session, PRIVATE_KEY, SERVER_KEY_OWNER, SERVER_KEY_OWNER, row.private_key_ct, pad=Pad.SHORT
    )
    vapid = Vapid02.from_raw(raw.encode())
    with _vapid_lock:
        _vapid_cache[public] = vapid
    return vapid


# Subscriptions -----------------------------------------------------------------------------
def _check_keys(p256dh: str, auth: str) -> None:
    try:
        point = _unb64url(p256dh)
        secret = _unb64url(auth)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except (binascii.Error, ValueError):
        raise Unprocessable("keys.p256dh: not a P-256 public key", field="keys.p256dh") from None
    if len(point) != 65 or len(secret) != 16:
        raise Unprocessable("keys: p256dh is 65 bytes and auth 16 (base64url)", field="keys")


def subscribe(
    session: Session,
    actor: Actor,
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    allowed_hosts: frozenset[str],
) -> PushSubscription:
    """Keep (or renew) this browser's subscription for the caller."""
    endpoint = endpoint.strip()
    egress.check_registration(endpoint, allowed_hosts)
    _check_keys(p256dh, auth)
    crypto = crypto_of(session)
    tag = crypto.index.tag("push-endpoint", endpoint)
    existing = session.scalar(select(PushSubscription).where(PushSubscription.endpoint_tag == tag))
    if existing is not None:  # the same browser again (or now someone else's on it)
        session.delete(existing)
        session.flush()
    count = session.scalar(
        select(func.count())
        .select_from(PushSubscription)
        .where(PushSubscription.user_id == actor.id)
    )
    if (count or 0) >= MAX_SUBSCRIPTIONS:
        raise Unprocessable(
            f"at most {MAX_SUBSCRIPTIONS} browsers per account; remove one first", field="endpoint"
        )
    row = PushSubscription(
        id=uuid.uuid4(), user_id=actor.id, endpoint_ct=b"", keys_ct=b"", endpoint_tag=tag
    )
    key = crypto.keys.current_or_create(session, actor.id, "user")
    row.endpoint_ct = crypto.seal(key, ENDPOINT, row.id, endpoint, pad=Pad.TEXT)
    row.keys_ct = crypto.seal(
        key, KEYS, row.id, json.dumps({"p256dh": p256dh, "auth": auth}), pad=Pad.SHORT
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="push.subscribe",
        subject_type="push_subscription",
        subject_id=row.id,
    )
    return row


def list_mine(session: Session, actor: Actor) -> list[SubscriptionRead]:
    rows = session.scalars(
        select(PushSubscription)
        .where(PushSubscription.user_id == actor.id)
        .order_by(PushSubscription.created_at, PushSubscription.id)
    )
    return [
        {"id": str(r.id), "created_at": r.created_at, "last_success_at": r.last_success_at}
        for r in rows
    ]


def unsubscribe(session: Session, actor: Actor, subscription_id: uuid.UUID) -> None:
    """404 for another user's subscription as for an unknown one."""
    row = session.scalar(
        select(PushSubscription).where(
            PushSubscription.id == subscription_id, PushSubscription.user_id == actor.id
        )
    )
    if row is None:
        raise NotFound("no such push subscription")
    session.delete(row)
    audit.record(
        session,
        actor=actor,
        action="push.unsubscribe",
        subject_type="push_subscription",
        subject_id=subscription_id,
    )


def unsubscribe_endpoint(session: Session, actor: Actor, endpoint: str) -> None:
    """The caller's browser turned notifications off: forget its subscription, if ours."""
    tag = crypto_of(session).index.tag("push-endpoint", endpoint.strip())
    found = session.scalar(
        select(PushSubscription.id).where(
            PushSubscription.endpoint_tag == tag, PushSubscription.user_id == actor.id
        )
    )
    if found is not None:
        unsubscribe(session, actor, found)


def forget(session: Session, subscription_id: uuid.UUID, status: int) -> None:
    """The push service said the subscription is gone (404/410): remove it."""
    if session.execute(
        delete(PushSubscription).where(PushSubscription.id == subscription_id)
    ).rowcount:  # type: ignore[attr-defined]
        audit.record(
            session,
            actor=None,
            action="push.expired",
            subject_type="push_subscription",
            subject_id=subscription_id,
            details={"status": status},
        )


def devices(session: Session, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Each user's subscription ids."""
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    if not user_ids:
        return found
    rows = session.execute(
        select(PushSubscription.user_id, PushSubscription.id)
        .where(PushSubscription.user_id.in_(user_ids))
        .order_by(PushSubscription.created_at, PushSubscription.id)
    )
    for user_id, sub_id in rows:
        found.setdefault(user_id, []).append(sub_id)
    return found


# One message -------------------------------------------------------------------------------
def payload(alert_id: uuid.UUID | str, severity: str, rule: str, url: str) -> str:
    body: Payload = {"alert_id": str(alert_id), "severity": severity, "rule": rule, "url": url}
    return json.dumps(body, separators=(",", ":"))


def for_reader(body: str, locale: str) -> str:
    """The push message with its title and body in the reader's language; English readers'
    messages stay the four fields (the service worker says it in English)."""
    if locale == i18n.DEFAULT or locale not in i18n.LANGUAGES:
        return body
    message = json.loads(body)
    with i18n.using(locale):
        title = CRITICAL_TITLE if message.get("severity") == "critical" else TITLE
        message["title"] = _(title)
        message["body"] = _(BODY)
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Target:
    """What a send needs, read (and opened) while the outbox row is claimed."""

    subscription_id: uuid.UUID
    endpoint: str
    p256dh: str
    auth: str
    vapid: Any
    contact: str


def target(session: Session, subscription_id: uuid.UUID, contact: str) -> Target | None:
    row = session.get(PushSubscription, subscription_id)
    if row is None:
        return None
    owner = session.get(User, row.user_id)
    if owner is None or owner.disabled:  # a disabled account's browsers hear nothing more
        return None
    crypto = crypto_of(session)
    endpoint = crypto.open(session, ENDPOINT, row.id, row.user_id, row.endpoint_ct, pad=Pad.TEXT)
    keys = json.loads(crypto.open(session, KEYS, row.id, row.user_id, row.keys_ct, pad=Pad.SHORT))
    return Target(row.id, endpoint, keys["p256dh"], keys["auth"], signer(session), contact)


def headers_for(target: Target, destination: egress.Destination, severity: str) -> dict[str, str]:
    """RFC 8030 TTL and Urgency, RFC 8292 Authorization (vapid t=JWT, k=server key)."""
    default = 443 if destination.scheme == "https" else 80
    port = "" if destination.port == default else f":{destination.port}"
    host = f"[{destination.host}]" if ":" in destination.host else destination.host
    claims = {
        "aud": f"{destination.scheme}://{host}{port}",
        "exp": int(time.time()) + JWT_SECONDS,
        "sub": target.contact,
    }
    critical = severity == "critical"
    return {
        **target.vapid.sign(claims),
        "TTL": str(CRITICAL_TTL_SECONDS if critical else TTL_SECONDS),
        "Urgency": "high" if critical else "normal",
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
    }


def send(target: Target, body: str, allowed_hosts: frozenset[str]) -> int:
    """Encrypt the stored payload for this browser and POST it to its push service; the
    status code. Raises as ``egress.post`` does."""
    destination = egress.parse(target.endpoint, allowed_hosts)
    message = json.loads(body)
    sealed = WebPusher(
        {"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}}
    ).encode(body.encode(), "aes128gcm")["body"]
    headers = headers_for(target, destination, str(message.get("severity", "")))
    # A newer message about the same alert replaces one the push service still holds.
    alert_id = str(message.get("alert_id", ""))
    if len(alert_id) == 36:
        headers["Topic"] = alert_id.replace("-", "")
    return egress.post(destination, bytes(sealed), headers)


def delivered(session: Session, subscription_id: uuid.UUID) -> None:
    row = session.get(PushSubscription, subscription_id)
    if row is not None:
        row.last_success_at = utcnow()
