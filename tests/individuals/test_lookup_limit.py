"""Searches by name or document number and duplicate checks are rate limited per user.

Each answers whether someone is on the records: without a limit, a coerced account ran 300
passport searches in 2.4 s. Past ``HAVEN_LOOKUP_LIMIT_PER_MINUTE`` a user's lookups answer 429
with Retry-After, and the organisation's supervisors get one ``lookup_burst`` alert (no name,
no number: the account is its subject).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from app.limits import LOOKUP_WINDOW
from app.main import create_app
from app.models.user import LoginThrottle
from tests.conftest import database_url, fresh_address, make_settings
from tests.factories import API, Team, db, passport_number
from tests.web.support import sign_in

LIMIT = 5


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp: Path = tmp_path_factory.mktemp("lookups")
    with database_url(tmp) as url:
        application = create_app(make_settings(tmp, url, lookup_limit_per_minute=LIMIT))
        yield application
        application.state.engine.dispose()


@pytest.fixture
def limited_team(limited: FastAPI) -> Iterator[Team]:
    with TestClient(limited, client=(fresh_address(), 50000)) as client:
        yield Team(limited, client)


def _bursts(team: Team) -> list[dict[str, Any]]:
    response = team.client.get(
        f"{API}/alerts", params={"status": "open"}, headers=team.supervisor.headers
    )
    assert response.status_code == 200, response.text
    return [a for a in response.json()["items"] if a["rule"] == "lookup_burst"]


def _search(team: Team, **params: str) -> Any:
    return team.client.get(f"{API}/individuals", params=params, headers=team.caseworker.headers)


def test_searches_past_the_limit_answer_429_and_alert_supervisors(limited_team: Team) -> None:
    team = limited_team
    for _ in range(LIMIT):
        assert _search(team, document_number=passport_number()).status_code == 200
    refused = _search(team, document_number=passport_number())
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert _search(team, name="Sok Dara").status_code == 429
    (alert,) = _bursts(team)
    assert alert["severity"] == "high"
    assert alert["individual_id"] is None
    # The other organisation's supervisors hear nothing of it.
    assert _bursts(team.elsewhere()) == []
    # Another user of the same organisation is not held back by this one.
    other = team.member("caseworker")
    answer = team.client.get(
        f"{API}/individuals", params={"name": "Sok Dara"}, headers=other.headers
    )
    assert answer.status_code == 200


def test_duplicate_checks_count_as_lookups(limited_team: Team) -> None:
    team = limited_team
    person = team.person(team.caseworker)
    url = f"{API}/individuals/{person}/duplicates"
    answers = [
        team.client.get(url, headers=team.supervisor.headers).status_code for _ in range(LIMIT + 1)
    ]
    assert answers == [200] * LIMIT + [429]


def test_the_web_search_counts_too(limited_team: Team) -> None:
    team = limited_team
    user = team.user("caseworker")
    token = sign_in(team.client, user)
    statuses = [
        team.client.post(
            "/people", data={"csrf_token": token, "document_number": passport_number()}
        ).status_code
        for _ in range(LIMIT + 1)
    ]
    assert statuses[:LIMIT] == [200] * LIMIT
    assert statuses[LIMIT] == 429


def test_the_incident_finder_counts_too(limited_team: Team) -> None:
    team = limited_team
    token = sign_in(team.client, team.user("caseworker"))
    statuses = [
        team.client.post(
            "/incidents/new", data={"csrf_token": token, "find": "Sok Dara"}
        ).status_code
        for _ in range(LIMIT + 1)
    ]
    assert statuses == [200] * LIMIT + [429]


def test_listing_without_a_name_or_number_is_not_a_lookup(limited_team: Team) -> None:
    team = limited_team
    for _ in range(LIMIT + 2):
        assert _search(team, country="THA").status_code == 200


def test_the_429_is_documented(limited_team: Team) -> None:
    paths = limited_team.client.get("/openapi.json").json()["paths"]
    for path in (f"{API}/individuals", f"{API}/individuals/{{individual_id}}/duplicates"):
        assert "429" in paths[path]["get"]["responses"], path


def test_the_default_limit_leaves_normal_work_alone(app: FastAPI) -> None:
    assert app.state.settings.lookup_limit_per_minute >= 30


def test_a_new_minute_starts_a_new_count(limited: FastAPI, limited_team: Team) -> None:
    team = limited_team
    for _ in range(LIMIT):
        assert _search(team, document_number=passport_number()).status_code == 200
    assert _search(team, document_number=passport_number()).status_code == 429
    with db(limited) as session:  # the minute passes (every counter's, this test's included)
        for row in session.scalars(select(LoginThrottle)):
            row.window_started_at -= LOOKUP_WINDOW
    answers = [_search(team, document_number=passport_number()).status_code for _ in range(LIMIT)]
    assert answers == [200] * LIMIT
    assert _search(team, document_number=passport_number()).status_code == 429


def test_a_lookup_is_counted_with_one_statement(limited: FastAPI, limited_team: Team) -> None:
    """The counter row is raised in place, not read, changed in Python and written back."""
    team = limited_team
    assert _search(team, document_number=passport_number()).status_code == 200  # its row
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(limited.state.engine, "before_cursor_execute", before)
    try:
        assert _search(team, document_number=passport_number()).status_code == 200
    finally:
        event.remove(limited.state.engine, "before_cursor_execute", before)
    assert len([s for s in seen if "login_throttle" in s]) == 1
