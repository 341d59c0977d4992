"""Check-ins, published lists (scenario 7's storage rule) and country events."""

from __future__ import annotations

import datetime as dt
import gc
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, text

from app.crypto import Pad, crypto_of
from app.db import transaction
from app.models.alert import CheckIn, CountryEvent, ListMatch, PublishedList
from app.models.bulk import SPARED_THRESHOLDS
from app.models.history import HistoryEntry
from app.models.individual import Individual
from app.monitoring import service as monitoring
from app.monitoring.service import CHECK_IN_CHANNEL
from tests.factories import Member, Team, unique

API = "/api/v1"


class TestCheckIns:
    def test_a_check_in_moves_the_clock(self, app: FastAPI, client: TestClient, team: Team) -> None:
        pid = team.register(team.caseworker, check_in_every_hours=48)["id"]
        response = client.post(
            f"{API}/individuals/{pid}/check-ins",
            json={"channel": "signal", "note": "Safe."},
            headers=team.caseworker.headers,
        )
        assert response.status_code == 201
        with transaction(app.state.sessionmaker) as session:
            row = session.get_one(Individual, uuid.UUID(pid))
            assert row.last_check_in_at is not None
            assert abs((row.last_check_in_at - dt.datetime.now(dt.UTC)).total_seconds()) < 60

    def test_channel_is_sealed_and_returned_opened(
        self, app: FastAPI, client: TestClient, team: Team
    ) -> None:
        """Issue 13, item 8: the channel (often a phone number) is never plaintext at rest."""
        phone = f"+855 12 {uuid.uuid4().int % 10**6:06d}"
        pid = team.register(team.caseworker)["id"]
        response = client.post(
            f"{API}/individuals/{pid}/check-ins",
            json={"channel": phone},
            headers=team.caseworker.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["channel"] == phone
        table = CheckIn.__table__
        with transaction(app.state.sessionmaker) as session:
            raw = (
                session.execute(select(table).where(table.c.id == uuid.UUID(response.json()["id"])))
                .mappings()
                .one()
            )
            row = session.get_one(CheckIn, uuid.UUID(response.json()["id"]))
            assert row.channel_ct is not None
            opened = crypto_of(session).open(
                session, CHECK_IN_CHANNEL, row.id, uuid.UUID(pid), row.channel_ct, pad=Pad.SHORT
            )
            assert opened == phone
        for value in raw.values():
            blob = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
            assert phone.encode() not in blob and b"855 12" not in blob

    def test_out_of_scope_is_404(self, client: TestClient, team: Team) -> None:
        pid = team.register(team.caseworker)["id"]
        stranger = team.elsewhere().caseworker.headers
        response = client.post(f"{API}/individuals/{pid}/check-ins", json={}, headers=stranger)
        assert response.status_code == 404


class TestListMatch:
    def test_scenario_7_matches_without_storing_other_names(
        self, app: FastAPI, client: TestClient, team: Team
    ) -> None:
        suffix = uuid.uuid4().hex[:6]
        listed = [
            team.register(team.caseworker, full_name=f"Sam Rainsy-Listed {suffix} {i}")["id"]
            for i in range(3)
        ]
        strangers = [f"Unregistered Exile {suffix} {i}" for i in range(15)]
        names = [f"sam rainsy-listed {suffix} {i}" for i in range(3)] + strangers
        assert len(names) == 18
        response = client.post(
            f"{API}/lists/match",
            headers=team.supervisor.headers,
            json={"names": names, "source": "State television", "published_on": "2019-11-20"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert sorted(m["individual_id"] for m in body["matched"]) == sorted(listed)
        with transaction(app.state.sessionmaker) as session:
            row = session.get_one(PublishedList, uuid.UUID(body["list_id"]))
            assert row.names_submitted == 18
            matches = session.scalars(
                select(ListMatch.individual_id).where(ListMatch.list_id == row.id)
            ).all()
            assert sorted(map(str, matches)) == sorted(listed)
        if app.state.settings.dialect == "sqlite":
            with transaction(app.state.sessionmaker) as session:
                session.execute(text("SELECT 1"))
            app.state.engine.dispose()
            db = app.state.settings.sqlite_path
            raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
            assert raw.count(f"Unregistered Exile {suffix}".encode()) == 0
            assert b"State television" not in raw

    def test_only_the_callers_scope_is_matched(self, client: TestClient, team: Team) -> None:
        name = unique("Hidden Person")
        team.register(team.elsewhere().caseworker, full_name=name)
        response = client.post(
            f"{API}/lists/match",
            headers=team.supervisor.headers,
            json={"names": [name], "source": "x", "published_on": "2019-11-20"},
        )
        assert response.json()["matched"] == []

    def test_bad_input(self, client: TestClient, team: Team) -> None:
        for body in (
            {"names": [], "source": "x", "published_on": "2019-11-20"},
            {"names": ["a\x00b"], "source": "x", "published_on": "2019-11-20"},
            {"names": ["a"], "source": "x", "published_on": "2999-01-01"},
        ):
            assert (
                client.post(
                    f"{API}/lists/match", json=body, headers=team.supervisor.headers
                ).status_code
                == 422
            )


def post_event(
    client: TestClient,
    who: Member,
    affects: dict[str, str],
    kind: str = "crackdown",
    description: str = "Arrests of exiles' relatives.",
    occurred_on: dt.date | None = None,
) -> Response:
    """POST /country-events for the KHM profile ``affects`` names; the answer."""
    return client.post(
        f"{API}/country-events",
        headers=who.headers,
        json={
            "country": "KHM",
            "kind": kind,
            "occurred_on": (occurred_on or dt.date.today()).isoformat(),
            "description": description,
            "affects": affects,
        },
    )


class TestCountryEvents:
    def test_everyone_of_the_profile_is_reassessed(
        self, app: FastAPI, client: TestClient, team: Team
    ) -> None:
        affiliation = f"Party {uuid.uuid4().hex[:6]}"
        members = [team.register(team.caseworker, affiliation=affiliation) for _ in range(3)]
        team.register(team.caseworker, affiliation="Someone else entirely")
        team.register(team.caseworker, nationalities=["LAO"], affiliation=affiliation)
        response = post_event(
            client,
            team.supervisor,
            {"nationality": "KHM", "affiliation": affiliation},
            kind="death_in_custody",
            description="A death in custody; troops ordered against a planned return.",
        )
        assert response.status_code == 201, response.text
        assert response.json()["reassessed"] == 3
        with transaction(app.state.sessionmaker) as session:
            event = session.get_one(CountryEvent, uuid.UUID(response.json()["id"]))
            assert affiliation.encode() not in (event.affects_ct or b"")
        del members

    def test_nationality_and_country_of_residence_must_both_match(
        self, app: FastAPI, client: TestClient, team: Team
    ) -> None:
        """Each criterion is checked in turn; a field is opened only when the ones before it
        matched, so each way of missing is a person here."""
        in_thailand = {team.person(team.caseworker, current_country="THA") for _ in range(2)}
        team.register(team.caseworker, current_country="MYS")  # the nationality, elsewhere
        team.register(team.caseworker)  # the nationality, no country of residence
        team.register(team.caseworker, nationalities=["LAO"], current_country="THA")
        response = post_event(
            client, team.supervisor, {"nationality": "KHM", "current_country": "THA"}
        )
        assert response.status_code == 201, response.text
        assert response.json()["reassessed"] == len(in_thailand)
        with transaction(app.state.sessionmaker) as session:
            named = set(
                session.scalars(
                    select(HistoryEntry.individual_id).where(
                        HistoryEntry.subject_id == uuid.UUID(response.json()["id"]),
                        HistoryEntry.kind == "country_event.affects",
                    )
                )
            )
        assert named == in_thailand

    def test_the_event_runs_with_the_collector_spared(
        self, client: TestClient, team: Team, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Reassessing thousands of people must not have the cyclic collector walk every
        live object again and again (``app.models.bulk.collector_spared``)."""
        seen: list[tuple[int, int, int]] = []
        choose = monitoring._affected_people

        def watched(*args: Any) -> list[uuid.UUID]:
            seen.append(gc.get_threshold())
            return choose(*args)

        monkeypatch.setattr(monitoring, "_affected_people", watched)
        before = gc.get_threshold()
        team.register(team.caseworker)
        response = post_event(client, team.supervisor, {"nationality": "KHM"})
        assert response.status_code == 201, response.text
        assert seen == [SPARED_THRESHOLDS]
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0

    def test_caseworkers_may_not(self, client: TestClient, team: Team) -> None:
        response = post_event(
            client, team.caseworker, {"nationality": "KHM"}, occurred_on=dt.date(2019, 11, 20)
        )
        assert response.status_code == 403
