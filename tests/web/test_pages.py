"""The web client's pages: who may open them, what they show, their forms and headers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.web import PUBLIC_PAGES
from app.web.headers import CSP
from tests.conftest import fresh_address
from tests.factories import Team, UserHandle, login, unique
from tests.web.support import field_errors, fill, sign_in, web_routes

API = "/api/v1"
KHMER = "សុខ ដារ៉ា"


@dataclass
class World:
    users: dict[str, UserHandle]
    person: str
    case: str
    document: str


@pytest.fixture(scope="module")
def world(app: FastAPI) -> World:
    with TestClient(app, client=(fresh_address(), 1)) as client:
        team = Team(app, client)
        users = {
            role: team.user(role.split("_")[0])
            for role in ("caseworker", "supervisor", "lawyer", "lawyer_other", "analyst")
        }
        cw = team.login(users["caseworker"])
        person = team.register(
            cw, full_name=unique("Sok Dara"), native_name=KHMER, current_country="THA"
        )["id"]
        case = team.case(cw, person)["id"]
        team.assign(cw, case, users["lawyer"]).raise_for_status()
        document = team.document(
            cw,
            person,
            number=unique("N").upper(),
            expires_on=(dt.date.today() + dt.timedelta(days=60)).isoformat(),
        )["id"]
    return World(users, person, case, document)


def _signed_in(app: FastAPI, user: UserHandle) -> tuple[TestClient, str]:
    client = TestClient(app, client=(fresh_address(), 1))
    return client, sign_in(client, user)


class TestAccess:
    def test_every_page_but_sign_in_needs_a_session(self, app: FastAPI, client: TestClient) -> None:
        pages = [path for method, path in web_routes(app) if method == "GET"]
        assert set(PUBLIC_PAGES) <= set(pages)
        answers = {
            path: client.get(fill(path), follow_redirects=False).headers.get("location", "")
            for path in pages
            if path not in PUBLIC_PAGES
        }
        assert all(target.startswith("/login") for target in answers.values()), answers

    def test_an_unassigned_lawyer_finds_no_case(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["lawyer_other"])
        response = client.get(f"/cases/{world.case}")
        assert response.status_code == 404
        assert "Not found" in response.text
        assert world.users["caseworker"].username not in response.text
        unknown = client.get(fill("/cases/{case_id}"))
        assert (unknown.status_code, unknown.text.count("Not found")) == (
            response.status_code,
            response.text.count("Not found"),
        )

    def test_the_assigned_lawyer_sees_the_case_and_its_history(
        self, app: FastAPI, world: World
    ) -> None:
        client, _ = _signed_in(app, world.users["lawyer"])
        response = client.get(f"/cases/{world.case}")
        assert response.status_code == 200
        assert "Download PDF" in response.text and "History" in response.text
        assert "Case opened" in response.text
        assert client.get("/", follow_redirects=False).headers["location"] == "/cases"
        assert world.case in client.get("/cases").text

    def test_a_role_without_case_work_gets_403_pages(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["analyst"])
        assert client.get("/people").status_code == 403
        assert client.get(f"/people/{world.person}").status_code == 403
        assert client.get("/").status_code == 200  # a plain start page

    def test_a_caseworker_may_not_use_supervisor_tools(self, app: FastAPI, world: World) -> None:
        client, token = _signed_in(app, world.users["caseworker"])
        assert client.get("/supervisor/revocations").status_code == 403
        response = client.post(
            f"/people/{world.person}/risk/override",
            data={"csrf_token": token, "level": "low", "justification": "A long enough reason."},
        )
        assert response.status_code == 403

    def test_a_malformed_id_is_not_found(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["caseworker"])
        assert client.get("/people/not-a-uuid").status_code == 404


class TestHeaders:
    def test_every_page_has_the_security_headers(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["supervisor"])
        ids = {"individual_id": world.person, "case_id": world.case}
        paths = [fill(p, **ids) for m, p in web_routes(app) if m == "GET"]
        paths += ["/static/haven.css", "/healthz", f"{API}/auth/me", "/no-such-page"]
        for path in paths:
            response = client.get(path, follow_redirects=False)
            assert response.headers.get("content-security-policy") == CSP, path
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert response.headers["referrer-policy"] == "no-referrer", path
            assert response.headers["x-frame-options"] == "DENY", path
        page = client.get(f"/people/{world.person}")
        assert page.headers["cache-control"] == "no-store"
        assert client.get("/static/haven.js").headers["cache-control"] == "no-cache"

    def test_pages_hold_no_inline_script_or_style(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["supervisor"])
        for path in ("/", f"/people/{world.person}", f"/cases/{world.case}", "/people/new"):
            html = client.get(path).text
            assert "<script>" not in html and " style=" not in html and "<style" not in html
            assert "http://" not in html and "https://" not in html, path

    def test_the_attachment_download_keeps_its_stricter_policy(
        self, app: FastAPI, world: World
    ) -> None:
        with TestClient(app, client=(fresh_address(), 1)) as api:
            headers = login(api, world.users["caseworker"])
            uploaded = api.post(
                f"{API}/cases/{world.case}/attachments",
                files={"file": ("statement.txt", b"A statement.", "text/plain")},
                headers=headers,
            ).json()
            download = api.get(f"{API}/attachments/{uploaded['id']}", headers=headers)
        assert download.headers["content-security-policy"] == "default-src 'none'; sandbox"


class TestApiFromTheBrowser:
    def test_get_requests_reach_the_api_with_the_cookie(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["lawyer"])
        assert client.get(f"{API}/auth/me").json()["username"] == world.users["lawyer"].username
        export = client.get(f"{API}/cases/{world.case}/export?format=json")
        assert export.status_code == 200 and export.headers["x-content-sha256"]

    def test_the_cookie_never_writes_through_the_api(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["caseworker"])
        assert client.post(f"{API}/auth/logout").status_code == 401
        response = client.post(f"{API}/individuals", json={"full_name": "Nobody"})
        assert response.status_code == 401
        assert client.get(f"{API}/auth/me").status_code == 200  # still signed in

    def test_a_bearer_token_comes_first(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["caseworker"])
        response = client.get(f"{API}/auth/me", headers={"Authorization": "Bearer hvn_s_nonsense"})
        assert response.status_code == 401


class TestForms:
    def test_registering_a_person_with_a_khmer_name(self, app: FastAPI, world: World) -> None:
        client, token = _signed_in(app, world.users["caseworker"])
        response = client.post(
            "/people/new",
            data={
                "csrf_token": token,
                "full_name": "Chea Sopheap",
                "native_name": "ជា សុភាព",
                "nationalities": "khm, usa",
                "current_country": "tha",
                "open_case": "1",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
        page = client.get(response.headers["location"])
        assert "Person registered and a case opened." in page.text
        assert '<bdi lang="km" class="native">ជា សុភាព</bdi>' in page.text
        assert "Cambodia (KHM)" in page.text and "United States (USA)" in page.text

    def test_errors_are_shown_next_to_their_fields(self, app: FastAPI, world: World) -> None:
        client, token = _signed_in(app, world.users["caseworker"])
        response = client.post(
            "/people/new",
            data={"csrf_token": token, "full_name": "", "current_country": "XX", "notes": "kept"},
        )
        assert response.status_code == 422
        errors = field_errors(response.text)
        assert set(errors) == {"full_name", "current_country"}
        assert "three-letter country code" in errors["current_country"]
        assert 'aria-invalid="true"' in response.text and ">kept</textarea>" in response.text

    def test_a_bad_mrz_check_digit_is_named(self, app: FastAPI, world: World) -> None:
        client, token = _signed_in(app, world.users["caseworker"])
        line1 = "P<KHMSOK<<DARA" + "<" * 30
        line2 = "N12345678" + "0" + "KHM" + "8001014" + "M" + "3001012" + "<" * 14 + "00"
        response = client.post(
            f"/people/{world.person}/documents",
            data={"csrf_token": token, "type": "passport", "mrz": f"{line1}\n{line2}"},
        )
        assert response.status_code == 422
        assert (
            "passport number&#39;s check digit does not match" in field_errors(response.text)["mrz"]
        )

    def test_documents_show_their_validity_at_a_glance(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["caseworker"])
        assert "Valid, expires in 60 days" in client.get(f"/people/{world.person}").text

    def test_an_incident_needs_someone_it_concerns(self, app: FastAPI, world: World) -> None:
        client, token = _signed_in(app, world.users["caseworker"])
        response = client.post(
            "/incidents",
            data={
                "csrf_token": token,
                "type": "threat",
                "occurred_on": dt.date.today().isoformat(),
                "country": "THA",
                "description": "A call.",
                "source_name": "Family",
                "source_reliability": "B",
                "source_credibility": "2",
            },
        )
        assert response.status_code == 422
        assert field_errors(response.text) == {"individual_ids": "Tick at least one person."}

    def test_a_revocation_list_from_csv(self, app: FastAPI, world: World) -> None:
        client, token = _signed_in(app, world.users["supervisor"])
        number = unique("R").upper()
        with TestClient(app, client=(fresh_address(), 1)) as api:
            api.post(
                f"{API}/individuals/{world.person}/documents",
                json={"type": "passport", "number": number, "issuing_country": "KHM"},
                headers=login(api, world.users["caseworker"]),
            ).raise_for_status()
        response = client.post(
            "/supervisor/revocations",
            data={
                "csrf_token": token,
                "issuing_country": "KHM",
                "effective_date": dt.date.today().isoformat(),
                "source": "Decree 12",
            },
            files={"csv": ("list.csv", f"name,passport_no\nSomeone,{number}\nX,ZZ9\n", "text/csv")},
        )
        assert response.status_code == 200
        assert "1 document in your organisation found on the list; 1 newly revoked" in response.text

    def test_the_assign_list_offers_whom_assign_accepts(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["caseworker"])
        html = client.get(f"/cases/{world.case}").text
        assert f'value="{world.users["lawyer_other"].id}:lawyer"' in html
        assert f'value="{world.users["lawyer"].id}:lawyer"' not in html  # already counsel
        assert f'value="{world.users["caseworker"].id}:caseworker"' not in html
        assert f'value="{world.users["supervisor"].id}:' not in html

    def test_empty_states_say_what_to_do(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["lawyer_other"])
        assert "You are not counsel on any case yet" in client.get("/cases").text


class TestSearchKeepsTermsOutOfTheAddress:
    """Names and document numbers never reach the URL (browser history on a seized laptop)."""

    def _person(self, app: FastAPI, world: World) -> tuple[str, str]:
        with TestClient(app, client=(fresh_address(), 1)) as api:
            team = Team(app, api)
            cw = team.login(world.users["caseworker"])
            name, number = unique("Keo Sothea"), unique("N").upper().replace("-", "")
            person = team.person(cw, full_name=name, current_country="THA")
            team.document(cw, person, number=number)
        return name, number

    def test_the_search_form_posts_with_its_csrf_token(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["caseworker"])
        page = client.get("/people").text
        form = page[
            page.index('role="search"') - 200 : page.index("</form>", page.index('role="search"'))
        ]
        assert 'method="post" action="/people"' in form
        assert 'name="csrf_token"' in form

    def test_a_search_by_name_or_number_is_a_post_to_a_bare_address(
        self, app: FastAPI, world: World
    ) -> None:
        name, number = self._person(app, world)
        client, token = _signed_in(app, world.users["caseworker"])
        for terms in ({"name": name}, {"document_number": number}):
            response = client.post("/people", data={"csrf_token": token, **terms})
            assert response.status_code == 200, response.text
            assert str(response.url).endswith("/people")
            assert name in response.text and "1 person found" in response.text
            assert response.headers["cache-control"].startswith("no-store")

    def test_a_search_without_the_csrf_token_is_refused(self, app: FastAPI, world: World) -> None:
        name, _ = self._person(app, world)
        client, _ = _signed_in(app, world.users["caseworker"])
        response = client.post("/people", data={"name": name})
        assert response.status_code == 403
        assert name not in response.text

    def test_terms_in_the_address_are_not_searched_for(self, app: FastAPI, world: World) -> None:
        name, number = self._person(app, world)
        client, _ = _signed_in(app, world.users["caseworker"])
        response = client.get(
            "/people",
            params={"name": name, "document_number": number, "country": "THA"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/people?country=THA"

    def test_filters_without_terms_stay_linkable(self, app: FastAPI, world: World) -> None:
        name, _ = self._person(app, world)
        client, _ = _signed_in(app, world.users["caseworker"])
        response = client.get("/people", params={"country": "THA", "risk_level": "low"})
        assert response.status_code == 200
        assert name in response.text
        assert client.get("/people?all=1").status_code == 200


class TestUserTextIsIsolated:
    """Text people typed sits in its own direction run (<bdi>, or dir="auto" for prose), so a
    right-to-left name or an override inside a note cannot reorder the page around it."""

    def test_names_notes_and_places_are_isolated(self, app: FastAPI, world: World) -> None:
        name, native = unique("Keo Sothea"), "\u0645\u0647\u200c\u0646\u0627\u0632"
        with TestClient(app, client=(fresh_address(), 1)) as api:
            team = Team(app, api)
            cw = team.login(world.users["caseworker"])
            person = team.register(
                cw,
                full_name=name,
                native_name=native,
                aliases=["Sothea K."],
                current_location="Room 12\u202e, Lat Phrao",
                notes="Fled in 2023.",
            )["id"]
            case = team.case(cw, person)["id"]
            team.note(cw, case, "Met at the office \u202eevil")
        client, _ = _signed_in(app, world.users["caseworker"])
        page = client.get(f"/people/{person}").text
        assert f"<bdi>{name}</bdi>" in page
        assert f'<bdi lang="km" class="native">{native}</bdi>' in page
        assert "<bdi>Sothea K.</bdi>" in page
        assert "<bdi>Room 12\u202e, Lat Phrao</bdi>" in page
        assert '<dd class="prose" dir="auto">Fled in 2023.</dd>' in page
        case_page = client.get(f"/cases/{case}").text
        assert f"<bdi>{name}</bdi>" in case_page
        assert '<p class="prose" dir="auto">Met at the office \u202eevil</p>' in case_page
        assert f"<bdi>{world.users['caseworker'].username}</bdi>" in case_page


class TestIncidentFinderKeepsNamesOutOfTheAddress:
    """The incident form's "find more people by name" is a search too: posted, never in a URL."""

    def test_the_finder_posts_with_its_csrf_token(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["caseworker"])
        page = client.get(f"/incidents/new?person={world.person}").text
        start = page.index('aria-label="Find more people for this incident"')
        form = page[page.rindex("<form", 0, start) : page.index("</form>", start)]
        assert 'method="post" action="/incidents/new"' in form
        assert 'name="csrf_token"' in form
        assert f'name="person" value="{world.person}"' in form

    def test_a_name_posted_finds_the_person(self, app: FastAPI, world: World) -> None:
        name = unique("Pich Vanna")
        with TestClient(app, client=(fresh_address(), 1)) as api:
            team = Team(app, api)
            team.person(team.login(world.users["caseworker"]), full_name=name)
        client, token = _signed_in(app, world.users["caseworker"])
        response = client.post(
            "/incidents/new", data={"csrf_token": token, "find": name, "person": world.person}
        )
        assert response.status_code == 200, response.text
        assert str(response.url).endswith("/incidents/new")
        assert f"<bdi>{name}</bdi>" in response.text
        assert f'value="{world.person}" checked' in response.text
        refused = client.post("/incidents/new", data={"find": name})
        assert refused.status_code == 403

    def test_a_name_in_the_address_is_dropped(self, app: FastAPI, world: World) -> None:
        client, _ = _signed_in(app, world.users["caseworker"])
        response = client.get(
            "/incidents/new",
            params={"person": world.person, "find": "Sok Dara"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"/incidents/new?person={world.person}"
