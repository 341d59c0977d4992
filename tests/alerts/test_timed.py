"""Rules driven by the clock, with ``now`` injected: escalation, expiring documents and
certificates, overdue check-ins, and what resolves itself; and who is mailed.

These run on a database of their own (the rules sweep every organisation) with e-mail
configured, so notices to people are written too.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.alerts.engine import evaluate_time_rules
from app.db import transaction
from app.main import create_app
from app.models.alert import Alert
from app.models.audit import AuditEntry
from app.models.individual import Individual
from tests.alerts.support import add_webhook, alert_history, alerts_of, detain, outbox, stored
from tests.conftest import database_url, fresh_address, make_settings
from tests.factories import API, Member, Team, db, unique

MINUTE, DAY = dt.timedelta(minutes=1), dt.timedelta(days=1)


@pytest.fixture(scope="module")
def timed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp = tmp_path_factory.mktemp("alerts-timed")
    with database_url(tmp) as url:
        settings = make_settings(
            tmp, url, smtp_url="smtp://mail.example.org:25", escalation_minutes=15
        )
        application = create_app(settings)
        yield application
        application.state.engine.dispose()


@pytest.fixture
def tclient(timed_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(timed_app, client=(fresh_address(), 50000)) as test_client:
        yield test_client


@pytest.fixture
def team(timed_app: FastAPI, tclient: TestClient) -> Team:
    return Team(timed_app, tclient)


def evaluate(app: FastAPI, now: dt.datetime) -> int:
    with transaction(app.state.sessionmaker) as session:
        return evaluate_time_rules(session, now)


def member_with_email(team: Team, role: str) -> Member:
    return team.member(role, email=f"{unique(role)}@example.org")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TestEscalation:
    def test_after_the_window_and_not_before(
        self, timed_app: FastAPI, tclient: TestClient, team: Team
    ) -> None:
        hook = add_webhook(timed_app, team.organisation.id)
        worker = member_with_email(team, "caseworker")
        boss = member_with_email(team, "supervisor")
        quiet_boss = team.member("supervisor")  # no e-mail address
        person = team.person(worker)
        team.case(worker, person)
        alert = detain(team, worker, person)

        created = [r for r in outbox(timed_app, hook) if str(r.alert_id) == alert["id"]]
        assert [r.event for r in created] == ["alert.created"]
        mailed = {r.target_id for r in outbox(timed_app, worker.id)} | {
            r.target_id for r in outbox(timed_app, boss.id)
        }
        assert mailed == {worker.id, boss.id}  # critical: assigned caseworker and supervisors
        assert outbox(timed_app, quiet_boss.id) == []

        raised_at = stored(timed_app, alert["id"]).created_at
        evaluate(timed_app, raised_at + 14 * MINUTE)
        assert stored(timed_app, alert["id"]).escalated_at is None
        assert outbox(timed_app, hook, "alert.escalated") == []

        evaluate(timed_app, raised_at + 16 * MINUTE)
        row = stored(timed_app, alert["id"])
        assert row.escalated_at == raised_at + 16 * MINUTE
        assert row.status == "open"
        (notice,) = outbox(timed_app, hook, "alert.escalated")
        assert str(notice.alert_id) == alert["id"]
        assert [r.channel for r in outbox(timed_app, boss.id, "alert.escalated")] == ["email"]
        assert outbox(timed_app, worker.id, "alert.escalated") == []  # supervisors only
        assert [e.kind for e in alert_history(timed_app, alert["id"])] == [
            "alert.raised",
            "alert.escalated",
        ]
        with db(timed_app) as session:
            actions = session.scalars(
                select(AuditEntry.action).where(AuditEntry.subject_id == person)
            ).all()
        assert "alert.escalate" in actions

        evaluate(timed_app, raised_at + 40 * MINUTE)
        assert len(outbox(timed_app, hook, "alert.escalated")) == 1

    def test_an_acknowledged_alert_does_not_escalate(
        self, timed_app: FastAPI, tclient: TestClient, team: Team
    ) -> None:
        worker = team.member("caseworker")
        alert = detain(team, worker, team.person(worker))
        response = tclient.post(f"{API}/alerts/{alert['id']}/acknowledge", headers=worker.headers)
        assert response.status_code == 200
        evaluate(timed_app, stored(timed_app, alert["id"]).created_at + 60 * MINUTE)
        assert stored(timed_app, alert["id"]).escalated_at is None

    def test_lower_severities_do_not_escalate(
        self, timed_app: FastAPI, tclient: TestClient, team: Team
    ) -> None:

        worker = team.member("caseworker")
        person = team.person(worker)
        team.incident(worker, person, type="travel_ban")
        (alert,) = alerts_of(tclient, worker, person, rule="mobility_or_warrant")
        evaluate(timed_app, stored(timed_app, alert["id"]).created_at + 60 * MINUTE)
        assert stored(timed_app, alert["id"]).escalated_at is None


class TestExpiringDocuments:
    def test_90_then_30_days(self, timed_app: FastAPI, tclient: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker, current_country="THA")
        start = now()
        document = team.document(worker, person, expires_on=(start.date() + 60 * DAY).isoformat())
        evaluate(timed_app, start)
        (alert,) = alerts_of(tclient, worker, person, rule="document_expiring")
        assert (alert["severity"], alert["status"]) == ("medium", "open")
        assert stored(timed_app, alert["id"]).subject_id == uuid.UUID(document["id"])
        evaluate(timed_app, start + MINUTE)  # the engine runs often: nothing new
        (alert,) = alerts_of(tclient, worker, person, rule="document_expiring")
        assert alert["occurrences"] == 1

        evaluate(timed_app, start + 31 * DAY)
        (urgent,) = alerts_of(tclient, worker, person, rule="document_expiring")
        assert urgent["id"] == alert["id"]
        assert (urgent["severity"], urgent["occurrences"]) == ("high", 2)

    def test_nothing_while_at_home(
        self, timed_app: FastAPI, tclient: TestClient, team: Team
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker, current_country="KHM")
        team.document(worker, person, expires_on=(now().date() + 20 * DAY).isoformat())
        evaluate(timed_app, now())
        assert alerts_of(tclient, worker, person, rule="document_expiring") == []

    def test_far_from_expiry(self, timed_app: FastAPI, tclient: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker, current_country="THA")
        team.document(worker, person, expires_on=(now().date() + 200 * DAY).isoformat())
        evaluate(timed_app, now())
        assert alerts_of(tclient, worker, person, rule="document_expiring") == []

    def test_expired_passport_abroad(
        self, timed_app: FastAPI, tclient: TestClient, team: Team
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker, current_country="MYS")
        expires = now().date() + 10 * DAY
        team.document(worker, person, expires_on=expires.isoformat())
        evaluate(timed_app, now())
        (expiring,) = alerts_of(tclient, worker, person, rule="document_expiring")
        evaluate(timed_app, now() + 12 * DAY)
        (expired,) = alerts_of(tclient, worker, person, rule="passport_expired")
        assert (expired["severity"], expired["status"]) == ("high", "open")
        (expiring,) = alerts_of(tclient, worker, person, rule="document_expiring")
        assert expiring["status"] == "resolved"  # superseded: the condition cleared

    def test_a_resolved_notice_stays_resolved(
        self, timed_app: FastAPI, tclient: TestClient, team: Team
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker, current_country="THA")
        start = now()
        team.document(worker, person, expires_on=(start.date() + 80 * DAY).isoformat())
        evaluate(timed_app, start)
        (notice,) = alerts_of(tclient, worker, person, rule="document_expiring")
        response = tclient.post(
            f"{API}/alerts/{notice['id']}/resolve",
            json={"note": "Renewal appointment booked at the embassy."},
            headers=worker.headers,
        )
        assert response.status_code == 200
        evaluate(timed_app, start + DAY)
        statuses = [
            a["status"] for a in alerts_of(tclient, worker, person, rule="document_expiring")
        ]
        assert statuses == ["resolved"]
        evaluate(timed_app, start + 55 * DAY)  # 25 days left: more urgent, a new alert
        fresh = alerts_of(tclient, worker, person, rule="document_expiring", status="open")
        assert [a["severity"] for a in fresh] == ["high"]

    def test_revocation_mutes_and_clears_the_expiry_alert(
        self, timed_app: FastAPI, tclient: TestClient, team: Team
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker, current_country="THA")
        document = team.document(worker, person, expires_on=(now().date() + 40 * DAY).isoformat())
        evaluate(timed_app, now())
        response = tclient.patch(
            f"{API}/documents/{document['id']}",
            json={"status": "revoked", "status_date": now().date().isoformat()},
            headers=worker.headers,
        )
        assert response.status_code == 200, response.text
        (revoked,) = alerts_of(tclient, worker, person, rule="passport_revoked")
        (expiring,) = alerts_of(tclient, worker, person, rule="document_expiring")
        assert expiring["inhibited"] is True
        assert stored(timed_app, expiring["id"]).inhibited_by == uuid.UUID(revoked["id"])
        evaluate(timed_app, now())
        (expiring,) = alerts_of(tclient, worker, person, rule="document_expiring")
        assert expiring["status"] == "resolved"

    def test_custody_mutes_a_later_expiry_alert(
        self, timed_app: FastAPI, tclient: TestClient, team: Team
    ) -> None:
        hook = add_webhook(timed_app, team.organisation.id)
        worker = team.member("caseworker")
        person = team.person(worker, current_country="THA")
        custody = detain(team, worker, person)
        team.document(worker, person, expires_on=(now().date() + 20 * DAY).isoformat())
        evaluate(timed_app, now())
        (expiring,) = alerts_of(tclient, worker, person, rule="document_expiring")
        assert expiring["inhibited"] is True
        assert stored(timed_app, expiring["id"]).inhibited_by == uuid.UUID(custody["id"])
        assert [r for r in outbox(timed_app, hook) if str(r.alert_id) == expiring["id"]] == []


class TestUnhcrCertificate:
    def test_expiring_certificate(
        self, timed_app: FastAPI, tclient: TestClient, team: Team
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        start = now()
        response = tclient.post(
            f"{API}/individuals/{person}/unhcr-status",
            json={
                "status": "person_of_concern",
                "effective_date": (start.date() - 300 * DAY).isoformat(),
                "expires_on": (start.date() + 70 * DAY).isoformat(),
            },
            headers=worker.headers,
        )
        assert response.status_code == 201, response.text
        evaluate(timed_app, start)
        (alert,) = alerts_of(tclient, worker, person, rule="unhcr_certificate_expiring")
        assert alert["severity"] == "medium"
        evaluate(timed_app, start + 45 * DAY)
        (alert,) = alerts_of(tclient, worker, person, rule="unhcr_certificate_expiring")
        assert alert["severity"] == "high"

        renewed = tclient.post(
            f"{API}/individuals/{person}/unhcr-status",
            json={
                "status": "person_of_concern",
                "effective_date": start.date().isoformat(),
                "expires_on": (start.date() + 700 * DAY).isoformat(),
            },
            headers=worker.headers,
        )
        assert renewed.status_code == 201
        evaluate(timed_app, start + 46 * DAY)
        (alert,) = alerts_of(tclient, worker, person, rule="unhcr_certificate_expiring")
        assert alert["status"] == "resolved"


class TestCheckIns:
    def set_last_check_in(self, app: FastAPI, person: uuid.UUID, at: dt.datetime) -> None:
        with db(app) as session:
            session.execute(
                update(Individual).where(Individual.id == person).values(last_check_in_at=at)
            )

    def test_overdue_check_in(self, timed_app: FastAPI, tclient: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        response = tclient.patch(
            f"{API}/individuals/{person}", json={"check_in_every_hours": 48}, headers=worker.headers
        )
        assert response.status_code == 200, response.text
        self.set_last_check_in(timed_app, person, now() - dt.timedelta(hours=47))
        evaluate(timed_app, now())
        assert alerts_of(tclient, worker, person, rule="check_in_overdue") == []

        self.set_last_check_in(timed_app, person, now() - dt.timedelta(hours=50))
        evaluate(timed_app, now())
        evaluate(timed_app, now())
        (alert,) = alerts_of(tclient, worker, person, rule="check_in_overdue")
        assert (alert["severity"], alert["status"], alert["occurrences"]) == ("high", "open", 1)

        checked = tclient.post(
            f"{API}/individuals/{person}/check-ins",
            json={"channel": "phone"},
            headers=worker.headers,
        )
        assert checked.status_code == 201, checked.text
        evaluate(timed_app, now())
        (alert,) = alerts_of(tclient, worker, person, rule="check_in_overdue")
        assert alert["status"] == "resolved"
        assert [e.kind for e in alert_history(timed_app, alert["id"])] == [
            "alert.raised",
            "alert.resolved",
        ]

    def test_erased_people_are_not_checked(
        self, timed_app: FastAPI, tclient: TestClient, team: Team
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        tclient.patch(
            f"{API}/individuals/{person}", json={"check_in_every_hours": 24}, headers=worker.headers
        )
        self.set_last_check_in(timed_app, person, now() - 3 * DAY)
        with db(timed_app) as session:
            session.execute(
                update(Individual).where(Individual.id == person).values(erased_at=now())
            )
        evaluate(timed_app, now())
        with db(timed_app) as session:
            assert session.scalars(select(Alert).where(Alert.individual_id == person)).all() == []


class TestEmail:
    """Who is mailed when HAVEN_SMTP_URL is set (this module's app has it)."""

    def test_high_alerts_are_not_mailed(
        self, timed_app: FastAPI, tclient: TestClient, team: Team
    ) -> None:

        worker = member_with_email(team, "caseworker")
        boss = member_with_email(team, "supervisor")
        person = team.person(worker)
        team.case(worker, person)
        team.incident(worker, person, type="public_denunciation")
        assert outbox(timed_app, worker.id) == []
        assert outbox(timed_app, boss.id) == []

    def test_emergency_access_mails_supervisors(
        self, timed_app: FastAPI, tclient: TestClient, team: Team
    ) -> None:
        owner = member_with_email(team, "caseworker")
        intruder = member_with_email(team, "caseworker")
        boss = member_with_email(team, "supervisor")
        person = team.person(owner)
        case = team.case(owner, person)
        response = tclient.post(
            f"{API}/cases/{case['id']}/break-glass",
            json={"reason": "Detained tonight; the assigned caseworker cannot be reached."},
            headers=intruder.headers,
        )
        assert response.status_code in (200, 201), response.text
        (mail,) = outbox(timed_app, boss.id)
        assert (mail.channel, mail.event) == ("email", "alert.created")
        assert json.loads(mail.payload)["data"]["rule"] == "break_glass"
        assert outbox(timed_app, owner.id) == []
        assert outbox(timed_app, intruder.id) == []

    def test_a_repeat_is_not_mailed_again(
        self, timed_app: FastAPI, tclient: TestClient, team: Team
    ) -> None:

        boss = member_with_email(team, "supervisor")
        worker = team.member("caseworker")
        person = team.person(worker)
        custody = detain(team, worker, person)
        team.incident(worker, person, type="arrest")
        mails = [r for r in outbox(timed_app, boss.id) if str(r.alert_id) == custody["id"]]
        assert [(r.channel, r.event) for r in mails] == [("email", "alert.created")]
