"""Every role's own pages: administrators' (users, API keys, webhooks, organisations, the
country reference), analysts' statistics, auditors' trail and a supervisor's overview.

Signed in through the real form; each change is checked where it lands (a sign-in, the API,
the audit trail), not only on the page.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import transaction
from app.models.alert import OutboxMessage
from app.models.audit import AuditEntry
from app.models.base import utcnow
from app.models.individual import Individual
from tests.conftest import deployment_of_its_own, fresh_address
from tests.factories import PASSWORD, Team, UserHandle, login, make_user, unique
from tests.web.support import csrf, field_errors, sign_in

API = "/api/v1"
NOTHING = "nothing to show you"


def signed_in(app: FastAPI, user: UserHandle) -> tuple[TestClient, str]:
    client = TestClient(app, client=(fresh_address(), 1))
    return client, sign_in(client, user)


def attempt(app: FastAPI, username: str, password: str) -> int:
    client = TestClient(app, client=(fresh_address(), 1))
    body = {"username": username, "password": password}
    return client.post(f"{API}/auth/login", json=body).status_code


def audited(app: FastAPI, action: str, subject: uuid.UUID | str) -> bool:
    with transaction(app.state.sessionmaker) as session:
        found = session.scalar(
            select(AuditEntry.seq).where(
                AuditEntry.action == action, AuditEntry.subject_id == uuid.UUID(str(subject))
            )
        )
    return found is not None


@pytest.fixture
def admin(app: FastAPI, team: Team) -> tuple[TestClient, str]:
    return signed_in(app, team.user("admin"))


class TestHomes:
    @pytest.mark.parametrize(
        ("role", "home", "shows"),
        [
            ("admin", "/admin", "Create an account"),
            ("analyst", "/analyst", "People by risk level"),
            ("auditor", "/audit", "Verify the chain"),
        ],
    )
    def test_each_role_lands_on_its_work(
        self, app: FastAPI, team: Team, role: str, home: str, shows: str
    ) -> None:
        client, _ = signed_in(app, team.user(role))
        first = client.get("/", follow_redirects=False)
        assert (first.status_code, first.headers["location"]) == (303, home)
        page = client.get("/")
        assert page.status_code == 200 and shows in page.text and NOTHING not in page.text

    def test_a_supervisor_sees_the_organisations_work(self, app: FastAPI, team: Team) -> None:
        cw = team.caseworker
        name = unique("Keo Malis")
        person = team.person(cw, full_name=name, check_in_every_hours=24)
        case = team.case(cw, person)
        elsewhere = team.elsewhere()
        theirs = elsewhere.person(elsewhere.caseworker, check_in_every_hours=1)
        with transaction(app.state.sessionmaker) as session:
            for who in (person, theirs):
                row = session.get_one(Individual, who)
                row.last_check_in_at = utcnow() - dt.timedelta(days=3)
        client, _ = signed_in(app, team.supervisor.user)
        page = client.get("/supervisor")
        assert page.status_code == 200
        assert "Open alerts by severity and age" in page.text
        assert "Cases with no caseworker" in page.text and "Overdue check-ins" in page.text
        # The overdue person by name (a read of their record, audited); another
        # organisation's person is not there.
        assert name in page.text and f"/people/{person}" in page.text
        assert audited(app, "individual.read", person)
        assert str(theirs) not in page.text
        # The registering caseworker works the case: it is not listed as unassigned...
        assert case["id"] not in page.text
        # ...until the supervisor takes them off it.
        removed = team.client.delete(
            f"{API}/cases/{case['id']}/assignments/{cw.id}", headers=team.supervisor.headers
        )
        assert removed.status_code == 204, removed.text
        assert f'href="/cases/{case["id"]}"' in client.get("/supervisor").text

    @pytest.mark.parametrize(
        ("role", "path"),
        [
            ("caseworker", "/admin"),
            ("supervisor", "/admin/users"),
            ("analyst", "/audit"),
            ("auditor", "/analyst"),
            ("admin", "/analyst"),
            ("caseworker", "/admin/webhooks"),
            ("analyst", "/admin/countries"),
        ],
    )
    def test_other_roles_are_refused(self, app: FastAPI, team: Team, role: str, path: str) -> None:
        client, _ = signed_in(app, team.user(role))
        assert client.get(path).status_code == 403


class TestUsers:
    def test_create_then_sign_in(self, app: FastAPI, admin: tuple[TestClient, str]) -> None:
        client, token = admin
        username = unique("new.caseworker")
        made = client.post(
            "/admin/users",
            data={
                "csrf_token": token,
                "username": username,
                "role": "caseworker",
                "password": PASSWORD,
            },
            follow_redirects=False,
        )
        assert made.status_code == 303, made.text
        assert "Account created" in client.get(made.headers["location"]).text
        assert attempt(app, username, PASSWORD) == 200
        # A page holds 100 accounts by username; the list from just before this one.
        assert username in client.get(f"/admin/users?after={username[:-1]}").text

    def test_a_bad_account_keeps_the_form(self, admin: tuple[TestClient, str]) -> None:
        client, token = admin
        response = client.post(
            "/admin/users",
            data={"csrf_token": token, "username": "x y", "role": "caseworker", "password": "p"},
        )
        assert response.status_code == 422
        assert 'value="x y"' in response.text

    def test_without_the_csrf_token_nothing_is_created(
        self, app: FastAPI, admin: tuple[TestClient, str]
    ) -> None:
        client, _ = admin
        username = unique("forged")
        response = client.post(
            "/admin/users",
            data={
                "csrf_token": "forged",
                "username": username,
                "role": "admin",
                "password": PASSWORD,
            },
        )
        assert response.status_code == 403
        assert attempt(app, username, PASSWORD) == 401

    def test_a_lockout_is_shown_with_its_end_and_lifted(
        self, app: FastAPI, team: Team, admin: tuple[TestClient, str]
    ) -> None:
        client, token = admin
        user = team.user("caseworker")
        for _ in range(5):
            attempt(app, user.username, "wrong wrong wrong")
        assert attempt(app, user.username, PASSWORD) == 429
        listed = client.get(f"/admin/users?after={user.username[:-1]}").text
        row = listed.split(f">{user.username}</bdi>", 1)[1].split("</tr>", 1)[0]
        assert re.search(r"Locked until \d+ \w+ \d{4}, \d\d:\d\d UTC", row), row
        page = client.get(f"/admin/users/{user.id}").text
        assert "Locked out until" in page and "Unlock now" in page
        done = client.post(f"/admin/users/{user.id}/unlock", data={"csrf_token": token})
        assert "Account unlocked" in done.text and "Locked out until" not in done.text
        assert attempt(app, user.username, PASSWORD) == 200
        assert audited(app, "user.unlock", user.id)

    def test_a_role_changes_only_once_confirmed(
        self, app: FastAPI, team: Team, admin: tuple[TestClient, str]
    ) -> None:
        client, token = admin
        user = team.user("analyst")
        asked = client.post(
            f"/admin/users/{user.id}/role", data={"csrf_token": token, "role": "supervisor"}
        )
        assert asked.status_code == 200
        assert "Make" in asked.text and 'name="confirm" value="yes"' in asked.text
        assert attempt(app, user.username, PASSWORD) == 200
        headers = login(TestClient(app, client=(fresh_address(), 1)), user)
        assert client.get(f"/admin/users/{user.id}").text.count("Analyst") >= 1
        confirmed = client.post(
            f"/admin/users/{user.id}/role",
            data={"csrf_token": token, "role": "supervisor", "confirm": "yes"},
        )
        assert "Role changed" in confirmed.text
        assert audited(app, "user.update", user.id)
        # The account's sessions ended with the change.
        fresh = TestClient(app, client=(fresh_address(), 1))
        assert fresh.get(f"{API}/auth/me", headers=headers).status_code == 401

    def test_nobody_changes_their_own_role(self, app: FastAPI, team: Team) -> None:
        me = team.user("admin")
        client, token = signed_in(app, me)
        response = client.post(
            f"/admin/users/{me.id}/role",
            data={"csrf_token": token, "role": "supervisor", "confirm": "yes"},
        )
        assert response.status_code == 403
        headers = login(TestClient(app, client=(fresh_address(), 1)), me)
        me_now = TestClient(app, client=(fresh_address(), 1)).get(f"{API}/auth/me", headers=headers)
        assert me_now.json()["role"] == "admin"

    def test_a_password_reset_is_shown_once_and_ends_the_old_one(
        self, app: FastAPI, team: Team, admin: tuple[TestClient, str]
    ) -> None:
        client, token = admin
        user = team.user("caseworker")
        reset = client.post(f"/admin/users/{user.id}/password", data={"csrf_token": token})
        assert reset.status_code == 200
        temporary = re.search(r'<p class="secret mono">([^<]+)</p>', reset.text)
        assert temporary
        assert attempt(app, user.username, PASSWORD) == 401
        assert attempt(app, user.username, temporary.group(1)) == 200
        assert temporary.group(1) not in client.get(f"/admin/users/{user.id}").text
        assert audited(app, "user.password_reset", user.id)

    def test_disable_and_enable(
        self, app: FastAPI, team: Team, admin: tuple[TestClient, str]
    ) -> None:
        client, token = admin
        user = team.user("lawyer")
        off = client.post(f"/admin/users/{user.id}/disable", data={"csrf_token": token})
        assert "Account disabled" in off.text
        assert attempt(app, user.username, PASSWORD) == 401
        on = client.post(f"/admin/users/{user.id}/enable", data={"csrf_token": token})
        assert "Account enabled" in on.text
        assert attempt(app, user.username, PASSWORD) == 200

    def test_unknown_user_is_404(self, admin: tuple[TestClient, str]) -> None:
        client, token = admin
        assert client.get(f"/admin/users/{uuid.uuid4()}").status_code == 404
        gone = client.post(f"/admin/users/{uuid.uuid4()}/unlock", data={"csrf_token": token})
        assert gone.status_code == 404


class TestKeysAndHooks:
    def test_an_api_key_is_shown_once_and_revoked(
        self, app: FastAPI, admin: tuple[TestClient, str]
    ) -> None:
        client, token = admin
        name = unique("Detention feed")
        made = client.post("/admin/api-keys", data={"csrf_token": token, "name": name})
        assert made.status_code == 200
        key = re.search(r'<p class="secret mono">(hvn_k_[^<]+)</p>', made.text)
        assert key
        bearer = {"Authorization": f"Bearer {key.group(1)}"}
        api = TestClient(app, client=(fresh_address(), 1))
        assert api.get(f"{API}/auth/me", headers=bearer).json()["kind"] == "api_key"
        listing = client.get("/admin/api-keys").text
        assert name in listing and key.group(1) not in listing
        key_id = api.get(f"{API}/auth/me", headers=bearer).json()["id"]
        revoked = client.post(f"/admin/api-keys/{key_id}/revoke", data={"csrf_token": token})
        assert "API key revoked" in revoked.text, revoked.text[-3000:]
        assert api.get(f"{API}/auth/me", headers=bearer).status_code == 401

    def test_a_webhook_with_an_unknown_event_is_refused(
        self, admin: tuple[TestClient, str]
    ) -> None:
        client, token = admin
        response = client.post(
            "/admin/webhooks",
            data={
                "csrf_token": token,
                "url": "https://hooks.example.org/x",
                "events": "alert.crated",
            },
        )
        assert response.status_code == 422
        assert "alert.crated" in field_errors(response.text)["events"]

    def test_a_webhook_gets_a_test_notice_listed_among_its_deliveries(
        self, app: FastAPI, admin: tuple[TestClient, str]
    ) -> None:
        client, token = admin
        url = f"https://hooks.example.org/{uuid.uuid4().hex}"
        made = client.post(
            "/admin/webhooks",
            data={"csrf_token": token, "url": url, "events": ["alert.created", "alert.resolved"]},
        )
        assert made.status_code == 200, made.text
        assert re.search(r'<p class="secret mono">whsec_[^<]+</p>', made.text)
        hook = re.search(r'id="hook-([0-9a-f-]{36})"', made.text)
        assert hook
        sent = client.post(f"/admin/webhooks/{hook.group(1)}/test", data={"csrf_token": token})
        assert "Test notice queued" in sent.text
        assert "webhook.test" in sent.text and "Pending" in sent.text
        with transaction(app.state.sessionmaker) as session:
            row = session.scalar(
                select(OutboxMessage).where(OutboxMessage.target_id == uuid.UUID(hook.group(1)))
            )
            assert row is not None and row.event == "webhook.test" and row.alert_id is None
        assert "whsec_" not in client.get("/admin/webhooks").text

    def test_another_organisations_webhook_is_not_found(
        self, app: FastAPI, team: Team, admin: tuple[TestClient, str]
    ) -> None:
        other_client, other_token = signed_in(app, team.elsewhere().user("admin"))
        made = other_client.post(
            "/admin/webhooks",
            data={
                "csrf_token": other_token,
                "url": "https://hooks.example.org/theirs",
                "events": "*",
            },
        )
        hook = re.search(r'id="hook-([0-9a-f-]{36})"', made.text)
        assert hook
        client, token = admin
        response = client.post(f"/admin/webhooks/{hook.group(1)}/test", data={"csrf_token": token})
        assert response.status_code == 404


class TestOrganisationsAndCountries:
    def test_add_an_organisation(self, admin: tuple[TestClient, str]) -> None:
        client, token = admin
        name = unique("Legal Aid Partner")
        done = client.post("/admin/organisations", data={"csrf_token": token, "name": name})
        assert "Organisation added" in done.text and name in done.text

    def test_correct_a_country(self, app: FastAPI, admin: tuple[TestClient, str]) -> None:
        client, token = admin
        note = unique("Deportations resumed")
        done = client.post(
            "/admin/countries",
            data={
                "csrf_token": token,
                "country": "tha",
                "party_cat": "yes",
                "note": note,
                "reason": "Ministry statement",
            },
        )
        assert done.status_code == 200 and "Correction saved" in done.text
        assert note in done.text
        missing = client.post(
            "/admin/countries", data={"csrf_token": token, "country": "ZZZ", "reason": "x"}
        )
        assert missing.status_code == 422


class TestAnalystAndAuditor:
    def test_statistics_are_charts_beside_tables(self, app: FastAPI, team: Team) -> None:
        cw = team.caseworker
        for _ in range(6):
            team.person(cw, current_country="THA")
        client, _ = signed_in(app, team.user("analyst"))
        page = client.get("/analyst")
        assert page.status_code == 200
        assert page.text.count('<svg class="chart"') >= 1
        assert " style=" not in page.text and "<script>" not in page.text
        assert "Thailand" in page.text
        csv = client.get(f"{API}/stats?by=country&format=hxl")
        assert csv.status_code == 200 and "#country+code" in csv.text

    def test_the_audit_trail_filters_and_verifies(self, app: FastAPI, team: Team) -> None:
        client, token = signed_in(app, team.user("auditor"))
        page = client.get("/audit?action=auth.login")
        assert page.status_code == 200
        actions = set(re.findall(r'class="mono">([a-z_.]+)</a>', page.text))
        assert actions == {"auth.login"}
        verified = client.post("/audit/verify", data={"csrf_token": token})
        assert verified.status_code == 200 and "The chain holds" in verified.text
        assert client.get("/audit?actor=not-an-id&after=-1").status_code == 200


class TestWeightAndLockoutPage:
    @pytest.fixture(scope="class")
    def app(self, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
        """A deployment of a few organisations (the shared test database holds hundreds,
        each an option of the new account form's organisation picker)."""
        with deployment_of_its_own(tmp_path_factory.mktemp("weight")) as application:
            yield application

    def test_full_pages_stay_light(self, app: FastAPI, team: Team) -> None:
        """100 accounts, 50 audit entries, four charts: each page under 100 KB with its CSS
        and script (tests/web/test_weight.py's budget)."""
        from bench.web import page_weight

        prefix = unique("bulk")
        for i in range(100):
            make_user(app, "caseworker", username=f"{prefix}-{i:03d}")
        client, _ = signed_in(app, team.user("admin"))
        users = page_weight(client, f"/admin/users?after={prefix}")
        assert users["total"] < 100 * 1024, users
        assert client.get(f"/admin/users?after={prefix}").text.count(f">{prefix}-") == 100
        auditor, _ = signed_in(app, team.user("auditor"))
        trail = page_weight(auditor, "/audit")
        assert trail["total"] < 100 * 1024, trail
        analyst, _ = signed_in(app, team.user("analyst"))
        charts = page_weight(analyst, "/analyst")
        assert charts["total"] < 100 * 1024, charts

    def test_the_sign_in_page_says_until_when_an_account_is_locked(
        self, app: FastAPI, team: Team
    ) -> None:
        user = team.user("caseworker")
        client = TestClient(app, client=(fresh_address(), 1))
        for password in ["wrong wrong wrong"] * 5 + [PASSWORD]:
            page = client.get("/login")
            answer = client.post(
                "/login",
                data={
                    "csrf_token": csrf(page.text),
                    "username": user.username,
                    "password": password,
                    "code": "",
                    "next": "/",
                },
                follow_redirects=False,
            )
        assert answer.status_code == 429
        assert re.search(r"locked for 1[45] more minutes, until \d\d:\d\d UTC", answer.text)
        assert "try again later" not in answer.text
