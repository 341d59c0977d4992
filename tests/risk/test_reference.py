"""Country reference data: the shipped file, administrators' overrides, and the sweep that
reassesses people when time passes or the reference changes. On a database of its own: an
override changes the reference for the whole deployment."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.models.history import HistoryEntry
from app.models.risk import RiskAssessment
from app.risk import reference, service
from tests.factories import API, Member, Team, db

COUNTRIES = f"{API}/reference/countries"


@dataclass
class Deployment:
    app: FastAPI
    client: TestClient
    team: Team
    admin: Member
    worker: Member


@pytest.fixture
def deployment(fresh_database: Callable[..., FastAPI]) -> Iterator[Deployment]:
    app = fresh_database()
    with TestClient(app) as client:
        team = Team(app, client)
        yield Deployment(app, client, team, team.member("admin"), team.member("caseworker"))


def codes(d: Deployment, person: uuid.UUID) -> set[str]:
    body = d.client.get(f"{API}/individuals/{person}/risk", headers=d.worker.headers).json()
    return {f["code"] for f in body["factors"]}


def put(d: Deployment, code: str, body: dict[str, Any], who: Member | None = None) -> Any:
    return d.client.put(f"{COUNTRIES}/{code}", json=body, headers=(who or d.admin).headers)


def sweep(d: Deployment, now: dt.datetime | None = None) -> int:
    with db(d.app) as session:
        return service.sweep(session, now or dt.datetime.now(dt.UTC))


def test_shipped_data_covers_asean_and_the_seed_states() -> None:
    data = reference.shipped()
    asean = {"BRN", "KHM", "IDN", "LAO", "MYS", "MMR", "PHL", "SGP", "THA", "TLS", "VNM"}
    assert asean | {"FRA", "USA"} <= data["countries"].keys()
    parties = {c for c, row in data["countries"].items() if c in asean and row["party_1951"]}
    assert parties == {"KHM", "PHL", "TLS"}
    assert data["countries"]["THA"]["party_cat_year"] == 2007
    assert data["countries"]["IDN"]["party_cat_year"] == 1998
    assert data["countries"]["MYS"]["party_cat"] is False
    assert data["countries"]["USA"]["party_1967"] and not data["countries"]["USA"]["party_1951"]
    assert all(s["id"] and "title" in s for s in data["sources"])
    assert {c["nationality"] for c in data["countries"]["THA"]["cooperation"]} >= {"KHM"}


class TestRoutes:
    def test_listing(self, deployment: Deployment) -> None:
        d = deployment
        for who in (d.admin, d.worker):
            response = d.client.get(COUNTRIES, headers=who.headers)
            assert response.status_code == 200
        body = response.json()
        assert body["policy_version"] == "refoulement-v1+countries-2026.11"
        thailand = next(c for c in body["countries"] if c["code"] == "THA")
        assert thailand["party_1951"] is False and thailand["ref"] == "countries-2026.11"
        analyst = d.team.member("analyst")
        assert d.client.get(COUNTRIES, headers=analyst.headers).status_code == 403

    def test_only_an_administrator_overrides(self, deployment: Deployment) -> None:
        d = deployment
        body = {"fields": {"party_1951": True}, "reason": "Accession deposited."}
        assert put(d, "THA", body, who=d.worker).status_code == 403
        assert put(d, "THA", body, who=d.team.member("supervisor")).status_code == 403

    @pytest.mark.parametrize(
        ("code", "body"),
        [
            ("ZZZ", {"fields": {"party_1951": True}, "reason": "r"}),
            ("TH", {"fields": {"party_1951": True}, "reason": "r"}),
            ("THA", {"fields": {"party_1952": True}, "reason": "r"}),
            ("THA", {"fields": {}, "reason": "r"}),
            ("THA", {"fields": {"party_1951": "yes"}, "reason": "r"}),
            ("THA", {"fields": {"party_1951": None}, "reason": "r"}),
            ("THA", {"fields": {"party_cat_year": 207}, "reason": "r"}),
            ("THA", {"fields": {"party_1951": True}}),
            (
                "THA",
                {
                    "fields": {"cooperation": [{"nationality": "XXQ", "pattern": "x"}]},
                    "reason": "r",
                },
            ),
        ],
    )
    def test_validation(self, deployment: Deployment, code: str, body: dict[str, Any]) -> None:
        assert put(deployment, code, body).status_code == 422

    def test_override_is_audited_and_listed(self, deployment: Deployment) -> None:
        d = deployment
        response = put(
            d,
            "tha",
            {"fields": {"party_cat_year": 2007}, "reason": "Checked against UNTC."},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["country"] == "THA" and body["profile"]["ref"] == f"override:{body['id']}"
        listing = d.client.get(COUNTRIES, headers=d.admin.headers).json()
        assert [o["id"] for o in listing["overrides"]] == [body["id"]]


class TestOverrideChangesTheResult:
    def test_thailand_party_to_1951_from_today(self, deployment: Deployment) -> None:
        d = deployment
        person = d.team.person(d.worker, current_country="THA")
        assert "HOST_NON_PARTY_1951" in codes(d, person)
        assert sweep(d) == 0  # assessed just now, nothing changed
        body = {
            "fields": {"party_1951": True, "party_1951_year": 2026},
            "reason": "Accession deposited with the Secretary-General.",
            "effective_on": dt.date.today().isoformat(),
        }
        assert put(d, "THA", body).status_code == 200
        assert sweep(d) == 1  # the reference in force changed: everyone is reassessed
        assert "HOST_NON_PARTY_1951" not in codes(d, person)
        assert sweep(d) == 0

    def test_a_future_override_changes_nothing_yet(self, deployment: Deployment) -> None:
        d = deployment
        person = d.team.person(d.worker, current_country="THA")
        later = (dt.date.today() + dt.timedelta(days=30)).isoformat()
        body = {"fields": {"party_1951": True}, "reason": "Announced.", "effective_on": later}
        assert put(d, "THA", body).status_code == 200
        assert sweep(d) == 0
        assert "HOST_NON_PARTY_1951" in codes(d, person)
        listing = d.client.get(COUNTRIES, params={"as_of": later}, headers=d.admin.headers)
        thailand = next(c for c in listing.json()["countries"] if c["code"] == "THA")
        assert thailand["party_1951"] is True


class TestSweep:
    def test_a_day_old_assessment_is_made_again(self, deployment: Deployment) -> None:
        d = deployment
        person = d.team.person(d.worker, current_country="THA")
        fresh = d.team.person(d.worker, current_country="THA")
        with db(d.app) as session:
            session.execute(
                update(RiskAssessment)
                .where(RiskAssessment.individual_id == person)
                .values(assessed_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25))
            )
        assert sweep(d) == 1
        with db(d.app) as session:
            triggers = session.scalars(
                select(RiskAssessment.trigger)
                .where(RiskAssessment.individual_id.in_([person, fresh]))
                .order_by(RiskAssessment.assessed_at)
            ).all()
            assert sorted(triggers) == ["individual.created", "individual.created", "sweep"]
            # Same level, same score: time passing leaves no history entry.
            kinds = session.scalars(
                select(HistoryEntry.kind).where(
                    HistoryEntry.individual_id == person, HistoryEntry.kind == "risk.reassessed"
                )
            ).all()
            assert kinds == ["risk.reassessed"]

    def test_decay_that_changes_the_level_is_recorded(self, deployment: Deployment) -> None:
        d = deployment
        person = d.team.person(d.worker, current_country="THA")
        d.team.incident(
            d.worker,
            person,
            type="physical_attack",
            occurred_on=dt.date.today().isoformat(),
            location=None,
            perpetrator=None,
            description="Beaten outside the flat.",
            source={"name": "Witness", "reliability": "A", "credibility": 1},
        )
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
        assert sweep(d, later) == 1
        with db(d.app) as session:
            summaries = session.scalars(
                select(HistoryEntry.summary)
                .where(HistoryEntry.individual_id == person, HistoryEntry.kind == "risk.reassessed")
                .order_by(HistoryEntry.at)
            ).all()
        assert summaries[-1] == "Risk reassessed: medium → low"
