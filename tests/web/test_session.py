"""Signing in to the web client: the form, two-factor, the cookie, expiry, sign-out, CSRF."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from types import SimpleNamespace

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from starlette.responses import Response

from app.db import transaction
from app.models.base import utcnow
from app.models.user import AuthToken
from app.web import cookies
from tests.conftest import fresh_address
from tests.factories import PASSWORD, make_user
from tests.web.support import csrf, enrol_totp, field_errors, fill, next_code, sign_in, web_routes


def _post_login(client: TestClient, **fields: str) -> object:
    page = client.get("/login")
    data = {"csrf_token": csrf(page.text), "code": "", "next": "/", **fields}
    return client.post("/login", data=data, follow_redirects=False)


def _set_cookie(response: object, name: str) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [h for h in headers if h.startswith(f"{name}=")]
    assert found, headers
    return found[0]


class TestSignIn:
    def test_the_form_has_a_token_and_labelled_fields(self, client: TestClient) -> None:
        page = client.get("/login")
        assert page.status_code == 200
        assert csrf(page.text)
        for name in ("username", "password", "code"):
            assert f'for="f-{name}"' in page.text
        assert "haven-seed" in page.headers["set-cookie"]

    def test_password_sign_in_sets_the_session_cookie(
        self, app: FastAPI, client: TestClient
    ) -> None:
        user = make_user(app, "caseworker")
        response = _post_login(client, username=user.username, password=user.password)
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        cookie = _set_cookie(response, "haven").lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "path=/" in cookie
        assert "secure" not in cookie  # plain http in development only
        assert "max-age" not in cookie and "expires" not in cookie
        with transaction(app.state.sessionmaker) as session:
            channels = set(
                session.scalars(select(AuthToken.channel).where(AuthToken.user_id == user.id))
            )
        assert channels == {"web"}

    def test_over_https_the_cookie_is_host_prefixed_and_secure(self, app: FastAPI) -> None:
        user = make_user(app, "caseworker")
        with TestClient(
            app, base_url="https://testserver", client=(fresh_address(), 1)
        ) as secure_client:
            response = _post_login(secure_client, username=user.username, password=user.password)
        cookie = _set_cookie(response, "__Host-haven").lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert "domain" not in cookie and "path=/" in cookie

    def test_production_always_uses_the_host_cookie(self) -> None:
        request = SimpleNamespace(
            app=SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(production=True))),
            url=SimpleNamespace(scheme="http"),
        )
        response = Response()
        cookies.set_session(response, request, "hvn_s_x")  # type: ignore[arg-type]
        header = response.headers["set-cookie"].lower()
        assert header.startswith("__host-haven=") and "secure" in header

    def test_wrong_password_says_so(self, app: FastAPI, client: TestClient) -> None:
        user = make_user(app, "caseworker")
        response = _post_login(client, username=user.username, password="not the password")
        assert response.status_code == 401
        assert "The username or password is wrong." in response.text
        assert "haven=hvn_s_" not in response.headers.get("set-cookie", "")

    def test_empty_fields_are_named(self, client: TestClient) -> None:
        response = _post_login(client, username="", password="")
        assert response.status_code == 422
        assert set(field_errors(response.text)) == {"username", "password"}

    def test_two_factor_code_is_asked_for_then_accepted(
        self, app: FastAPI, client: TestClient
    ) -> None:
        user = make_user(app, "caseworker")
        seed = enrol_totp(app, user)
        without = _post_login(client, username=user.username, password=user.password)
        assert without.status_code == 401
        assert "code" in field_errors(without.text)
        wrong = _post_login(client, username=user.username, password=user.password, code="000000")
        assert wrong.status_code == 401
        right = _post_login(
            client, username=user.username, password=user.password, code=next_code(seed)
        )
        assert right.status_code == 303

    def test_only_local_redirects_after_sign_in(self, app: FastAPI, client: TestClient) -> None:
        user = make_user(app, "caseworker")
        for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
            response = _post_login(
                client, username=user.username, password=user.password, next=target
            )
            assert response.headers["location"] == "/"
        response = _post_login(
            client, username=user.username, password=user.password, next="/people"
        )
        assert response.headers["location"] == "/people"

    def test_a_page_asked_for_comes_back_after_sign_in(self, client: TestClient) -> None:
        # (A filter, not a name: names never travel in the address, tests/web/test_pages.py.)
        response = client.get("/people?country=THA", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Fpeople%3Fcountry%3DTHA"
        page = client.get(response.headers["location"])
        assert 'name="next" value="/people?country=THA"' in page.text


class TestTwoFactorSetUp:
    """A stolen session cannot enrol its own authenticator (issue 13, item 4)."""

    def test_setting_up_needs_the_current_password(self, app: FastAPI, client: TestClient) -> None:
        token = sign_in(client, make_user(app, "caseworker"))
        page = client.get("/account/two-factor")
        assert 'name="password"' in page.text
        missing = client.post("/account/two-factor/start", data={"csrf_token": token})
        assert missing.status_code == 422
        assert "password" in field_errors(missing.text)
        assert "Key:" not in missing.text
        wrong = client.post(
            "/account/two-factor/start",
            data={"csrf_token": token, "password": "not the password"},
        )
        assert wrong.status_code == 403
        assert "password" in field_errors(wrong.text)
        assert "Key:" not in wrong.text
        right = client.post(
            "/account/two-factor/start", data={"csrf_token": token, "password": PASSWORD}
        )
        assert right.status_code == 200
        assert "Key:" in right.text

    def test_required_two_factor_is_set_up_at_sign_in(
        self, fresh_database: Callable[..., FastAPI]
    ) -> None:
        app = fresh_database(require_mfa=True)
        with TestClient(app, client=(fresh_address(), 1)) as client:
            user = make_user(app, "caseworker")
            response = _post_login(
                client, username=user.username, password=user.password, next="/people"
            )
            assert response.status_code == 303
            assert response.headers["location"] == "/account/two-factor"
            page = client.get("/account/two-factor")
            assert page.status_code == 200
            assert "requires two-factor sign-in" in page.text
            token = csrf(page.text)
            refused = client.get("/people", follow_redirects=False)
            assert refused.status_code == 403
            assert "two-factor" in refused.text.lower()
            started = client.post(
                "/account/two-factor/start", data={"csrf_token": token, "password": PASSWORD}
            )
            seed = re.search(r'name="secret" value="([A-Z2-7]+)"', started.text)
            assert seed, started.text
            confirmed = client.post(
                "/account/two-factor/confirm",
                data={
                    "csrf_token": token,
                    "secret": seed.group(1),
                    "code": pyotp.TOTP(seed.group(1)).now(),
                    "password": PASSWORD,
                },
            )
            assert confirmed.status_code == 200, confirmed.text
            assert "recovery codes" in confirmed.text
            assert client.get("/people", follow_redirects=False).status_code == 200


class TestSessionEnd:
    def test_sign_out_revokes_the_token(self, app: FastAPI, client: TestClient) -> None:
        token = sign_in(client, make_user(app, "caseworker"))
        kept = client.cookies.get("haven")
        response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert response.headers["location"] == "/login?signed_out=1"
        client.cookies.set("haven", kept)  # replaying the old cookie does not work
        again = client.get("/people", follow_redirects=False)
        assert again.headers["location"] == "/login?expired=1"

    def test_signing_in_again_replaces_the_session(self, app: FastAPI, client: TestClient) -> None:
        user = make_user(app, "caseworker")
        sign_in(client, user)
        first = client.cookies.get("haven")
        sign_in(client, user)
        assert client.cookies.get("haven") != first
        with transaction(app.state.sessionmaker) as session:
            tokens = session.scalars(select(AuthToken).where(AuthToken.user_id == user.id)).all()
        assert sorted(token.revoked_at is None for token in tokens) == [False, True]

    def test_an_idle_session_ends_with_a_notice(self, app: FastAPI, client: TestClient) -> None:
        user = make_user(app, "caseworker")
        sign_in(client, user)
        with transaction(app.state.sessionmaker) as session:
            session.execute(
                update(AuthToken)
                .where(AuthToken.user_id == user.id)
                .values(last_used_at=utcnow() - dt.timedelta(hours=1))
            )
        response = client.get("/", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?expired=1"
        assert 'haven=""' in response.headers["set-cookie"]  # the dead cookie is removed
        notice = client.get(response.headers["location"])
        assert "Your session has ended" in notice.text

    def test_a_form_sent_after_the_session_ended_goes_to_sign_in(
        self, app: FastAPI, client: TestClient
    ) -> None:
        user = make_user(app, "caseworker")
        token = sign_in(client, user)
        with transaction(app.state.sessionmaker) as session:
            session.execute(
                update(AuthToken).where(AuthToken.user_id == user.id).values(revoked_at=utcnow())
            )
        response = client.post(
            "/people/new", data={"csrf_token": token, "full_name": "X"}, follow_redirects=False
        )
        assert response.headers["location"] == "/login?expired=1"


class TestCsrf:
    @pytest.fixture
    def token(self, app: FastAPI, client: TestClient) -> str:
        return sign_in(client, make_user(app, "supervisor"))

    def test_every_form_without_its_token_is_refused(
        self, app: FastAPI, client: TestClient, token: str
    ) -> None:
        posts = [path for method, path in web_routes(app) if method == "POST"]
        assert len(posts) >= 15
        refused = {}
        for path in posts:
            response = client.post(fill(path), data={"full_name": "X"}, follow_redirects=False)
            refused[path] = response.status_code
        assert refused == dict.fromkeys(posts, 403)

    def test_a_token_of_another_session_is_refused(
        self, app: FastAPI, client: TestClient, token: str
    ) -> None:
        with TestClient(app, client=(fresh_address(), 1)) as other:
            foreign = sign_in(other, make_user(app, "supervisor"))
        response = client.post(
            "/people/new", data={"csrf_token": foreign, "full_name": "X"}, follow_redirects=False
        )
        assert response.status_code == 403
        assert "could not be accepted" in response.text

    def test_a_multipart_upload_without_its_token_is_refused(
        self, client: TestClient, token: str
    ) -> None:
        response = client.post(
            fill("/cases/{case_id}/attachments"),
            files={"file": ("a.txt", b"hello", "text/plain")},
            follow_redirects=False,
        )
        assert response.status_code == 403

    def test_the_sign_in_form_needs_its_own_token(self, app: FastAPI, client: TestClient) -> None:
        user = make_user(app, "caseworker")
        response = client.post(
            "/login",
            data={"username": user.username, "password": user.password},
            follow_redirects=False,
        )
        assert response.status_code == 403

    def test_the_session_token_is_not_the_csrf_token(self, client: TestClient, token: str) -> None:
        assert client.cookies.get("haven") not in (token, None)
        assert token == cookies.csrf_token(
            client.app.state.web_secret,  # type: ignore[attr-defined]
            "session",
            client.cookies["haven"],
        )
