"""/webhooks: registration with a Standard Webhooks secret, listing, disabling, audit."""

from __future__ import annotations

import base64
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.alerts import webhooks
from app.db import transaction
from app.models.alert import Webhook
from app.models.audit import AuditEntry
from tests.delivery.conftest import register
from tests.delivery.support import Receiver
from tests.factories import API, Team


def _audit_actions(app: FastAPI, webhook_id: str) -> list[str]:
    with transaction(app.state.sessionmaker) as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.subject_id == uuid.UUID(webhook_id))
                .order_by(AuditEntry.seq)
            )
        )


class TestCreateWebhook:
    def test_generates_a_standard_webhooks_secret(
        self, api: TestClient, team: Team, receiver: Receiver, delivery_app: FastAPI
    ) -> None:
        created = register(api, team, receiver.url, events=["alert.created", "alert.resolved"])
        assert created["secret"].startswith("whsec_")
        assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 32
        assert created["events"] == ["alert.created", "alert.resolved"]
        with transaction(delivery_app.state.sessionmaker) as session:
            row = session.get(Webhook, uuid.UUID(created["id"]))
            assert row is not None
            assert row.organisation_id == team.organisation.id
            assert created["secret"].encode() not in row.secret_ct  # sealed
            assert webhooks.open_secret(session, row) == created["secret"]
        assert _audit_actions(delivery_app, created["id"]) == ["webhook.created"]

    def test_keeps_a_given_secret(self, api: TestClient, team: Team, receiver: Receiver) -> None:
        secret = "whsec_" + base64.b64encode(b"s" * 24).decode()
        assert register(api, team, receiver.url, secret=secret)["secret"] == secret

    def test_star_means_every_event(self, api: TestClient, team: Team, receiver: Receiver) -> None:
        assert register(api, team, receiver.url, events=["alert.created", "*"])["events"] == ["*"]

    @pytest.mark.parametrize(
        "secret",
        [
            "not-a-whsec",
            "whsec_" + base64.b64encode(b"short" * 3).decode(),  # 15 bytes
            "whsec_" + base64.b64encode(b"x" * 65).decode(),
            "whsec_not base64!",
        ],
    )
    def test_refuses_a_bad_secret(
        self, api: TestClient, team: Team, receiver: Receiver, secret: str
    ) -> None:
        response = api.post(
            f"{API}/webhooks",
            json={"url": receiver.url, "secret": secret},
            headers=team.admin.headers,
        )
        assert response.status_code == 400, response.text

    @pytest.mark.parametrize(
        "events",
        [[], ["Alert Created"], ["alert"], ["alert.crated"], ["alert.created", "case.opened"]],
    )
    def test_refuses_unknown_events_naming_them(
        self, api: TestClient, team: Team, receiver: Receiver, events: list[str]
    ) -> None:
        """A misspelt event would be stored and never fire: refused, with the known names."""
        response = api.post(
            f"{API}/webhooks",
            json={"url": receiver.url, "events": events},
            headers=team.admin.headers,
        )
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "events"
        for unknown in [e for e in events if e != "alert.created"]:
            assert unknown in response.json()["detail"]
        if events:
            assert "alert.acknowledged" in response.json()["detail"]
        listed = api.get(f"{API}/webhooks", headers=team.admin.headers).json()
        assert [w for w in listed if w["url"] == receiver.url] == []

    def test_every_event_haven_sends_can_be_subscribed_to(
        self, api: TestClient, team: Team, receiver: Receiver
    ) -> None:
        names = sorted(webhooks.EVENTS)
        assert names == [
            "alert.acknowledged",
            "alert.created",
            "alert.escalated",
            "alert.group",
            "alert.resolved",
            "alert.updated",
        ]
        assert register(api, team, receiver.url, events=names)["events"] == names

    def test_only_administrators(self, api: TestClient, team: Team, receiver: Receiver) -> None:
        response = api.post(
            f"{API}/webhooks", json={"url": receiver.url}, headers=team.caseworker.headers
        )
        assert response.status_code == 403


class TestListAndDisable:
    def test_lists_own_organisation_without_secrets(
        self, api: TestClient, team: Team, receiver: Receiver, delivery_app: FastAPI
    ) -> None:
        mine = register(api, team, receiver.url)
        other_admin = team.elsewhere().admin.headers
        theirs = api.post(f"{API}/webhooks", json={"url": receiver.url}, headers=other_admin)
        listed = api.get(f"{API}/webhooks", headers=team.admin.headers).json()
        assert [w["id"] for w in listed] == [mine["id"]]
        assert "secret" not in listed[0]
        assert mine["secret"] not in api.get(f"{API}/webhooks", headers=team.admin.headers).text
        # Another organisation's endpoint cannot be disabled, and looks unknown.
        gone = api.delete(f"{API}/webhooks/{theirs.json()['id']}", headers=team.admin.headers)
        assert gone.status_code == 404

    def test_disable_is_audited_and_idempotent(
        self, api: TestClient, team: Team, receiver: Receiver, delivery_app: FastAPI
    ) -> None:
        created = register(api, team, receiver.url)
        for _ in range(2):
            response = api.delete(f"{API}/webhooks/{created['id']}", headers=team.admin.headers)
            assert response.status_code == 204
        listed = api.get(f"{API}/webhooks", headers=team.admin.headers).json()
        assert listed[0]["disabled_at"] is not None
        assert _audit_actions(delivery_app, created["id"]) == [
            "webhook.created",
            "webhook.disabled",
        ]

    def test_unknown_id_is_404(self, api: TestClient, team: Team) -> None:
        response = api.delete(f"{API}/webhooks/{uuid.uuid4()}", headers=team.admin.headers)
        assert response.status_code == 404
