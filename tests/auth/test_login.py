"""Signing in and out, bearer tokens and their expiry and revocation, brute-force throttling."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.auth import service
from app.models.base import utcnow
from app.models.user import AuthToken, LoginThrottle, User
from tests.auth.support import (
    LOGIN,
    ME,
    attempt,
    audit_entries,
    bearer,
    db,
    mentions,
    request_id,
    sha256,
    token_of,
)
from tests.conftest import fresh_address
from tests.factories import PASSWORD, UserHandle, login, make_organisation, make_user, unique

WRONG = "not the right passphrase at all"


def _set_token(app: FastAPI, token: str, **values: dt.datetime) -> None:
    with db(app) as session:
        changed = session.execute(
            update(AuthToken).where(AuthToken.token_hash == sha256(token)).values(**values)
        ).rowcount
    assert changed == 1


def _end_lockout(app: FastAPI, username: str) -> None:
    """Move the account's lock into the past, as if the lockout had run out."""
    with db(app) as session:
        key = service._throttle_keys(session, username, None)[0][0]
        row = session.get_one(LoginThrottle, key)
        assert row.locked_until is not None and row.locked_until > utcnow()
        row.locked_until = utcnow() - dt.timedelta(seconds=1)


class TestLogin:
    def test_success_returns_a_bearer_token(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        response = attempt(client, user.username, PASSWORD)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in"}
        assert body["token_type"] == "bearer"
        assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
        assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 40
        assert client.get(ME, headers=bearer(body["access_token"])).status_code == 200

    def test_every_login_issues_a_new_token(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        first, second = login(client, user), login(client, user)
        assert first != second
        assert client.get(ME, headers=first).status_code == 200
        assert client.get(ME, headers=second).status_code == 200

    def test_wrong_password_is_401(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        response = attempt(client, user.username, WRONG)
        assert response.status_code == 401
        assert "access_token" not in response.json()
        assert response.headers["WWW-Authenticate"] == "Bearer"

    def test_unknown_user_looks_like_a_wrong_password(
        self, client: TestClient, app: FastAPI
    ) -> None:
        user = make_user(app, "caseworker")
        wrong_password = attempt(client, user.username, WRONG)
        unknown = attempt(client, unique("nobody"), WRONG)
        assert unknown.status_code == wrong_password.status_code == 401
        assert unknown.json() == wrong_password.json()
        assert "mfa_required" not in unknown.json()

    def test_disabled_user_cannot_log_in(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        user = make_user(app, "caseworker")
        login(client, user)  # works while enabled
        disabled = client.patch(
            f"/api/v1/users/{user.id}", json={"disabled": True}, headers=admin_headers
        )
        assert disabled.status_code == 200
        response = attempt(client, user.username, PASSWORD)
        assert response.status_code == 401
        assert response.json() == attempt(client, unique("nobody"), WRONG).json()

    def test_missing_fields_are_422(self, client: TestClient) -> None:
        assert client.post(LOGIN, json={"username": "someone"}).status_code == 422
        assert client.post(LOGIN, json={"password": "x" * 12}).status_code == 422


class TestMe:
    def test_shape(self, client: TestClient, app: FastAPI) -> None:
        org = make_organisation(app)
        user = make_user(app, "lawyer", organisation=org)
        response = client.get(ME, headers=login(client, user))
        assert response.status_code == 200
        body = response.json()
        assert {"id", "username", "role", "organisation"} <= set(body)
        assert body["id"] == str(user.id)
        assert body["username"] == user.username
        assert body["role"] == "lawyer"
        assert body["organisation"] == str(org.id)
        assert body["kind"] == "user"

    def test_each_token_is_its_own_user(self, client: TestClient, app: FastAPI) -> None:
        one, two = make_user(app, "analyst"), make_user(app, "auditor")
        assert client.get(ME, headers=login(client, one)).json()["id"] == str(one.id)
        assert client.get(ME, headers=login(client, two)).json()["id"] == str(two.id)


class TestLogout:
    def test_logout_revokes_the_token(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        headers = login(client, user)
        assert client.get(ME, headers=headers).status_code == 200
        assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
        assert client.get(ME, headers=headers).status_code == 401
        assert client.post("/api/v1/auth/logout", headers=headers).status_code == 401

    def test_logout_leaves_other_sessions_alone(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        phone, laptop = login(client, user), login(client, user)
        assert client.post("/api/v1/auth/logout", headers=phone).status_code == 204
        assert client.get(ME, headers=laptop).status_code == 200


class TestTokens:
    def test_only_the_sha256_is_stored(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        token = token_of(login(client, user))
        with db(app) as session:
            rows = [
                dict(r)
                for r in session.execute(select(AuthToken.__table__)).mappings()
                if r["user_id"] == user.id
            ]
        assert len(rows) == 1
        assert rows[0]["token_hash"] == sha256(token)
        assert not mentions(rows[0], token)
        with db(app) as session:
            everything = session.execute(select(AuthToken.__table__)).mappings().all()
        assert not any(mentions(dict(r), token) for r in everything)

    def test_idle_token_expires(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        headers = login(client, user)
        _set_token(app, token_of(headers), last_used_at=utcnow() - dt.timedelta(minutes=31))
        response = client.get(ME, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"

    def test_use_keeps_a_token_alive(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        headers = login(client, user)
        token = token_of(headers)
        _set_token(app, token, last_used_at=utcnow() - dt.timedelta(minutes=29))
        assert client.get(ME, headers=headers).status_code == 200
        with db(app) as session:
            used = session.scalar(
                select(AuthToken.last_used_at).where(AuthToken.token_hash == sha256(token))
            )
        assert used is not None and utcnow() - used < dt.timedelta(minutes=1)

    def test_a_denied_request_counts_as_use(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "analyst")
        headers = login(client, user)
        token = token_of(headers)
        _set_token(app, token, last_used_at=utcnow() - dt.timedelta(minutes=29))
        assert client.get("/api/v1/users", headers=headers).status_code == 403
        with db(app) as session:
            used = session.scalar(
                select(AuthToken.last_used_at).where(AuthToken.token_hash == sha256(token))
            )
        assert used is not None and utcnow() - used < dt.timedelta(minutes=1)

    def test_absolute_expiry(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        headers = login(client, user)
        _set_token(app, token_of(headers), expires_at=utcnow() - dt.timedelta(seconds=1))
        assert client.get(ME, headers=headers).status_code == 401

    def test_absolute_lifetime_is_bounded(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        token = token_of(login(client, user))
        with db(app) as session:
            row = session.scalars(
                select(AuthToken).where(AuthToken.token_hash == sha256(token))
            ).one()
        assert row.expires_at - row.created_at <= dt.timedelta(hours=12, seconds=1)

    @pytest.mark.parametrize(
        "authorization",
        [
            "Bearer garbage",
            "Bearer hvn_s_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "Bearer hvn_k_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "Bearer ",
            "Bearer",
        ],
    )
    def test_garbage_token_is_401(self, client: TestClient, authorization: str) -> None:
        response = client.get(ME, headers={"Authorization": authorization})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"

    def test_missing_header_is_401(self, client: TestClient) -> None:
        response = client.get(ME)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"

    @pytest.mark.parametrize("scheme", ["Basic", "Token", "Bearerx", ""])
    def test_other_scheme_is_401_even_with_a_valid_token(
        self, client: TestClient, app: FastAPI, scheme: str
    ) -> None:
        user = make_user(app, "caseworker")
        token = token_of(login(client, user))
        response = client.get(ME, headers={"Authorization": f"{scheme} {token}".strip()})
        assert response.status_code == 401
        assert client.get(ME, headers=bearer(token)).status_code == 200

    def test_scheme_is_case_insensitive(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        token = token_of(login(client, user))
        assert client.get(ME, headers={"Authorization": f"bearer {token}"}).status_code == 200


class TestPasswordChange:
    URL = "/api/v1/auth/password"

    def test_change_revokes_tokens_and_swaps_passwords(
        self, client: TestClient, app: FastAPI
    ) -> None:
        user = make_user(app, "caseworker")
        headers, other = login(client, user), login(client, user)
        new = "another quite long passphrase"
        response = client.post(
            self.URL, json={"current_password": PASSWORD, "new_password": new}, headers=headers
        )
        assert response.status_code == 204
        assert client.get(ME, headers=headers).status_code == 401
        assert client.get(ME, headers=other).status_code == 401
        assert attempt(client, user.username, PASSWORD).status_code == 401
        fresh = login(
            client, UserHandle(user.id, user.username, user.role, user.organisation_id, new)
        )
        assert client.get(ME, headers=fresh).status_code == 200

    def test_wrong_current_password_is_refused(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        headers = login(client, user)
        response = client.post(
            self.URL,
            json={"current_password": WRONG, "new_password": "another quite long passphrase"},
            headers=headers,
        )
        assert response.status_code == 400
        assert client.get(ME, headers=headers).status_code == 200
        login(client, user)  # the old password still works

    @pytest.mark.parametrize("new", ["short pass", "password1234"])
    def test_new_password_follows_the_rules(
        self, client: TestClient, app: FastAPI, new: str
    ) -> None:
        user = make_user(app, "caseworker")
        headers = login(client, user)
        response = client.post(
            self.URL, json={"current_password": PASSWORD, "new_password": new}, headers=headers
        )
        assert response.status_code == 400
        assert client.get(ME, headers=headers).status_code == 200

    def test_requires_a_token(self, client: TestClient) -> None:
        response = client.post(
            self.URL, json={"current_password": PASSWORD, "new_password": "x" * 20}
        )
        assert response.status_code == 401


class TestAdminRevocation:
    def test_disabling_revokes_tokens(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        user = make_user(app, "supervisor")
        headers = login(client, user)
        response = client.patch(
            f"/api/v1/users/{user.id}", json={"disabled": True}, headers=admin_headers
        )
        assert response.status_code == 200 and response.json()["disabled"] is True
        assert client.get(ME, headers=headers).status_code == 401

    def test_deleting_disables_and_revokes_tokens(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        user = make_user(app, "supervisor")
        headers = login(client, user)
        response = client.delete(f"/api/v1/users/{user.id}", headers=admin_headers)
        assert response.status_code == 200 and response.json()["disabled"] is True
        assert client.get(ME, headers=headers).status_code == 401
        assert attempt(client, user.username, PASSWORD).status_code == 401

    def test_a_disabled_account_is_refused_even_with_a_live_token(
        self, client: TestClient, app: FastAPI
    ) -> None:
        # Disabled outside the API (no token revocation): the flag alone must suffice.
        user = make_user(app, "supervisor")
        headers = login(client, user)
        with db(app) as session:
            session.get_one(User, user.id).disabled = True
        assert client.get(ME, headers=headers).status_code == 401

    def test_re_enabling_does_not_revive_old_tokens(
        self, client: TestClient, app: FastAPI, admin_headers: dict[str, str]
    ) -> None:
        user = make_user(app, "supervisor")
        headers = login(client, user)
        url = f"/api/v1/users/{user.id}"
        assert client.patch(url, json={"disabled": True}, headers=admin_headers).status_code == 200
        assert client.patch(url, json={"disabled": False}, headers=admin_headers).status_code == 200
        assert client.get(ME, headers=headers).status_code == 401
        assert client.get(ME, headers=login(client, user)).status_code == 200


class TestBruteForce:
    def test_account_lockout(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        for _ in range(service.ACCOUNT_MAX_FAILURES):
            assert attempt(client, user.username, WRONG).status_code == 401
        locked = attempt(client, user.username, PASSWORD)
        assert locked.status_code == 429
        retry_after = int(locked.headers["Retry-After"])
        assert 0 < retry_after <= service.ACCOUNT_LOCKOUT.total_seconds() + 1
        assert "access_token" not in locked.json()
        # Told for how long and until when, not "try again later".
        detail = locked.json()["detail"]
        assert "later" not in detail
        assert re.search(r"for (15|14) more minutes, until \d\d:\d\d UTC", detail), detail

    def test_four_failures_do_not_lock(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        for _ in range(service.ACCOUNT_MAX_FAILURES - 1):
            assert attempt(client, user.username, WRONG).status_code == 401
        login(client, user)

    def test_success_resets_the_count(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        for _ in range(service.ACCOUNT_MAX_FAILURES - 1):
            assert attempt(client, user.username, WRONG).status_code == 401
        login(client, user)
        for _ in range(service.ACCOUNT_MAX_FAILURES - 1):
            assert attempt(client, user.username, WRONG).status_code == 401
        login(client, user)

    def test_lockout_is_per_account(self, client: TestClient, app: FastAPI) -> None:
        target, bystander = make_user(app, "caseworker"), make_user(app, "caseworker")
        for _ in range(service.ACCOUNT_MAX_FAILURES):
            attempt(client, target.username, WRONG)
        assert attempt(client, target.username, PASSWORD).status_code == 429
        login(client, bystander)  # same address, other account: unaffected

    def test_lockout_ends_by_itself(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        for _ in range(service.ACCOUNT_MAX_FAILURES):
            attempt(client, user.username, WRONG)
        assert attempt(client, user.username, PASSWORD).status_code == 429
        _end_lockout(app, user.username)
        headers = login(client, user)
        assert client.get(ME, headers=headers).status_code == 200

    def test_lockout_follows_the_account_across_addresses(
        self, client: TestClient, app: FastAPI
    ) -> None:
        user = make_user(app, "caseworker")
        for _ in range(service.ACCOUNT_MAX_FAILURES):
            attempt(client, user.username, WRONG)
        with TestClient(app, client=(fresh_address(), 50000)) as elsewhere:
            assert attempt(elsewhere, user.username, PASSWORD).status_code == 429

    def test_client_address_is_throttled_loosely(self, client: TestClient, app: FastAPI) -> None:
        limit = service.CLIENT_MAX_FAILURES
        assert limit == 50
        for i in range(limit):
            response = attempt(client, unique(f"nobody{i}"), WRONG)
            assert response.status_code == 401, (i, response.text)
        throttled = attempt(client, unique("nobody"), WRONG)
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) > 0
        # The address is locked even for a right password; other addresses are not.
        user = make_user(app, "caseworker")
        assert attempt(client, user.username, PASSWORD).status_code == 429
        with TestClient(app, client=(fresh_address(), 50000)) as elsewhere:
            login(elsewhere, user)


class TestLoginAudit:
    def test_failed_login_is_audited(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        rid = request_id()
        assert attempt(client, user.username, WRONG, rid).status_code == 401
        entries = audit_entries(app, rid)
        assert [e.action for e in entries] == ["auth.login_failed"]
        assert entries[0].outcome == "failed"
        assert entries[0].subject_id == user.id
        assert entries[0].client is not None

    def test_failed_login_of_unknown_user_is_audited(
        self, client: TestClient, app: FastAPI
    ) -> None:
        rid = request_id()
        name = unique("nobody")
        assert attempt(client, name, WRONG, rid).status_code == 401
        entries = audit_entries(app, rid)
        assert [e.action for e in entries] == ["auth.login_failed"]
        assert entries[0].actor_id is None
        # No username is recorded for an unknown account (it may be a mistyped password).
        assert name not in (entries[0].details or "") and entries[0].actor_label is None

    def test_lockout_is_audited(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        for _ in range(service.ACCOUNT_MAX_FAILURES):
            attempt(client, user.username, WRONG)
        rid = request_id()
        assert attempt(client, user.username, PASSWORD, rid).status_code == 429
        entries = audit_entries(app, rid)
        assert [e.action for e in entries] == ["auth.login_throttled"]
        assert entries[0].outcome == "denied"

    def test_successful_login_is_audited(self, client: TestClient, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        rid = request_id()
        assert attempt(client, user.username, PASSWORD, rid).status_code == 200
        entries = audit_entries(app, rid)
        assert [e.action for e in entries] == ["auth.login"]
        assert entries[0].actor_id == user.id
