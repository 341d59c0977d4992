"""Web Push end to end: a push service stand-in on loopback, a browser's keys made by the test.

An incident is posted through the API, the engine delivers the outbox, and the stand-in
receives the message: it decrypts (``http_ece``) to exactly the four fields, its VAPID JWT
verifies against ``/push/key``, and its headers say how long to keep it and how urgent it is.
A 410 removes the subscription; a 500 is retried through the outbox.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.alerts import rules
from app.alerts.engine import Engine
from app.models.alert import OutboxMessage
from app.models.audit import AuditEntry
from tests.alerts.support import detain
from tests.delivery.support import Receiver
from tests.factories import API, Team, db, unique
from tests.notifications.conftest import CONTACT, Browser, b64url, unb64url, vapid_claims

FOUR = {"alert_id", "severity", "rule", "url"}


def _rows(app: FastAPI, target: str | uuid.UUID) -> list[OutboxMessage]:
    with db(app) as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.target_id == uuid.UUID(str(target)))
                .order_by(OutboxMessage.created_at)
            )
        )


def test_a_critical_alert_reaches_the_browser_and_says_nothing_more(
    push_app: FastAPI, papi: TestClient, pteam: Team, service: Receiver, engine: Engine
) -> None:
    worker = pteam.member("caseworker")
    browser = Browser()
    sub = browser.subscribe(papi, worker, service.url)
    key = papi.get(f"{API}/push/key", headers=worker.headers).json()
    assert key["enabled"] is True and len(key["public_key"]) == 87
    name, place = unique("Sokha Chan"), unique("Wat Phnom Lane")
    person = pteam.register(worker, full_name=name, current_country="THA", current_location=place)
    pteam.case(worker, person["id"])
    alert = detain(pteam, worker, person["id"], location=place)

    report = engine.deliver()
    assert report.delivered >= 1
    (received,) = service.wait_for(1)
    message = browser.read(received)
    assert set(message) == FOUR
    assert message == {
        "alert_id": alert["id"],
        "severity": "critical",
        "rule": rules.HOST_CUSTODY,
        "url": f"/alerts/{alert['id']}",
    }
    for secret in (name, place, person["id"]):
        assert secret.encode() not in received.body
        assert secret not in str(message)
    headers = received.headers
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["urgency"] == "high"
    assert int(headers["ttl"]) > 0
    assert headers["topic"] == alert["id"].replace("-", "")
    claims = vapid_claims(headers["authorization"], key["public_key"])
    assert claims["aud"] == f"http://127.0.0.1:{service.port}"
    assert claims["sub"] == CONTACT
    # Another browser's keys cannot read it.
    assert not Browser().opens(received)
    (row,) = _rows(push_app, sub)
    assert (row.channel, row.status) == ("push", "delivered")
    listed = papi.get(f"{API}/me/push-subscriptions", headers=worker.headers).json()["items"]
    assert [i["id"] for i in listed] == [sub] and listed[0]["last_success_at"]


def test_a_gone_subscription_is_removed_and_a_failure_is_retried(
    push_app: FastAPI, papi: TestClient, pteam: Team, service: Receiver, engine: Engine
) -> None:
    worker = pteam.member("caseworker")
    browser = Browser()
    sub = browser.subscribe(papi, worker, service.url)
    person = pteam.person(worker)
    pteam.case(worker, person)

    service.plan = [500]
    detain(pteam, worker, person)
    engine.deliver()
    (row,) = _rows(push_app, sub)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "status 500")

    service.plan = [410]
    with db(push_app) as session:
        session.get(OutboxMessage, row.id).next_attempt_at = row.created_at  # type: ignore[union-attr]
    engine.deliver()
    (row,) = _rows(push_app, sub)
    assert row.status == "dead" and "410" in (row.last_error or "")
    listed = papi.get(f"{API}/me/push-subscriptions", headers=worker.headers).json()["items"]
    assert listed == []
    with db(push_app) as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.subject_id == uuid.UUID(sub))
        ).all()
    assert "push.expired" in actions
    # Nothing more goes to that browser.
    detain(pteam, worker, pteam.person(worker, current_country="THA"))
    assert [r.id for r in _rows(push_app, sub)] == [row.id]
    assert len(service.snapshot()) == 2


def test_subscriptions_are_checked_and_personal(
    papi: TestClient, pteam: Team, service: Receiver
) -> None:
    worker, other = pteam.member("caseworker"), pteam.member("caseworker")
    browser = Browser()
    for endpoint in (
        "https://10.1.2.3/push",  # a private address: the webhook SSRF guard
        "http://push.example.org/push",  # plain http, not allowlisted
        "https://[::1]/push",
        "https://user:pw@push.example.org/push",
    ):
        response = papi.post(
            f"{API}/me/push-subscriptions",
            json=browser.subscription(endpoint),
            headers=worker.headers,
        )
        assert response.status_code == 400, (endpoint, response.text)
    bad = browser.subscription(service.url)
    point = bytearray(unb64url(bad["keys"]["p256dh"]))
    point[-1] ^= 1  # no longer a point on the curve
    bad["keys"]["p256dh"] = b64url(bytes(point))
    response = papi.post(f"{API}/me/push-subscriptions", json=bad, headers=worker.headers)
    assert response.status_code == 422
    mine = browser.subscribe(papi, worker, service.url)
    assert papi.get(f"{API}/me/push-subscriptions", headers=other.headers).json()["items"] == []
    gone = papi.delete(f"{API}/me/push-subscriptions/{mine}", headers=other.headers)
    assert gone.status_code == 404
    assert papi.delete(f"{API}/me/push-subscriptions/{mine}", headers=worker.headers).status_code
    assert papi.get(f"{API}/me/push-subscriptions", headers=worker.headers).json()["items"] == []


def test_the_server_key_is_sealed(push_app: FastAPI, papi: TestClient, pteam: Team) -> None:
    from app.models.notification import PushServerKey

    worker = pteam.member("caseworker")
    public = papi.get(f"{API}/push/key", headers=worker.headers).json()["public_key"]
    assert papi.get(f"{API}/push/key", headers=worker.headers).json()["public_key"] == public
    with db(push_app) as session:
        (row,) = session.scalars(select(PushServerKey)).all()
    assert row.public_key == public
    assert len(row.private_key_ct) > 32 and row.private_key_ct[:1] != b"{"
