"""People at risk through the API: registration, encrypted storage, search, scope, erasure."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import transaction
from app.models.individual import Individual, IndividualNameIndex
from app.models.keys import RecordKey
from tests.factories import Team, unique

API = "/api/v1/individuals"


@pytest.fixture
def caseworker(team: Team) -> dict[str, str]:
    return team.caseworker.headers


class TestCreateIndividual:
    def test_anonymous(self, client: TestClient) -> None:
        assert client.post(API, json={"full_name": "x"}).status_code == 401

    def test_analyst_is_forbidden(self, client: TestClient, team: Team) -> None:
        headers = team.analyst.headers
        assert client.post(API, json={"full_name": "x"}, headers=headers).status_code == 403

    def test_every_field_round_trips(
        self, client: TestClient, team: Team, caseworker: dict[str, str]
    ) -> None:
        person = team.register(
            caseworker,
            full_name="Ratanak Dara",
            aliases=["R. Dara", "Dara Ratanak"],
            native_name="រតនៈ ដារា",
            date_of_birth="1985-03-15",
            sex="male",
            nationalities=["KHM", "USA"],
            affiliation="Opposition party",
            affiliation_role="Deputy",
            current_location="Bangkok, Lat Phrao",
            contact="+66 80 000 0000",
            notes="Fled after the party was dissolved.",
            current_country="THA",
            check_in_every_hours=48,
        )
        read = client.get(f"{API}/{person['id']}", headers=caseworker).json()
        assert read["native_name"] == "រតនៈ ដារា"
        assert read["aliases"] == ["R. Dara", "Dara Ratanak"]
        assert read["date_of_birth"] == "1985-03-15"
        assert read["nationalities"] == ["KHM", "USA"]
        assert read["current_location"] == "Bangkok, Lat Phrao"
        assert read["check_in_every_hours"] == 48
        # Assessed on registration: a safe second nationality, no host state, nothing reported.
        assert read["risk"] == {"level": "low", "score": 0}

    def test_registration_answers_with_the_person_as_a_read_shows_them(
        self, client: TestClient, team: Team, caseworker: dict[str, str]
    ) -> None:
        # Their registrar counts as assigned (contact and location shown); no UNHCR status and
        # no consent are on record yet.
        created = team.register(
            caseworker,
            full_name=unique("Sokha Mean"),
            contact="+66 80 111 2222",
            current_location="Soi 9",
            current_country="THA",
        )
        read = client.get(f"{API}/{created['id']}", headers=caseworker).json()
        assert {name: created[name] for name in read} == read
        assert read["contact"] == "+66 80 111 2222" and read["current_location"] == "Soi 9"
        assert read["unhcr_status"] is None and read["consent"] is None
        other = client.get(f"{API}/{created['id']}", headers=team.member("caseworker").headers)
        assert other.json().get("contact") is None  # not theirs: withheld

    def test_fields_are_ciphertext_in_the_database(
        self, app: FastAPI, client: TestClient, team: Team, caseworker: dict[str, str]
    ) -> None:
        secret = unique("Chanthou Veasna")
        person = team.register(caseworker, full_name=secret, current_location="Soi 7 house 12")
        with transaction(app.state.sessionmaker) as session:
            row = session.get_one(Individual, uuid.UUID(person["id"]))
            blobs = [
                getattr(row, c.key) for c in Individual.__table__.columns if c.key.endswith("_ct")
            ]
        raw = b"".join(b for b in blobs if b)
        assert secret.encode() not in raw and b"Soi 7" not in raw
        assert row.full_name_ct is not None and len(row.full_name_ct) > len(secret)


class TestSearch:
    def test_name_search_folds_case_accents_and_spacing(
        self, client: TestClient, team: Team, caseworker: dict[str, str]
    ) -> None:
        suffix = uuid.uuid4().hex[:6]
        person = team.register(
            caseworker, full_name=f"Sók Dàra {suffix}", aliases=[f"Kim {suffix}"]
        )
        for query in (f"sok  dara {suffix}", f"SÓK DARA {suffix.upper()}", f"kim {suffix}"):
            found = client.get(API, params={"name": query}, headers=caseworker).json()["items"]
            assert [p["id"] for p in found] == [person["id"]], query

    def test_a_near_miss_is_not_a_match(
        self, client: TestClient, team: Team, caseworker: dict[str, str]
    ) -> None:
        name = unique("Vannak")
        team.register(caseworker, full_name=name)
        found = client.get(API, params={"name": name + "x"}, headers=caseworker).json()["items"]
        assert found == []

    def test_out_of_scope_people_are_never_found(self, client: TestClient, team: Team) -> None:
        mine = team.member("caseworker").headers
        theirs = team.member("caseworker").headers
        name = unique("Bopha")
        team.register(theirs, full_name=name)
        assert client.get(API, params={"name": name}, headers=mine).json()["items"] == []

    def test_other_organisation_invisible_even_to_its_supervisor(
        self, client: TestClient, team: Team
    ) -> None:
        supervisor = team.elsewhere().supervisor.headers
        name = unique("Sophal")
        person = team.register(team.caseworker, full_name=name)
        assert client.get(API, params={"name": name}, headers=supervisor).json()["items"] == []
        assert client.get(f"{API}/{person['id']}", headers=supervisor).status_code == 404

    def test_filters_by_country_and_pagination_is_stable(
        self, client: TestClient, team: Team, caseworker: dict[str, str]
    ) -> None:
        for country in ("MYS", "MYS", "MYS", "IDN"):
            team.register(caseworker, current_country=country)
        seen: list[str] = []
        cursor = None
        while True:
            params = {"country": "MYS", "limit": 2} | ({"cursor": cursor} if cursor else {})
            page = client.get(API, params=params, headers=caseworker).json()
            assert all(p["current_country"] == "MYS" for p in page["items"])
            seen += [p["id"] for p in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == 3 and len(set(seen)) == 3

    def test_searches_and_reads_are_audited(
        self, app: FastAPI, client: TestClient, team: Team, caseworker: dict[str, str]
    ) -> None:
        from app.models.audit import AuditEntry

        person = team.register(caseworker)
        client.get(f"{API}/{person['id']}", headers=caseworker)
        with transaction(app.state.sessionmaker) as session:
            actions = set(
                session.scalars(
                    select(AuditEntry.action).where(
                        AuditEntry.subject_id == uuid.UUID(person["id"])
                    )
                )
            )
        assert {"individual.create", "individual.read"} <= actions


class TestFieldLevelAccess:
    def test_location_and_contact_hidden_from_a_lawyer_on_the_case(
        self, client: TestClient, team: Team, caseworker: dict[str, str]
    ) -> None:
        person = team.register(caseworker, current_location="Safe house 3", contact="+60 1")
        lawyer = team.lawyer
        case = team.case(caseworker, person["id"])
        team.assign(caseworker, case["id"], lawyer)
        read = client.get(f"{API}/{person['id']}", headers=lawyer.headers).json()
        assert read["full_name"] == person["full_name"]
        assert read["current_location"] is None and read["contact"] is None


class TestErasure:
    def test_erasure_destroys_keys_and_indexes(
        self, app: FastAPI, client: TestClient, team: Team, caseworker: dict[str, str]
    ) -> None:
        name = unique("Sreymom")
        person = team.register(caseworker, full_name=name)
        supervisor = team.supervisor.headers
        response = client.request(
            "DELETE",
            f"{API}/{person['id']}",
            json={"reason": "consent withdrawn"},
            headers=supervisor,
        )
        assert response.status_code == 204
        assert client.get(f"{API}/{person['id']}", headers=supervisor).status_code == 404
        assert client.get(API, params={"name": name}, headers=supervisor).json()["items"] == []
        pid = uuid.UUID(person["id"])
        with transaction(app.state.sessionmaker) as session:
            keys = session.scalars(select(RecordKey).where(RecordKey.owner_id == pid)).all()
            assert keys and all(k.wrapped is None for k in keys)
            tokens = session.scalars(
                select(IndividualNameIndex.value).where(IndividualNameIndex.individual_id == pid)
            ).all()
            assert all(t is None for t in tokens)

    def test_reason_is_required_and_caseworkers_cannot_erase(
        self, client: TestClient, team: Team, caseworker: dict[str, str]
    ) -> None:
        person = team.register(caseworker)
        supervisor = team.supervisor.headers
        url = f"{API}/{person['id']}"
        assert client.request("DELETE", url, json={}, headers=supervisor).status_code == 422
        assert (
            client.request("DELETE", url, json={"reason": "x"}, headers=caseworker).status_code
            == 403
        )


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "status"),
        [
            ({"full_name": "a" * 201}, 422),
            ({"full_name": "tab\tinside"}, 422),
            ({"full_name": "nul\x00inside"}, 422),
            ({"full_name": "   "}, 422),
            ({"full_name": 12}, 422),
            ({"full_name": "x", "nationalities": ["XYZ"]}, 422),
            ({"full_name": "x", "current_country": "th"}, 422),
            ({"full_name": "x", "date_of_birth": "1850-01-01"}, 422),
            ({"full_name": "x", "date_of_birth": "2999-01-01"}, 422),
            ({"full_name": "x", "date_of_birth": "not a date"}, 422),
            ({"full_name": "x", "sex": "robot"}, 422),
            ({"full_name": "x", "unknown_field": 1}, 422),
            ({"full_name": "x", "check_in_every_hours": 0}, 422),
        ],
    )
    def test_clear_4xx(
        self, client: TestClient, caseworker: dict[str, str], body: dict, status: int
    ) -> None:
        response = client.post(API, json=body, headers=caseworker)
        assert response.status_code == status, response.text
        assert "detail" in response.json()

    def test_malformed_json_is_400(self, client: TestClient, caseworker: dict[str, str]) -> None:
        response = client.post(
            API,
            content=b'{"full_name": ',
            headers={**caseworker, "content-type": "application/json"},
        )
        assert response.status_code == 400

    def test_ten_megabyte_name_is_413(self, client: TestClient, caseworker: dict[str, str]) -> None:
        body = b'{"full_name": "' + b"a" * 10_000_000 + b'"}'
        response = client.post(
            API, content=body, headers={**caseworker, "content-type": "application/json"}
        )
        assert response.status_code == 413

    def test_streamed_oversize_body_is_413(
        self, client: TestClient, caseworker: dict[str, str]
    ) -> None:
        def chunks():  # no Content-Length: counted as it arrives
            yield b'{"full_name": "'
            for _ in range(20):
                yield b"a" * 100_000
            yield b'"}'

        response = client.post(
            API, content=chunks(), headers={**caseworker, "content-type": "application/json"}
        )
        assert response.status_code == 413

    def test_validation_errors_do_not_echo_input(
        self, client: TestClient, caseworker: dict[str, str]
    ) -> None:
        response = client.post(API, json={"full_name": "Secret Name\x01"}, headers=caseworker)
        assert response.status_code == 422 and "Secret Name" not in response.text

    def test_unknown_and_malformed_ids(
        self, client: TestClient, caseworker: dict[str, str]
    ) -> None:
        assert client.get(f"{API}/{uuid.uuid4()}", headers=caseworker).status_code == 404
        assert client.get(f"{API}/not-a-uuid", headers=caseworker).status_code == 422
