"""The alert-raising scenarios of MISSION.md (1 to 9), end to end through the API.

Each asserts the rule, its severity, what a repeat does (dedup) and the timeline entries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.alerts.engine import evaluate_time_rules
from app.db import transaction
from tests.test_scenarios import Office, day


@pytest.fixture
def office(app: FastAPI, client: TestClient) -> Office:
    return Office(app, client)


def alerts(office: Office, person: str, **params: Any) -> list[dict[str, Any]]:
    return office.get("supervisor", "/alerts", individual_id=person, **params)["items"]


def kinds(office: Office, case: str) -> list[str]:
    return [e["kind"] for e in office.get("supervisor", f"/cases/{case}/history")["entries"]]


def test_scenario_1_each_revoked_passport_alerts_once(office: Office) -> None:
    people, numbers = [], []
    for i in range(4):
        pid = office.person()
        number = f"R{dt.datetime.now().microsecond:06d}{i}"
        office.post(
            "caseworker",
            f"/individuals/{pid}/documents",
            {"type": "passport", "number": number, "issuing_country": "KHM", "status": "valid"},
        )
        people.append(pid)
        numbers.append(number)
    body = {"issuing_country": "KHM", "effective_date": day(3), "source": "Decree"}
    office.post("supervisor", "/documents/revocations", body | {"numbers": numbers[:2]}, 200)
    office.post("supervisor", "/documents/revocations", body | {"numbers": numbers}, 200)
    for pid in people:
        revoked = [a for a in alerts(office, pid) if a["rule"] == "passport_revoked"]
        assert len(revoked) == 1 and revoked[0]["severity"] == "high"


def test_scenario_2_airport_detention_acknowledged_and_resolved(office: Office) -> None:
    deputy = office.person(nationalities=["KHM", "USA"], current_country="MYS")
    case = office.post("caseworker", "/cases", {"individual_id": deputy})["id"]
    office.incident("detention", 0, "MYS", [deputy])
    (alert,) = [a for a in alerts(office, deputy) if a["rule"] == "host_custody"]
    assert alert["severity"] == "critical" and alert["status"] == "open"
    office.post("caseworker", f"/alerts/{alert['id']}/acknowledge", {}, 200)
    office.incident("release", 0, "MYS", [deputy])
    office.post(
        "caseworker", f"/alerts/{alert['id']}/resolve", {"note": "Released the same day."}, 200
    )
    assert alerts(office, deputy, status="resolved")[0]["id"] == alert["id"]
    history = kinds(office, case)
    for kind in ("alert.raised", "alert.acknowledged", "alert.resolved"):
        assert kind in history


def test_scenario_3_unacknowledged_custody_escalates(app: FastAPI, office: Office) -> None:
    pair = [office.person(), office.person()]
    office.incident("detention", 2, "THA", pair)
    office.incident("deportation_order", 1, "THA", pair)
    office.incident("detention", 2, "THA", pair)  # the same detention reported again
    for pid in pair:
        found = {a["rule"]: a for a in alerts(office, pid)}
        assert found["host_custody"]["severity"] == "critical"
        assert found["host_custody"]["occurrences"] == 2
        assert found["removal_order"]["severity"] == "critical"
    created = dt.datetime.fromisoformat(
        alerts(office, pair[0])[0]["created_at"].replace("Z", "+00:00")
    )
    with transaction(app.state.sessionmaker) as session:
        evaluate_time_rules(session, created + dt.timedelta(minutes=5))
    assert all(a["status"] == "open" for a in alerts(office, pair[0]))
    with transaction(app.state.sessionmaker) as session:
        evaluate_time_rules(session, created + dt.timedelta(minutes=16))
    case = office.case_with_counsel(pair[0])
    assert "alert.escalated" in kinds(office, case)


def test_scenario_4_attack_is_critical_and_recognition_does_not_make_it_low(office: Office) -> None:
    activist = office.person()
    office.incident("abduction_attempt", 1, "THA", [activist])
    office.post(
        "caseworker",
        f"/individuals/{activist}/unhcr-status",
        {"status": "person_of_concern", "effective_date": day(0)},
    )
    (alert,) = [a for a in alerts(office, activist) if a["rule"] == "attack_or_abduction"]
    assert alert["severity"] == "critical"
    risk = office.get("caseworker", f"/individuals/{activist}/risk")
    assert risk["level"] != "low"


def test_scenario_5_forced_return_is_critical(office: Office) -> None:
    couple = [office.person(), office.person()]
    office.incident("arrest", 3, "THA", couple)
    office.incident("forced_return", 2, "THA", couple)
    for pid in couple:
        found = {a["rule"]: a for a in alerts(office, pid)}
        assert found["forced_return"]["severity"] == "critical"
        assert office.get("caseworker", f"/individuals/{pid}/risk")["level"] == "critical"


def test_scenario_6_warrants_and_travel_bans_raise_risk(office: Office) -> None:
    leader = office.person(current_country="MYS")
    before = office.get("caseworker", f"/individuals/{leader}/risk")["score"]
    office.incident("arrest_warrant", 2, "KHM", [leader])
    office.incident("travel_ban", 1, "KHM", [leader])
    after = office.get("caseworker", f"/individuals/{leader}/risk")
    assert after["score"] > before
    assert {f["code"] for f in after["factors"]} >= {"ORIGIN_WARRANT_ABROAD", "MOBILITY_CONTROL"}
    assert any(a["severity"] == "high" for a in alerts(office, leader))


def test_scenario_7_a_name_on_a_published_list_alerts(office: Office) -> None:
    name = f"Listed Person {dt.datetime.now().microsecond}"
    pid = office.person(full_name=name)
    office.post(
        "supervisor",
        "/lists/match",
        {"names": [name, "Nobody We Know"], "source": "State TV", "published_on": day(1)},
        200,
    )
    (alert,) = [a for a in alerts(office, pid) if a["rule"] == "list_match"]
    assert alert["severity"] == "high"


def test_scenario_8_an_overdue_check_in_alerts(app: FastAPI, office: Office) -> None:
    workers = [office.person(check_in_every_hours=24) for _ in range(2)]
    office.incident("arrest", 1, "THA", workers, description="Interrogated for hours.")
    with transaction(app.state.sessionmaker) as session:
        evaluate_time_rules(session, dt.datetime.now(dt.UTC) + dt.timedelta(hours=30))
    for pid in workers:
        assert [a for a in alerts(office, pid) if a["rule"] == "check_in_overdue"]


def test_scenario_9_a_country_event_reassesses_everyone_of_the_profile(office: Office) -> None:
    affiliation = f"Party {dt.datetime.now().microsecond}"
    members = [office.person(affiliation=affiliation) for _ in range(3)]
    result = office.post(
        "supervisor",
        "/country-events",
        {
            "country": "KHM",
            "kind": "death_in_custody",
            "occurred_on": day(0),
            "description": "A death in custody.",
            "affects": {"affiliation": affiliation},
        },
    )
    assert result["reassessed"] == 3
    for pid in members:
        assert [a for a in alerts(office, pid) if a["rule"] == "country_event"]
        codes = {f["code"] for f in office.get("caseworker", f"/individuals/{pid}/risk")["factors"]}
        assert "COUNTRY_EVENT" in codes
