"""PATCH /auth/me: a user's own time zone (IANA, checked) and language; never an API key's."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.models.organisation import Organisation
from tests.factories import Team, db

ME = "/api/v1/auth/me"


def test_a_user_sets_and_clears_their_time_zone(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    me = team.caseworker.headers
    assert client.get(ME, headers=me).json()["effective_time_zone"] == "UTC"
    with db(app) as session:
        session.execute(
            update(Organisation)
            .where(Organisation.id == team.organisation.id)
            .values(time_zone="Asia/Phnom_Penh")
        )
    assert client.get(ME, headers=me).json()["effective_time_zone"] == "Asia/Phnom_Penh"
    answer = client.patch(ME, json={"time_zone": "Asia/Bangkok", "locale": "km"}, headers=me)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["time_zone"], body["locale"], body["effective_time_zone"]) == (
        "Asia/Bangkok",
        "km",
        "Asia/Bangkok",
    )
    cleared = client.patch(ME, json={"time_zone": None}, headers=me).json()
    assert cleared["time_zone"] is None and cleared["effective_time_zone"] == "Asia/Phnom_Penh"
    assert cleared["locale"] == "km"  # untouched when not given


def test_only_real_zones_and_known_languages_are_kept(client: TestClient, team: Team) -> None:
    me = team.caseworker.headers
    for body in (
        {"time_zone": "Mars/Olympus"},
        {"time_zone": "asia/bangkok"},
        {"time_zone": "../../etc/passwd"},
        {"time_zone": ""},
        {"time_zone": "x" * 65},
        {"locale": "xx"},
        {"time_zone": "UTC", "role": "admin"},
    ):
        answer = client.patch(ME, json=body, headers=me)
        assert answer.status_code == 422, body
    assert client.get(ME, headers=me).json()["time_zone"] is None


def test_api_keys_and_strangers_cannot_set_one(client: TestClient, team: Team) -> None:
    assert client.patch(ME, json={"time_zone": "UTC"}).status_code == 401
    assert client.patch(ME, json={"time_zone": "UTC"}, headers=team.monitor).status_code == 403
