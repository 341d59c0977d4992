"""Incidents raise alerts: the rule and severity by type, dedup, backfill, inhibition."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.alerts.support import (
    INCIDENT_RULES,
    add_webhook,
    alert_history,
    alerts_of,
    detain,
    outbox,
)
from tests.factories import Team


class TestRulesByIncidentType:
    @pytest.mark.parametrize(
        ("incident_type", "rule", "severity"),
        [
            ("detention", "host_custody", "critical"),
            ("arrest", "host_custody", "critical"),
            ("deportation_order", "removal_order", "critical"),
            ("forced_return", "forced_return", "critical"),
            ("physical_attack", "attack_or_abduction", "critical"),
            ("abduction_attempt", "attack_or_abduction", "critical"),
            ("arrest_warrant", "mobility_or_warrant", "high"),
            ("travel_ban", "mobility_or_warrant", "high"),
            ("denial_of_entry", "mobility_or_warrant", "high"),
            ("public_denunciation", "publicly_named", "high"),
            ("disappearance", "disappearance", "critical"),
        ],
    )
    def test_alerting_types(
        self, client: TestClient, team: Team, incident_type: str, rule: str, severity: str
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker, current_country="THA")
        team.incident(worker, person, type=incident_type)
        found = [a for a in alerts_of(client, worker, person) if a["rule"] in INCIDENT_RULES]
        assert [(a["rule"], a["severity"], a["status"]) for a in found] == [
            (rule, severity, "open")
        ]
        assert found[0]["summary"] and "Suan Phlu" not in found[0]["summary"]

    @pytest.mark.parametrize(
        "incident_type", ["surveillance", "threat", "release", "criminal_charge"]
    )
    def test_types_without_an_alert(
        self, client: TestClient, team: Team, incident_type: str
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        team.incident(worker, person, type=incident_type)
        assert [a for a in alerts_of(client, worker, person) if a["rule"] in INCIDENT_RULES] == []

    def test_custody_in_the_origin_state_is_not_host_custody(
        self, client: TestClient, team: Team
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker, nationalities=["KHM"])
        team.incident(worker, person, type="detention", country="KHM")
        assert alerts_of(client, worker, person, rule="host_custody") == []

    def test_each_person_named_gets_an_alert(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        first, second = team.person(worker), team.person(worker)
        team.incident(worker, first, second, type="forced_return")
        for person in (first, second):
            (alert,) = alerts_of(client, worker, person, rule="forced_return")
            assert alert["individual_id"] == str(person)

    def test_the_most_recent_open_case_is_linked(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)

        team.case(worker, person)
        latest = team.case(worker, person)
        alert = detain(team, worker, person)
        assert alert["case_id"] == latest["id"]


class TestBackfill:
    def test_an_old_detention_with_no_release_stays_acute(
        self, client: TestClient, team: Team
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        long_ago = (dt.date.today() - dt.timedelta(days=45)).isoformat()
        team.incident(worker, person, occurred_on=long_ago)
        (alert,) = alerts_of(client, worker, person, rule="host_custody")
        assert alert["severity"] == "critical"

    def test_an_old_detention_already_ended_is_not_urgent(
        self, client: TestClient, team: Team
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        long_ago = (dt.date.today() - dt.timedelta(days=45)).isoformat()
        released = (dt.date.today() - dt.timedelta(days=44)).isoformat()
        team.incident(worker, person, type="release", occurred_on=released)
        team.incident(worker, person, occurred_on=long_ago)
        (alert,) = alerts_of(client, worker, person, rule="host_custody")
        assert alert["severity"] == "info"
        assert alert["summary"].endswith("(backfilled)")

    def test_a_month_old_detention_still_alerts(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        recent = (dt.date.today() - dt.timedelta(days=30)).isoformat()
        team.incident(worker, person, occurred_on=recent)
        (alert,) = alerts_of(client, worker, person, rule="host_custody")
        assert alert["severity"] == "critical"

    def test_a_live_report_raises_a_backfilled_alert(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        long_ago = (dt.date.today() - dt.timedelta(days=60)).isoformat()
        team.incident(worker, person, occurred_on=long_ago)
        team.incident(worker, person)
        (alert,) = alerts_of(client, worker, person, rule="host_custody")
        assert (alert["severity"], alert["occurrences"]) == ("critical", 2)


class TestDedup:
    def test_the_same_detention_twice_updates_one_alert(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        first = detain(team, worker, person)
        team.incident(worker, person, type="arrest")  # a second source, same threat
        (alert,) = alerts_of(client, worker, person, rule="host_custody")
        assert alert["id"] == first["id"]
        assert alert["occurrences"] == 2
        assert alert["dedup_key"] == first["dedup_key"]
        assert alert["updated_at"] > first["updated_at"]
        assert alert["created_at"] == first["created_at"]
        entries = alert_history(app, alert["id"])
        assert [e.kind for e in entries] == ["alert.raised", "alert.updated"]
        assert [e.summary for e in entries] == [
            "Alert raised: host_custody (critical)",
            "Alert updated: host_custody (critical)",
        ]
        assert all(e.individual_id == person for e in entries)

    def test_a_repeat_notifies_as_an_update(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        hook = add_webhook(app, team.organisation.id)
        worker = team.member("caseworker")
        person = team.person(worker)
        detain(team, worker, person)
        team.incident(worker, person)
        events = [row.event for row in outbox(app, hook) if row.event.startswith("alert.")]
        assert events.count("alert.created") >= 1
        assert "alert.updated" in events

    def test_a_new_alert_after_resolution(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        first = detain(team, worker, person)
        resolved = client.post(
            f"/api/v1/alerts/{first['id']}/resolve",
            json={"note": "Released the same day."},
            headers=worker.headers,
        )
        assert resolved.status_code == 200, resolved.text
        second = detain(team, worker, person)
        assert second["id"] != first["id"]
        assert second["occurrences"] == 1
        assert second["dedup_key"] == first["dedup_key"]
        statuses = {a["id"]: a["status"] for a in alerts_of(client, worker, person)}
        assert statuses[first["id"]] == "resolved"
        assert statuses[second["id"]] == "open"


class TestInhibition:
    def test_custody_mutes_a_later_lower_alert(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        hook = add_webhook(app, team.organisation.id)
        worker = team.member("caseworker")
        person = team.person(worker)
        custody = detain(team, worker, person)
        team.incident(worker, person, type="public_denunciation")
        (named,) = alerts_of(client, worker, person, rule="publicly_named")
        assert named["inhibited"] is True
        assert named["severity"] == "high"
        detail = client.get(f"/api/v1/alerts/{named['id']}", headers=worker.headers).json()
        assert detail["inhibited_by"] == custody["id"]
        assert [r for r in outbox(app, hook) if r.alert_id and str(r.alert_id) == named["id"]] == []
        assert [e.summary for e in alert_history(app, named["id"])] == [
            "Alert raised: publicly_named (high) (muted)"
        ]

    def test_a_critical_alert_is_not_muted(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        detain(team, worker, person)
        team.incident(worker, person, type="deportation_order")
        (removal,) = alerts_of(client, worker, person, rule="removal_order")
        assert removal["inhibited"] is False

    def test_custody_mutes_alerts_already_open(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        team.incident(worker, person, type="travel_ban")
        (ban,) = alerts_of(client, worker, person, rule="mobility_or_warrant")
        assert ban["inhibited"] is False
        detain(team, worker, person)
        (ban,) = alerts_of(client, worker, person, rule="mobility_or_warrant")
        assert ban["inhibited"] is True

    def test_resolving_the_custody_alert_unmutes(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        custody = detain(team, worker, person)
        team.incident(worker, person, type="arrest_warrant")
        response = client.post(
            f"/api/v1/alerts/{custody['id']}/resolve",
            json={"note": "Released; warrant remains."},
            headers=worker.headers,
        )
        assert response.status_code == 200
        (warrant,) = alerts_of(client, worker, person, rule="mobility_or_warrant")
        assert warrant["inhibited"] is False

    def test_other_people_are_not_muted(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        held, free = team.person(worker), team.person(worker)
        detain(team, worker, held)
        team.incident(worker, free, type="public_denunciation")
        (named,) = alerts_of(client, worker, free, rule="publicly_named")
        assert named["inhibited"] is False
