"""Notices in the outbox: same transaction, no personal data, one notice per group."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.alerts import notify
from app.alerts import service as alerts
from app.db import transaction
from app.models.alert import Alert, OutboxMessage
from tests.alerts.support import add_webhook, alerts_of, detain, outbox, payloads
from tests.factories import API, Team, db


class TestSameTransaction:
    def test_a_failure_after_raising_leaves_nothing(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        hook = add_webhook(app, team.organisation.id)
        worker = team.member("caseworker")
        person = team.person(worker)
        with pytest.raises(RuntimeError), transaction(app.state.sessionmaker) as session:
            alert = alerts.raise_alert(
                session,
                rule="host_custody",
                severity="critical",
                organisation_id=team.organisation.id,
                summary="Held in custody by a host state",
                individual_id=person,
            )
            assert alert is not None
            session.flush()
            assert session.scalars(
                select(OutboxMessage).where(OutboxMessage.target_id == hook)
            ).all()
            raise RuntimeError("the request failed after the alert was raised")
        with db(app) as session:
            assert session.scalars(select(Alert).where(Alert.individual_id == person)).all() == []
        assert outbox(app, hook) == []

    def test_grouped_notices_are_written_at_commit(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        hook = add_webhook(app, team.organisation.id)
        worker = team.member("caseworker")
        people = [team.person(worker) for _ in range(2)]
        group = str(uuid.uuid4())
        with transaction(app.state.sessionmaker) as session:
            for person in people:
                alerts.raise_alert(
                    session,
                    rule="country_event",
                    severity="high",
                    organisation_id=team.organisation.id,
                    summary="Country event affecting this person",
                    individual_id=person,
                    subject_id=uuid.UUID(group),
                    group_key=group,
                )
            # Nobody flushed the group: the commit writes it.
        (row,) = outbox(app, hook)
        assert (row.event, row.alert_id) == ("alert.group", None)
        assert json.loads(row.payload)["data"]["count"] == 2

    def test_a_rolled_back_group_is_forgotten(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        hook = add_webhook(app, team.organisation.id)
        worker = team.member("caseworker")
        person = team.person(worker)
        with pytest.raises(RuntimeError), transaction(app.state.sessionmaker) as session:
            alerts.raise_alert(
                session,
                rule="country_event",
                severity="high",
                organisation_id=team.organisation.id,
                summary="Country event affecting this person",
                individual_id=person,
                group_key=str(uuid.uuid4()),
            )
            raise RuntimeError
        assert notify.flush_groups(session) == 0
        assert outbox(app, hook) == []


class TestPayload:
    def test_ids_rule_severity_and_link_only(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        hook = add_webhook(app, team.organisation.id, ["alert.created"])
        worker = team.member("caseworker")
        name = f"Sokha Chanthou {uuid.uuid4().hex[:6]}"
        person = team.person(worker, full_name=name, current_location="Soi 7, Bangkok")
        document = team.document(worker, person)
        alert = detain(team, worker, person, location="Don Mueang airport")
        (row,) = [r for r in outbox(app, hook) if str(r.alert_id) == alert["id"]]
        body = json.loads(row.payload)
        assert set(body) == {"type", "timestamp", "data"}
        assert body["type"] == "alert.created"
        assert dt.datetime.fromisoformat(body["timestamp"]).tzinfo is not None
        assert body["data"] == {
            "id": alert["id"],
            "rule": "host_custody",
            "severity": "critical",
            "status": "open",
            "individual_id": str(person),
            "case_id": None,
            "dedup_key": alert["dedup_key"],
            "link": f"{app.state.settings.public_url}/alerts/{alert['id']}",
        }
        for secret in (name, "Sokha", document["number"], "Don Mueang", "Bangkok"):
            assert secret not in row.payload

    def test_webhooks_get_only_what_they_subscribe_to(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        created_only = add_webhook(app, team.organisation.id, ["alert.created"])
        resolved_only = add_webhook(app, team.organisation.id, ["alert.resolved"])
        other_org = add_webhook(app, team.elsewhere().organisation.id)
        worker = team.member("caseworker")
        alert = detain(team, worker, team.person(worker))
        client.post(f"{API}/alerts/{alert['id']}/acknowledge", headers=worker.headers)
        assert {r.event for r in outbox(app, created_only)} == {"alert.created"}
        assert outbox(app, resolved_only) == []
        assert outbox(app, other_org) == []

    def test_disabled_webhooks_get_nothing(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        from app.models.alert import Webhook

        hook = add_webhook(app, team.organisation.id)
        with db(app) as session:
            row = session.get(Webhook, hook)
            assert row is not None
            row.disabled_at = dt.datetime.now(dt.UTC)
        worker = team.member("caseworker")
        detain(team, worker, team.person(worker))
        assert outbox(app, hook) == []


class TestRevocationGroups:
    def revoke(self, client: TestClient, boss: object, numbers: list[str]) -> dict[str, object]:
        response = client.post(
            f"{API}/documents/revocations",
            json={
                "issuing_country": "KHM",
                "numbers": numbers,
                "effective_date": dt.date.today().isoformat(),
                "source": "Decree 12",
            },
            headers=boss.headers,  # type: ignore[attr-defined]
        )
        assert response.status_code == 200, response.text
        return response.json()

    def test_one_alert_per_person_one_notice_per_list(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        hook = add_webhook(app, team.organisation.id, ["alert.created"])
        worker, boss = team.member("caseworker"), team.member("supervisor")
        people = [team.person(worker) for _ in range(4)]
        numbers = [team.document(worker, p)["number"] for p in people]

        first = self.revoke(client, boss, numbers[:3])
        assert first["matched"] == 3
        revoked = [alerts_of(client, boss, p, rule="passport_revoked") for p in people]
        assert [len(a) for a in revoked] == [1, 1, 1, 0]
        assert {a[0]["severity"] for a in revoked[:3]} == {"high"}
        (notice,) = payloads(outbox(app, hook, "alert.group"))
        assert notice["type"] == "alert.group"
        assert notice["data"]["count"] == 3
        assert notice["data"]["rule"] == "passport_revoked"
        assert notice["data"]["group_key"] == str(first["list_id"])
        assert set(notice["data"]["alert_ids"]) == {a[0]["id"] for a in revoked[:3]}
        ids = {uuid.UUID(a[0]["id"]) for a in revoked[:3]}
        assert [r for r in outbox(app, hook, "alert.created") if r.alert_id in ids] == []
        with db(app) as session:
            keys = set(session.scalars(select(Alert.group_key).where(Alert.id.in_(ids))))
        assert keys == {str(first["list_id"])}

        # The second, overlapping list: only the new match alerts; no duplicates.
        second = self.revoke(client, boss, numbers)
        assert second["matched"] == 4
        counts = [len(alerts_of(client, boss, p, rule="passport_revoked")) for p in people]
        assert counts == [1, 1, 1, 1]
        notices = payloads(outbox(app, hook, "alert.group"))
        assert [n["data"]["count"] for n in notices] == [3, 1]

    def test_one_document_revoked_by_hand(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        document = team.document(worker, person)
        response = client.patch(
            f"{API}/documents/{document['id']}",
            json={"status": "revoked", "status_date": dt.date.today().isoformat()},
            headers=worker.headers,
        )
        assert response.status_code == 200, response.text
        (alert,) = alerts_of(client, worker, person, rule="passport_revoked")
        assert alert["severity"] == "high"


class TestConcurrency:
    def test_two_raises_at_once_open_one_alert(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def raise_one() -> None:
            try:
                with transaction(app.state.sessionmaker) as session:
                    barrier.wait(timeout=10)
                    alerts.raise_alert(
                        session,
                        rule="host_custody",
                        severity="critical",
                        organisation_id=team.organisation.id,
                        summary="Held in custody by a host state",
                        individual_id=person,
                    )
                    time.sleep(0.2)  # hold the transaction open while the other one tries
            except BaseException as exc:  # reported below, in the test's own thread
                errors.append(exc)

        threads = [threading.Thread(target=raise_one) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        with db(app) as session:
            rows = session.scalars(
                select(Alert).where(Alert.individual_id == person, Alert.rule == "host_custody")
            ).all()
        assert [(a.status, a.occurrences) for a in rows] == [("open", 2)]
