"""Staff accounts managed by an admin: creation, password rules, listing, changes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.models.user import User
from tests.auth.support import ME, attempt, raw_row
from tests.factories import PASSWORD, UserHandle, db, login, make_organisation, make_user, unique

USERS = "/api/v1/users"
NON_ADMIN_ROLES = ["supervisor", "caseworker", "lawyer", "analyst", "auditor"]


def _create(client: TestClient, headers: dict[str, str], **fields: Any) -> Any:
    body = {"username": unique("staff"), "password": PASSWORD, "role": "caseworker", **fields}
    return client.post(USERS, json=body, headers=headers)


def _all_users(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every user, following the cursor through the pages."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        response = client.get(USERS, params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


class TestCreateUser:
    def test_create_with_name_and_email(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        name, email = f"Amara Okafor {uuid.uuid4().hex[:6]}", f"{unique('amara')}@example.org"
        response = _create(client, admin_headers, role="supervisor", full_name=name, email=email)
        assert response.status_code == 201
        body = response.json()
        assert body["full_name"] == name and body["email"] == email
        assert body["role"] == "supervisor" and body["disabled"] is False
        assert body["mfa_enabled"] is False
        assert "password" not in body and "password_hash" not in body
        read = client.get(f"{USERS}/{body['id']}", headers=admin_headers).json()
        assert read["full_name"] == name and read["email"] == email
        assert read["username"] == body["username"]

    def test_name_and_email_are_stored_encrypted(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        name, email = f"Amara Okafor {uuid.uuid4().hex[:6]}", f"{unique('amara')}@example.org"
        response = _create(client, admin_headers, full_name=name, email=email)
        assert response.status_code == 201
        with db(app) as session:
            row = raw_row(session, "user", "id", uuid.UUID(response.json()["id"]))
        for column, value in (("full_name_ct", name), ("email_ct", email)):
            sealed = bytes(row[column])
            assert sealed
            assert value.encode() not in sealed
            assert value.encode("utf-16-le") not in sealed
        assert not any(isinstance(v, str) and (name in v or email in v) for v in row.values())

    def test_the_created_user_can_sign_in(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        response = _create(client, admin_headers, role="auditor")
        assert response.status_code == 201
        body = response.json()
        user = UserHandle(body["id"], body["username"], "auditor", body["organisation"])
        me = client.get(ME, headers=login(client, user)).json()
        assert me["role"] == "auditor" and me["id"] == body["id"]

    def test_password_is_not_stored_in_clear(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        response = _create(client, admin_headers)
        with db(app) as session:
            row = raw_row(session, "user", "id", uuid.UUID(response.json()["id"]))
        assert PASSWORD not in row["password_hash"]
        assert row["password_hash"].startswith("$argon2id$")

    def test_into_a_named_organisation(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        org = make_organisation(app)
        response = _create(client, admin_headers, organisation=org.name)
        assert response.status_code == 201
        assert response.json()["organisation"] == str(org.id)

    def test_unknown_organisation_is_400(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        response = _create(client, admin_headers, organisation=unique("no-such-org"))
        assert response.status_code == 400

    def test_duplicate_username_is_409(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        username = unique("twin")
        assert _create(client, admin_headers, username=username).status_code == 201
        again = _create(client, admin_headers, username=username, role="auditor")
        assert again.status_code == 409

    def test_unknown_role_is_422(self, client: TestClient, admin_headers: dict[str, str]) -> None:
        assert _create(client, admin_headers, role="superuser").status_code == 422

    @pytest.mark.parametrize("username", ["a", "has space", "-leading-dash", "x" * 65, "ünï"])
    def test_bad_username_is_refused(
        self, client: TestClient, admin_headers: dict[str, str], username: str
    ) -> None:
        assert _create(client, admin_headers, username=username).status_code in (400, 422)

    def test_unknown_fields_are_refused(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        assert _create(client, admin_headers, disabled=True).status_code == 422

    def test_invalid_email_is_422(self, client: TestClient, admin_headers: dict[str, str]) -> None:
        assert _create(client, admin_headers, email="not-an-address").status_code == 422


class TestPasswordRules:
    @pytest.mark.parametrize(
        "password",
        [
            "elevenchars",  # 11 characters
            "x" * 129,
            "password1234",
            "qwerty123456",
            "PASSWORD1234",  # common, whatever the case
        ],
    )
    def test_refused(
        self, client: TestClient, admin_headers: dict[str, str], password: str
    ) -> None:
        response = _create(client, admin_headers, password=password)
        assert response.status_code == 400, response.text

    def test_password_equal_to_username_is_refused(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        username = unique("samename")
        assert (
            _create(client, admin_headers, username=username, password=username).status_code == 400
        )
        upper = _create(client, admin_headers, username=username, password=username.upper())
        assert upper.status_code == 400

    @pytest.mark.parametrize("password", ["mauve kettle", "y" * 128, "ŝtelo kaj ĉeval"])
    def test_accepted(
        self, client: TestClient, admin_headers: dict[str, str], password: str
    ) -> None:
        response = _create(client, admin_headers, password=password)
        assert response.status_code == 201, response.text
        body = response.json()
        user = UserHandle(
            body["id"], body["username"], body["role"], body["organisation"], password
        )
        login(client, user)

    def test_no_composition_rules(self, client: TestClient, admin_headers: dict[str, str]) -> None:
        # Twelve lowercase letters and spaces: long and uncommon is enough.
        assert _create(client, admin_headers, password="plum orchard").status_code == 201


class TestListAndGet:
    def test_list_includes_new_users(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        one, two = make_user(app, "caseworker"), make_user(app, "lawyer")
        listed = {u["id"]: u for u in _all_users(client, admin_headers)}
        assert listed[str(one.id)]["username"] == one.username
        assert listed[str(two.id)]["role"] == "lawyer"

    def test_list_is_paged_by_cursor(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        make_user(app, "caseworker")
        make_user(app, "caseworker")
        first = client.get(USERS, params={"limit": 1}, headers=admin_headers).json()
        assert len(first["items"]) == 1 and first["next_cursor"]
        second = client.get(
            USERS, params={"limit": 1, "cursor": first["next_cursor"]}, headers=admin_headers
        ).json()
        assert len(second["items"]) == 1
        assert second["items"][0]["username"] > first["items"][0]["username"]

    def test_list_never_shows_password_hashes(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        response = client.get(USERS, headers=admin_headers)
        assert "argon2" not in response.text

    def test_get_one(self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]) -> None:
        user = make_user(app, "analyst", full_name="Ines Duarte")
        response = client.get(f"{USERS}/{user.id}", headers=admin_headers)
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == str(user.id) and body["username"] == user.username
        assert body["role"] == "analyst" and body["full_name"] == "Ines Duarte"
        assert body["organisation"] == str(user.organisation_id)

    def test_get_unknown_is_404(self, client: TestClient, admin_headers: dict[str, str]) -> None:
        response = client.get(f"{USERS}/{uuid.uuid4()}", headers=admin_headers)
        assert response.status_code == 404


class TestUsersAccess:
    @pytest.mark.parametrize("role", NON_ADMIN_ROLES)
    def test_non_admin_roles_are_403(self, client: TestClient, app: FastAPI, role: str) -> None:
        user = make_user(app, role)
        headers = login(client, user)
        assert client.get(USERS, headers=headers).status_code == 403
        assert client.get(f"{USERS}/{user.id}", headers=headers).status_code == 403
        assert _create(client, headers).status_code == 403
        assert (
            client.patch(f"{USERS}/{user.id}", json={"role": "admin"}, headers=headers).status_code
            == 403
        )
        assert client.delete(f"{USERS}/{user.id}", headers=headers).status_code == 403
        assert client.get(ME, headers=headers).json()["role"] == role

    def test_no_token_is_401(self, client: TestClient) -> None:
        assert client.get(USERS).status_code == 401
        assert _create(client, {}).status_code == 401


class TestUpdateUser:
    def test_role_change_revokes_tokens(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        user = make_user(app, "caseworker")
        headers = login(client, user)
        response = client.patch(
            f"{USERS}/{user.id}", json={"role": "supervisor"}, headers=admin_headers
        )
        assert response.status_code == 200
        assert response.json()["role"] == "supervisor"
        assert client.get(ME, headers=headers).status_code == 401
        assert client.get(ME, headers=login(client, user)).json()["role"] == "supervisor"

    def test_role_change_is_persisted(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        user = make_user(app, "caseworker")
        client.patch(f"{USERS}/{user.id}", json={"role": "lawyer"}, headers=admin_headers)
        assert client.get(f"{USERS}/{user.id}", headers=admin_headers).json()["role"] == "lawyer"

    def test_contact_change_keeps_tokens(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        user = make_user(app, "caseworker", full_name="Old Name", email="old@example.org")
        headers = login(client, user)
        response = client.patch(
            f"{USERS}/{user.id}", json={"full_name": "New Name"}, headers=admin_headers
        )
        assert response.status_code == 200
        assert response.json()["full_name"] == "New Name"
        assert response.json()["email"] == "old@example.org"
        assert client.get(ME, headers=headers).status_code == 200

    def test_unknown_role_is_422(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        user = make_user(app, "caseworker")
        response = client.patch(f"{USERS}/{user.id}", json={"role": "root"}, headers=admin_headers)
        assert response.status_code == 422

    def test_password_cannot_be_set_by_patch(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        user = make_user(app, "caseworker")
        response = client.patch(
            f"{USERS}/{user.id}", json={"password": "a brand new passphrase"}, headers=admin_headers
        )
        assert response.status_code == 422
        login(client, user)

    def test_unknown_user_is_404(self, client: TestClient, admin_headers: dict[str, str]) -> None:
        url = f"{USERS}/{uuid.uuid4()}"
        assert client.patch(url, json={"disabled": True}, headers=admin_headers).status_code == 404
        assert client.delete(url, headers=admin_headers).status_code == 404

    def test_disable_then_enable(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        user = make_user(app, "caseworker")
        url = f"{USERS}/{user.id}"
        assert client.delete(url, headers=admin_headers).json()["disabled"] is True
        assert attempt(client, user.username, PASSWORD).status_code == 401
        assert client.patch(url, json={"disabled": False}, headers=admin_headers).status_code == 200
        login(client, user)


class TestLockoutAndPasswordReset:
    def test_a_lockout_is_shown_until_when_and_lifted(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        user = make_user(app, "caseworker")
        assert (
            client.get(f"{USERS}/{user.id}", headers=admin_headers).json()["locked_until"] is None
        )
        for _ in range(5):
            attempt(client, user.username, "not the password at all")
        assert attempt(client, user.username, PASSWORD).status_code == 429
        shown = client.get(f"{USERS}/{user.id}", headers=admin_headers).json()["locked_until"]
        assert shown is not None
        unlocked = client.post(f"{USERS}/{user.id}/unlock", headers=admin_headers)
        assert unlocked.status_code == 200, unlocked.text
        assert unlocked.json()["locked_until"] is None
        assert attempt(client, user.username, PASSWORD).status_code == 200

    def test_unlocking_an_unknown_account_is_404(
        self, client: TestClient, admin_headers: dict[str, str]
    ) -> None:
        assert (
            client.post(f"{USERS}/{uuid.uuid4()}/unlock", headers=admin_headers).status_code == 404
        )

    def test_a_password_reset_ends_the_old_password_and_sessions(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        user = make_user(app, "caseworker")
        headers = login(client, user)
        new = "an entirely new passphrase"
        response = client.post(
            f"{USERS}/{user.id}/password", json={"password": new}, headers=admin_headers
        )
        assert response.status_code == 200, response.text
        assert new not in response.text
        assert client.get(ME, headers=headers).status_code == 401
        assert attempt(client, user.username, PASSWORD).status_code == 401
        assert attempt(client, user.username, new).status_code == 200

    @pytest.mark.parametrize("password", ["short", "q1w2e3r4t5y6u7i8o9p0"])
    def test_a_weak_new_password_is_refused(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str], password: str
    ) -> None:
        user = make_user(app, "caseworker")
        response = client.post(
            f"{USERS}/{user.id}/password", json={"password": password}, headers=admin_headers
        )
        assert response.status_code == 400
        assert attempt(client, user.username, PASSWORD).status_code == 200

    def test_nobody_resets_their_own_password_here(self, client: TestClient, app: FastAPI) -> None:
        admin = make_user(app, "admin")
        headers = login(client, admin)
        response = client.post(
            f"{USERS}/{admin.id}/password",
            json={"password": "another long passphrase"},
            headers=headers,
        )
        assert response.status_code == 403


class TestSwappedContact:
    def test_an_e_mail_moved_from_another_account_is_refused_not_shown_nor_fatal(
        self,
        client: TestClient,
        app: FastAPI,
        admin_headers: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A sealed e-mail copied onto another account fails authentication (it is bound to
        its row): that account reads as having none, the error is logged without the address,
        and the list of accounts still opens."""
        email = f"{unique('swap')}@example.org"
        owner = _create(client, admin_headers, email=email).json()
        other = _create(client, admin_headers).json()
        with db(app) as session:
            source = session.get(User, uuid.UUID(owner["id"]))
            target = session.get(User, uuid.UUID(other["id"]))
            assert source is not None and target is not None
            target.email_ct = source.email_ct
        read = client.get(f"{USERS}/{other['id']}", headers=admin_headers)
        assert read.status_code == 200 and read.json()["email"] is None
        assert client.get(f"{USERS}/{owner['id']}", headers=admin_headers).json()["email"] == email
        listed = {u["id"]: u for u in _all_users(client, admin_headers)}
        assert listed[other["id"]]["email"] is None
        assert any("failed authentication" in r.getMessage() for r in caplog.records)
        assert not any(email in r.getMessage() for r in caplog.records)
