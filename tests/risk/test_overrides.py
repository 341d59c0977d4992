"""A supervisor's override: shown beside the computed level, never replacing it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.models.history import HistoryEntry
from app.models.individual import Individual
from app.models.risk import RiskOverride
from tests.cases.support import audit_actions
from tests.factories import API, Member, Team, db

JUSTIFICATION = "Return announced for 9 November; airlines told not to board."


def override(
    client: TestClient, who: Member, person: uuid.UUID, **body: Any
) -> tuple[int, dict[str, Any]]:
    payload = {"level": "high", "justification": JUSTIFICATION, **body}
    response = client.post(
        f"{API}/individuals/{person}/risk/override", json=payload, headers=who.headers
    )
    return response.status_code, response.json() if response.content else {}


def risk(client: TestClient, who: Member, person: uuid.UUID) -> dict[str, Any]:
    response = client.get(f"{API}/individuals/{person}/risk", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


class TestOverride:
    def test_shown_beside_the_computed_level(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        worker, boss, counsel = (team.member(r) for r in ("caseworker", "supervisor", "lawyer"))
        person = team.person(worker, current_country="FRA", nationalities=["KHM"])
        case = team.case(worker, person)
        client.post(
            f"{API}/cases/{case['id']}/assignments",
            json={"user_id": str(counsel.id), "role": "lawyer"},
            headers=boss.headers,
        )
        expires = (dt.date.today() + dt.timedelta(days=14)).isoformat()
        status, body = override(client, boss, person, expires_on=expires)
        assert status == 201
        assert body["level"] == "low"  # the computed level stays the policy's
        assert body["override"] == {
            "level": "high",
            "justification": JUSTIFICATION,
            "expires_on": expires,
            "created_at": body["override"]["created_at"],
        }
        assert risk(client, counsel, person)["override"]["level"] == "high"
        with db(app) as session:
            row = session.get_one(Individual, person)
            assert (row.risk_level, row.risk_score) == ("low", 0)
            stored = session.scalars(
                select(RiskOverride).where(RiskOverride.individual_id == person)
            ).one()
            assert JUSTIFICATION.encode() not in stored.justification_ct
            entry = session.scalars(
                select(HistoryEntry).where(
                    HistoryEntry.individual_id == person, HistoryEntry.kind == "risk.overridden"
                )
            ).one()
            assert entry.summary == "Risk level set by a supervisor: high (computed: low)"
        assert "risk.override" in [e.action for e in audit_actions(app, person)]

    def test_caseworker_is_403(self, client: TestClient, team: Team) -> None:
        worker = team.member("caseworker")
        person = team.person(worker)
        assert override(client, worker, person)[0] == 403
        path = f"{API}/individuals/{person}/risk/override"
        assert client.delete(path, headers=worker.headers).status_code == 403

    def test_out_of_scope_is_404(self, client: TestClient, team: Team) -> None:
        elsewhere = team.elsewhere()
        person = team.person(elsewhere.member("caseworker"))
        boss = team.member("supervisor")
        assert override(client, boss, person)[0] == 404
        assert override(client, boss, uuid.uuid4())[0] == 404
        path = f"{API}/individuals/{person}/risk/override"
        assert client.delete(path, headers=boss.headers).status_code == 404

    @pytest.mark.parametrize(
        "body",
        [
            {"justification": "too short"},
            {"justification": " " * 40},
            {"justification": "x" * 2001},
            {"level": "severe"},
            {"expires_on": "2020-01-01"},
            {"note": "unexpected field"},
        ],
    )
    def test_invalid(self, client: TestClient, team: Team, body: dict[str, Any]) -> None:
        person = team.person(team.member("caseworker"))
        assert override(client, team.member("supervisor"), person, **body)[0] == 422

    def test_expired_override_is_not_shown(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        worker, boss = team.member("caseworker"), team.member("supervisor")
        person = team.person(worker)
        assert override(client, boss, person, expires_on=dt.date.today().isoformat())[0] == 201
        assert risk(client, worker, person)["override"]["level"] == "high"
        with db(app) as session:
            session.execute(
                update(RiskOverride)
                .where(RiskOverride.individual_id == person)
                .values(expires_on=dt.date.today() - dt.timedelta(days=1))
            )
        assert "override" not in risk(client, worker, person)

    def test_a_new_override_supersedes_and_delete_lifts(
        self, client: TestClient, team: Team, app: FastAPI
    ) -> None:
        worker, boss = team.member("caseworker"), team.member("supervisor")
        person = team.person(worker)
        override(client, boss, person, level="critical")
        status, body = override(client, boss, person, level="medium")
        assert status == 201 and body["override"]["level"] == "medium"
        path = f"{API}/individuals/{person}/risk/override"
        assert client.delete(path, headers=boss.headers).status_code == 204
        assert "override" not in risk(client, worker, person)
        assert client.delete(path, headers=boss.headers).status_code == 204
        with db(app) as session:
            rows = session.scalars(
                select(RiskOverride).where(RiskOverride.individual_id == person)
            ).all()
            assert len(rows) == 2 and all(r.lifted_at is not None for r in rows)
            kinds = session.scalars(
                select(HistoryEntry.kind)
                .where(HistoryEntry.individual_id == person, HistoryEntry.kind.like("risk.over%"))
                .order_by(HistoryEntry.at)
            ).all()
            assert kinds == ["risk.overridden", "risk.overridden", "risk.override_lifted"]
