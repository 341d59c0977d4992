"""/alerts: the inbox, one alert, acknowledge and resolve, and who sees what."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.alerts.support import (
    add_webhook,
    alert_history,
    alerts_of,
    detain,
    outbox,
    payloads,
    stored,
)
from tests.cases.support import audit_actions
from tests.factories import API, Member, Team


def ack(client: TestClient, who: Member, alert_id: str) -> object:
    return client.post(f"{API}/alerts/{alert_id}/acknowledge", headers=who.headers)


def resolve(client: TestClient, who: Member, alert_id: str, note: str = "Released.") -> object:
    return client.post(f"{API}/alerts/{alert_id}/resolve", json={"note": note}, headers=who.headers)


class TestListAlerts:
    def test_fields(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        alert = detain(team, worker, person)
        assert set(alert) == {
            "id",
            "rule",
            "severity",
            "status",
            "individual_id",
            "case_id",
            "summary",
            "created_at",
            "dedup_key",
            "occurrences",
            "updated_at",
            "inhibited",
        }
        assert (alert["rule"], alert["severity"], alert["status"]) == (
            "host_custody",
            "critical",
            "open",
        )
        assert alert["individual_id"] == str(person)
        assert len(alert["dedup_key"]) == 64

    def test_most_severe_first_then_newest(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        first, second, third = (team.person(worker) for _ in range(3))
        team.incident(worker, first, type="travel_ban")
        team.incident(worker, second, type="detention")
        team.incident(worker, third, type="public_denunciation")
        mine = {str(first), str(second), str(third)}
        response = client.get(f"{API}/alerts", headers=worker.headers)
        items = [
            (i["rule"], i["individual_id"])
            for i in response.json()["items"]
            if i["individual_id"] in mine and i["rule"] != "risk_escalated"
        ]
        assert items == [
            ("host_custody", str(second)),
            ("publicly_named", str(third)),
            ("mobility_or_warrant", str(first)),
        ]

    def test_filters(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        custody = detain(team, worker, person)
        team.incident(worker, person, type="deportation_order")
        assert ack(client, worker, custody["id"]).status_code == 200
        opened = alerts_of(client, worker, person, status="open", severity="critical")
        assert [a["rule"] for a in opened if a["rule"] != "risk_escalated"] == ["removal_order"]
        acknowledged = alerts_of(client, worker, person, status="acknowledged")
        assert [a["id"] for a in acknowledged] == [custody["id"]]

    def test_pages(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        people = [team.person(worker) for _ in range(3)]
        for person in people:
            team.incident(worker, person, type="travel_ban")
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, "severity": "high", **({"cursor": cursor} if cursor else {})}
            page = client.get(f"{API}/alerts", params=params, headers=worker.headers).json()
            seen += [i["id"] for i in page["items"] if i["rule"] == "mobility_or_warrant"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 3

    @pytest.mark.parametrize(
        "params",
        [{"severity": "urgent"}, {"status": "closed"}, {"cursor": "nonsense"}, {"limit": 0}],
    )
    def test_bad_parameters_are_422(
        self, client: TestClient, team: Team, params: dict[str, object]
    ) -> None:
        worker = team.member("caseworker")
        response = client.get(f"{API}/alerts", params=params, headers=worker.headers)
        assert response.status_code == 422


class TestGetAlert:
    def test_detail(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        alert = detain(team, worker, person)
        response = client.get(f"{API}/alerts/{alert['id']}", headers=worker.headers)
        assert response.status_code == 200
        detail = response.json()
        assert detail["id"] == alert["id"]
        assert detail["acknowledged_at"] is None and detail["resolution_note"] is None

    def test_unknown_is_404(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        response = client.get(f"{API}/alerts/{uuid.uuid4()}", headers=worker.headers)
        assert response.status_code == 404


class TestLifecycle:
    def test_acknowledge_then_resolve(self, client: TestClient, team: Team, app: FastAPI) -> None:
        worker, boss, counsel = (
            team.member("caseworker"),
            team.member("supervisor"),
            team.member("lawyer"),
        )
        person = team.person(worker)
        case = team.case(worker, person)
        assert team.assign(worker, case["id"], counsel, "lawyer").status_code == 201
        alert = detain(team, worker, person)
        assert alert["case_id"] == case["id"]

        acked = ack(client, worker, alert["id"])
        assert acked.status_code == 200, acked.text
        body = acked.json()
        assert body["status"] == "acknowledged"
        assert body["acknowledged_by"] == str(worker.id)
        again = ack(client, boss, alert["id"])
        assert again.status_code == 200 and again.json()["acknowledged_by"] == str(worker.id)

        done = resolve(client, boss, alert["id"], "Released the same day; no charges.")
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "resolved"
        assert done.json()["resolved_by"] == str(boss.id)
        assert done.json()["resolution_note"] == "Released the same day; no charges."

        assert [e.kind for e in alert_history(app, alert["id"])] == [
            "alert.raised",
            "alert.acknowledged",
            "alert.resolved",
        ]
        history = client.get(f"{API}/cases/{case['id']}/history", headers=counsel.headers)
        assert history.status_code == 200
        entries = [e for e in history.json()["entries"] if e["kind"].startswith("alert.")]
        assert [e["kind"] for e in entries if e["summary"].endswith("host_custody (critical)")] == [
            "alert.raised",
            "alert.acknowledged",
            "alert.resolved",
        ]
        assert entries[-1]["changes"]["note"] == "Released the same day; no charges."
        actions = [e.action for e in audit_actions(app, person) if alert["id"] in (e.details or "")]
        assert actions == ["alert.raise", "alert.acknowledge", "alert.resolve"]

    def test_the_note_is_sealed(self, client: TestClient, team: Team, app: FastAPI) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        alert = detain(team, worker, person)
        note = "Released at Suan Phlu after the embassy called."
        assert resolve(client, worker, alert["id"], note).status_code == 200
        row = stored(app, alert["id"])
        assert row.resolution_note_ct is not None
        assert b"Suan Phlu" not in row.resolution_note_ct

    def test_resolved_alerts_cannot_change(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        alert = detain(team, worker, team.person(worker))
        assert resolve(client, worker, alert["id"]).status_code == 200
        assert resolve(client, worker, alert["id"]).status_code == 409
        assert ack(client, worker, alert["id"]).status_code == 409

    @pytest.mark.parametrize("note", ["", "   ", "x" * 2001])
    def test_note_is_required_and_bounded(self, client: TestClient, team: Team, note: str) -> None:
        worker = team.member("caseworker")
        alert = detain(team, worker, team.person(worker))
        response = resolve(client, worker, alert["id"], note)
        assert response.status_code == 422
        assert ack(client, worker, alert["id"]).status_code == 200  # untouched: still open

    def test_notices_for_each_step(self, client: TestClient, team: Team, app: FastAPI) -> None:
        hook = add_webhook(
            app, team.organisation.id, ["alert.created", "alert.acknowledged", "alert.resolved"]
        )
        worker = team.member("caseworker")
        alert = detain(team, worker, team.person(worker))
        ack(client, worker, alert["id"])
        resolve(client, worker, alert["id"])
        mine = [r for r in outbox(app, hook) if str(r.alert_id) == alert["id"]]
        assert [r.event for r in mine] == ["alert.created", "alert.acknowledged", "alert.resolved"]
        assert [p["data"]["status"] for p in payloads(mine)] == ["open", "acknowledged", "resolved"]
        assert all(r.channel == "webhook" and r.status == "pending" for r in mine)


class TestScope:
    def test_others_see_nothing(self, client: TestClient, team: Team, app: FastAPI) -> None:
        worker, colleague = team.member("caseworker"), team.member("caseworker")
        stranger = team.elsewhere().member("supervisor")
        alert = detain(team, worker, team.person(worker))
        for outsider in (colleague, stranger):
            listed = client.get(f"{API}/alerts", headers=outsider.headers).json()["items"]
            assert alert["id"] not in {i["id"] for i in listed}
            path = f"{API}/alerts/{alert['id']}"
            assert client.get(path, headers=outsider.headers).status_code == 404
            assert ack(client, outsider, alert["id"]).status_code == 404
            assert resolve(client, outsider, alert["id"]).status_code == 404
        assert stored(app, alert["id"]).status == "open"

    def test_supervisor_sees_the_organisation(self, client: TestClient, team: Team) -> None:
        worker, boss = team.member("caseworker"), team.member("supervisor")
        alert = detain(team, worker, team.person(worker))
        assert ack(client, boss, alert["id"]).status_code == 200

    def test_lawyer_reads_but_does_not_handle(self, client: TestClient, team: Team) -> None:
        worker, counsel = team.member("caseworker"), team.member("lawyer")
        person = team.person(worker)
        case = team.case(worker, person)
        alert = detain(team, worker, person)
        assert alerts_of(client, counsel, person) == []
        assert team.assign(worker, case["id"], counsel, "lawyer").status_code == 201
        assert [a["id"] for a in alerts_of(client, counsel, person, rule="host_custody")] == [
            alert["id"]
        ]
        assert ack(client, counsel, alert["id"]).status_code == 403

    def test_service_key_reads_ids_only(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        key = team.monitor
        alert = detain(team, worker, team.person(worker))
        listed = client.get(f"{API}/alerts", headers=key).json()["items"]
        assert alert["id"] in {i["id"] for i in listed}
        resolve(client, worker, alert["id"], "Released after the embassy called.")
        detail = client.get(f"{API}/alerts/{alert['id']}", headers=key).json()
        assert detail["resolution_note"] is None
        assert (
            client.post(f"{API}/alerts/{alert['id']}/acknowledge", headers=key).status_code == 403
        )
        other = team.elsewhere().member("caseworker")
        theirs = detain(team, other, team.person(other))
        assert client.get(f"{API}/alerts/{theirs['id']}", headers=key).status_code == 404


class TestBreakGlass:
    def test_supervisors_alone_see_it(self, client: TestClient, team: Team, app: FastAPI) -> None:
        owner, intruder, boss = (
            team.member("caseworker"),
            team.member("caseworker"),
            team.member("supervisor"),
        )
        person = team.person(owner)
        case = team.case(owner, person)
        response = client.post(
            f"{API}/cases/{case['id']}/break-glass",
            json={"reason": "Detained tonight; the assigned caseworker cannot be reached."},
            headers=intruder.headers,
        )
        assert response.status_code in (200, 201), response.text
        (alert,) = alerts_of(client, boss, person, rule="break_glass")
        assert (alert["severity"], alert["case_id"]) == ("high", case["id"])
        assert alert["summary"] == "Emergency access opened to a case"
        assert alerts_of(client, intruder, person, rule="break_glass") == []
        assert alerts_of(client, owner, person, rule="break_glass") == []
        assert ack(client, intruder, alert["id"]).status_code == 404
        assert resolve(client, boss, alert["id"], "Justified: detention.").status_code == 200


def test_unauthenticated_is_401(client: TestClient) -> None:
    assert client.get(f"{API}/alerts").status_code == 401
    assert client.post(f"{API}/alerts/{uuid.uuid4()}/acknowledge").status_code == 401


def test_alerts_about_staff_reach_supervisors_not_service_keys(
    client: TestClient, team: Team
) -> None:
    monitor = team.monitor  # creating the key raises api_key_created to the supervisors
    supervisor_sees = client.get(f"{API}/alerts", headers=team.supervisor.headers).json()["items"]
    assert "api_key_created" in {a["rule"] for a in supervisor_sees}
    response = client.get(f"{API}/alerts", headers=monitor)
    assert response.status_code == 200, response.text
    rules_seen = {a["rule"] for a in response.json()["items"]}
    assert not rules_seen & {"api_key_created", "role_granted", "mfa_reset", "break_glass"}
