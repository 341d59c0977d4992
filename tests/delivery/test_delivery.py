"""Delivering the outbox: signed webhooks to a real receiver, retries, e-mail to a real server."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import uuid
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.alerts.engine import MAX_ATTEMPTS, Engine
from app.config import Settings
from app.db import transaction
from app.models.alert import OutboxMessage
from app.models.audit import AuditEntry
from app.models.base import utcnow
from tests.delivery.conftest import register
from tests.delivery.support import (
    Mailbox,
    Receiver,
    add_outbox,
    outbox,
    outbox_for,
    payload,
    verify,
)
from tests.factories import API, Team, unique

MS = dt.timedelta(milliseconds=1)


def engine(app: FastAPI, settings: Settings, **options: object) -> Engine:
    return Engine(app.state.sessionmaker, settings, rng=random.Random(7), **options)  # type: ignore[arg-type]


@dataclass
class Person:
    id: str
    name: str
    number: str
    place: str


def person_with_document(team: Team) -> Person:
    name, place = unique("Sokha Chan"), unique("Wat Phnom Lane")
    worker = team.caseworker
    person = team.register(worker, full_name=name, current_country="THA", current_location=place)
    number = unique("N").upper().replace("-", "")
    team.document(worker, person["id"], number=number)
    return Person(person["id"], name, number, place)


def report_attack(team: Team, person: Person) -> dict[str, object]:
    return team.incident(
        team.caseworker,
        person.id,
        type="physical_attack",
        occurred_on=dt.date.today().isoformat(),
        location=person.place,
        description=f"{person.name} was beaten outside the flat.",
        source={"name": "Neighbour", "reliability": "B", "credibility": 2},
    )


class TestWebhookDelivery:
    def test_an_incident_reaches_the_receiver_signed_and_without_identifying_data(
        self,
        api: TestClient,
        team: Team,
        receiver: Receiver,
        delivery_app: FastAPI,
        delivery_settings: Settings,
    ) -> None:
        hook = register(api, team, receiver.url, events=["*"])
        person = person_with_document(team)
        report_attack(team, person)
        rows = outbox_for(delivery_app, uuid.UUID(hook["id"]))
        assert rows, "the incident wrote no outbox row for the webhook (raise_alert)"
        report = engine(delivery_app, delivery_settings).deliver()
        assert report.delivered == len(rows)
        got = receiver.wait_for(len(rows))
        for received, row in zip(
            sorted(got, key=lambda r: r.webhook_id),
            sorted(rows, key=lambda r: str(r.id)),
            strict=True,
        ):
            body = verify(hook["secret"], received)
            assert received.webhook_id == str(row.id)
            assert received.body == row.payload.encode()  # as stored, not re-rendered
            assert body["data"]["individual_id"] == person.id
            assert {"rule", "severity", "link"} <= body["data"].keys()
            wire = received.body.decode() + json.dumps(received.headers)
            for secret in (person.name, person.number, person.place, "beaten", "KHM"):
                assert secret not in wire
        assert all(outbox(delivery_app, r.id).status == "delivered" for r in rows)

    def test_retries_with_backoff_until_one_success_with_one_webhook_id(
        self,
        api: TestClient,
        team: Team,
        receiver: Receiver,
        delivery_app: FastAPI,
        delivery_settings: Settings,
    ) -> None:
        receiver.plan = [500, 500]
        hook = register(api, team, receiver.url)
        t0 = utcnow()
        (message,) = add_outbox(delivery_app, uuid.UUID(hook["id"]), at=t0)
        runner = engine(delivery_app, delivery_settings)
        waits = []
        now = t0
        for attempt in (1, 2):
            assert runner.deliver(now).retried == 1
            row = outbox(delivery_app, message)
            assert (row.status, row.attempts, row.last_error) == ("pending", attempt, "status 500")
            wait = (row.next_attempt_at - now).total_seconds()
            assert 1.0 <= wait <= 5.0 * 2 ** (attempt - 1) + 1, wait  # full jitter, capped
            waits.append(wait)
            # Not a moment before its time.
            assert runner.deliver(row.next_attempt_at - MS).claimed == 0
            now = row.next_attempt_at
        assert runner.deliver(now).delivered == 1
        assert runner.deliver(now + dt.timedelta(hours=2)).claimed == 0
        got = receiver.snapshot()
        assert [r.status for r in got] == [500, 500, 200]
        assert {r.webhook_id for r in got} == {str(message)}
        for received in got:
            verify(hook["secret"], received)
        row = outbox(delivery_app, message)
        assert (row.status, row.attempts, row.claimed_by) == ("delivered", 3, None)

    def test_the_stored_payload_is_sent_byte_for_byte(
        self,
        api: TestClient,
        team: Team,
        receiver: Receiver,
        delivery_app: FastAPI,
        delivery_settings: Settings,
    ) -> None:
        hook = register(api, team, receiver.url)
        stored = '{"type": "alert.created",  "data": {"rule": "x", "severity": "high"}}'
        add_outbox(delivery_app, uuid.UUID(hook["id"]), body=stored)
        engine(delivery_app, delivery_settings).deliver()
        assert receiver.wait_for(1)[0].body == stored.encode()

    def test_gives_up_after_the_last_attempt_and_audits_it(
        self,
        api: TestClient,
        team: Team,
        receiver: Receiver,
        delivery_app: FastAPI,
        delivery_settings: Settings,
    ) -> None:
        receiver.plan = [503]
        hook = register(api, team, receiver.url)
        (message,) = add_outbox(delivery_app, uuid.UUID(hook["id"]), attempts=MAX_ATTEMPTS - 1)
        assert engine(delivery_app, delivery_settings).deliver().dead == 1
        row = outbox(delivery_app, message)
        assert (row.status, row.attempts, row.last_error) == ("dead", MAX_ATTEMPTS, "status 503")
        assert _dead_audited(delivery_app, message)

    def test_a_disabled_webhook_gets_nothing(
        self,
        api: TestClient,
        team: Team,
        receiver: Receiver,
        delivery_app: FastAPI,
        delivery_settings: Settings,
    ) -> None:
        hook = register(api, team, receiver.url)
        (message,) = add_outbox(delivery_app, uuid.UUID(hook["id"]))
        api.delete(f"{API}/webhooks/{hook['id']}", headers=team.admin.headers)
        assert engine(delivery_app, delivery_settings).deliver().dead == 1
        assert receiver.snapshot() == []
        assert outbox(delivery_app, message).last_error == "webhook disabled"
        assert _dead_audited(delivery_app, message)

    def test_one_failing_delivery_does_not_stop_the_others(
        self,
        api: TestClient,
        team: Team,
        receiver: Receiver,
        delivery_app: FastAPI,
        delivery_settings: Settings,
    ) -> None:
        good = register(api, team, receiver.url)
        refused = register(api, team, "https://hooks.example.org/haven")  # resolves nowhere
        (ok,) = add_outbox(delivery_app, uuid.UUID(good["id"]))
        (bad,) = add_outbox(delivery_app, uuid.UUID(refused["id"]))
        report = engine(delivery_app, delivery_settings).deliver()
        assert (report.delivered, report.retried) == (1, 1)
        assert outbox(delivery_app, ok).status == "delivered"
        row = outbox(delivery_app, bad)
        assert (row.status, row.last_error) == ("pending", "connection failed (gaierror)")

    def test_logs_name_ids_and_status_codes_only(
        self,
        api: TestClient,
        team: Team,
        receiver: Receiver,
        delivery_app: FastAPI,
        delivery_settings: Settings,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        receiver.plan = [500]
        hook = register(api, team, receiver.url)
        body = payload(note="Sokha Chan")
        (message,) = add_outbox(delivery_app, uuid.UUID(hook["id"]), body=body)
        with caplog.at_level(logging.DEBUG, logger="haven"):
            engine(delivery_app, delivery_settings).deliver()
        text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("haven"))
        assert str(message) in text and hook["id"] in text and "500" in text
        for leak in ("Sokha", "127.0.0.1", str(receiver.port), hook["secret"], "/hook"):
            assert leak not in text


class TestEmail:
    def test_supervisors_get_an_email_without_identifying_data(
        self,
        api: TestClient,
        team: Team,
        delivery_app: FastAPI,
        delivery_settings: Settings,
        smtp: tuple[int, Mailbox],
    ) -> None:
        address = f"{unique('sup')}@ngo.example.org"
        supervisor = team.user("supervisor", email=address)
        person = person_with_document(team)
        report_attack(team, person)
        rows = [r for r in outbox_for(delivery_app, supervisor.id) if r.channel == "email"]
        assert rows, "a critical alert wrote no e-mail row for the supervisor (raise_alert)"
        _, mailbox = smtp
        before = len(mailbox.messages)
        assert engine(delivery_app, delivery_settings).deliver().delivered >= len(rows)
        sent = [m for m in mailbox.parsed()[before:] if m["To"] == address]
        assert len(sent) == len(rows)
        mail = sent[0]
        data = json.loads(rows[0].payload)["data"]
        assert mail["From"] == "Haven <haven@haven.example.org>"
        assert mail["Subject"] == f"[Haven] {data['severity']} alert: {data['rule']}"
        assert mail["Message-ID"] == f"<{rows[0].id}@haven.example.org>"
        text = mail.get_payload(decode=True).decode()
        assert data["link"] in text
        whole = mail.as_string()
        for secret in (person.name, person.number, person.place, "beaten", person.id):
            assert secret not in whole
        assert outbox(delivery_app, rows[0].id).status == "delivered"

    def test_a_user_without_an_address_is_not_retried(
        self, team: Team, delivery_app: FastAPI, delivery_settings: Settings
    ) -> None:
        user = team.user("supervisor")
        (message,) = add_outbox(delivery_app, user.id, channel="email")
        assert engine(delivery_app, delivery_settings).deliver().dead == 1
        assert outbox(delivery_app, message).last_error == "no e-mail address"

    def test_an_unreachable_server_is_retried(
        self, team: Team, delivery_app: FastAPI, delivery_settings: Settings
    ) -> None:
        address = f"{unique('sup')}@ngo.example.org"
        user = team.user("supervisor", email=address)
        (message,) = add_outbox(delivery_app, user.id, channel="email")
        closed = delivery_settings.model_copy(update={"smtp_url": "smtp://u:p%40ss@127.0.0.1:9"})
        assert engine(delivery_app, closed).deliver().retried == 1
        row = outbox(delivery_app, message)
        assert (row.status, row.last_error) == ("pending", "smtp failed (ConnectionRefusedError)")


def _dead_audited(app: FastAPI, message: uuid.UUID) -> bool:
    with transaction(app.state.sessionmaker) as session:
        return (
            session.scalar(
                select(AuditEntry.action).where(
                    AuditEntry.subject_id == message, AuditEntry.action == "outbox.dead"
                )
            )
            is not None
        )


def test_outbox_rows_are_claimed_by_nobody_after_a_tick(
    api: TestClient,
    team: Team,
    receiver: Receiver,
    delivery_app: FastAPI,
    delivery_settings: Settings,
) -> None:
    hook = register(api, team, receiver.url)
    add_outbox(delivery_app, uuid.UUID(hook["id"]), count=3)
    engine(delivery_app, delivery_settings).deliver()
    with transaction(delivery_app.state.sessionmaker) as session:
        claimed = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.claimed_by.is_not(None))
        ).all()
    assert claimed == []
