"""Statistics for analysts: counts of their organisation, small cells suppressed."""

from __future__ import annotations

import csv
import io
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from app.stats.service import suppress
from tests.factories import Team

API = "/api/v1/stats"


@pytest.fixture
def organisation_with_people(team: Team) -> Team:
    for country, n in (("THA", 7), ("KHM", 6), ("MYS", 3), ("IDN", 2)):
        for _ in range(n):
            team.person(team.caseworker, current_country=country)
    return team


class TestSuppression:
    def test_cells_under_five_are_withheld(self) -> None:
        cells = {c["key"]: c for c in suppress(Counter({"THA": 7, "MYS": 3, "IDN": 4, "KHM": 9}))}
        assert cells["MYS"]["count"] is None and cells["MYS"]["suppressed"]
        assert cells["IDN"]["count"] is None
        assert cells["THA"]["count"] == 7 and not cells["THA"]["suppressed"]

    def test_a_lone_small_cell_takes_the_next_smallest_with_it(self) -> None:
        cells = {c["key"]: c for c in suppress(Counter({"THA": 40, "MYS": 6, "IDN": 2}))}
        assert cells["IDN"]["suppressed"] and cells["MYS"]["suppressed"]
        assert cells["THA"]["count"] == 40


class TestStatsRoute:
    def test_only_analysts(self, client: TestClient, team: Team) -> None:
        assert client.get(API, params={"by": "country"}).status_code == 401
        for role in ("admin", "supervisor", "caseworker", "lawyer", "auditor"):
            headers = team.signed_in(role).headers
            assert client.get(API, params={"by": "country"}, headers=headers).status_code == 403

    def test_counts_by_country_with_suppression(
        self, client: TestClient, organisation_with_people: Team
    ) -> None:
        analyst = organisation_with_people.analyst.headers
        table = client.get(API, params={"by": "country"}, headers=analyst).json()
        cells = {c["key"]: c for c in table["cells"]}
        assert cells["THA"]["count"] == 7 and cells["KHM"]["count"] == 6
        assert cells["IDN"]["suppressed"] and cells["IDN"]["count"] is None
        assert cells["MYS"]["suppressed"] and cells["MYS"]["count"] is None

    def test_a_merged_duplicate_is_counted_once(self, client: TestClient, team: Team) -> None:
        ids = [team.register(team.caseworker, current_country="LAO")["id"] for _ in range(7)]
        merged = client.post(
            f"/api/v1/individuals/{ids[0]}/merge",
            json={"into": ids[1]},
            headers=team.supervisor.headers,
        )
        assert merged.status_code == 200, merged.text
        analyst = team.analyst.headers
        table = client.get(API, params={"by": "country"}, headers=analyst).json()
        assert {c["key"]: c["count"] for c in table["cells"]}["LAO"] == 6

    def test_another_organisation_sees_none_of_it(
        self, client: TestClient, organisation_with_people: Team
    ) -> None:
        analyst = organisation_with_people.elsewhere().analyst.headers
        table = client.get(API, params={"by": "country"}, headers=analyst).json()
        assert table["cells"] == []

    def test_hxl_csv(self, client: TestClient, organisation_with_people: Team) -> None:
        analyst = organisation_with_people.analyst.headers
        response = client.get(API, params={"by": "country", "format": "hxl"}, headers=analyst)
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[1][:2] == ["#country+code+v_iso3", "#affected+ind+num"]
        by_key = {r[0]: r for r in rows[2:]}
        assert by_key["THA"][1] == "7" and by_key["IDN"][1] == "" and by_key["IDN"][2] == "true"

    def test_risk_level_and_unhcr_status(
        self, client: TestClient, organisation_with_people: Team
    ) -> None:
        analyst = organisation_with_people.analyst.headers
        for by in ("risk_level", "unhcr_status", "incident_type"):
            response = client.get(API, params={"by": by, "format": "csv"}, headers=analyst)
            assert response.status_code == 200, by
        table = client.get(API, params={"by": "unhcr_status"}, headers=analyst).json()
        assert {c["key"]: c["count"] for c in table["cells"]} == {"none_recorded": 18}

    def test_bad_dimension(self, client: TestClient, team: Team) -> None:
        analyst = team.analyst.headers
        assert client.get(API, params={"by": "name"}, headers=analyst).status_code == 422
        assert (
            client.get(API, params={"by": "country", "format": "xml"}, headers=analyst).status_code
            == 422
        )
