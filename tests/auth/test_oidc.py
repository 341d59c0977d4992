"""Single sign-on against a real OpenID Connect provider on loopback (tests/auth/oidc_provider.py):
real HTTP, real signed ID tokens; the wrong audience, nonce or signature, an expired token, a
disabled or unlinked account, a forged state, and the provider down."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.auth import oidc
from app.db import transaction
from app.main import create_app
from app.models.audit import AuditEntry
from app.models.passkey import OidcLink
from tests.auth.authenticator import login_options, register
from tests.auth.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, running
from tests.conftest import database_url, fresh_address, make_settings
from tests.factories import API, UserHandle, login, make_user, unique

HAVEN = "http://testserver"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Provider]]:
    tmp = tmp_path_factory.mktemp("oidc")
    with running(f"{HAVEN}/auth/oidc/callback") as provider, database_url(tmp) as url:
        app = create_app(
            make_settings(
                tmp,
                url,
                public_url=HAVEN,
                oidc_issuer=provider.issuer,
                oidc_client_id=CLIENT_ID,
                oidc_client_secret=CLIENT_SECRET,
            )
        )
        try:
            yield app, provider
        finally:
            app.state.engine.dispose()


def _linked(app: FastAPI, provider: Provider, subject: str) -> UserHandle:
    user = make_user(app, "caseworker")
    with transaction(app.state.sessionmaker) as session:
        oidc.link(session, None, user.id, provider.issuer, subject)
    return user


def _sso(client: TestClient, provider: Provider, subject: str, tamper: str | None = None) -> Any:
    """The browser's round trip: Haven → the provider (real HTTP) → Haven's callback."""
    provider.subject, provider.tamper = subject, tamper
    start = client.get("/auth/oidc/login?next=/account/profile", follow_redirects=False)
    assert start.status_code == 303, start.text
    assert start.headers["location"].startswith(f"{provider.issuer}/authorize?")
    assert "code_challenge_method=S256" in start.headers["location"]
    back = httpx.get(start.headers["location"], follow_redirects=False)
    assert back.status_code == 302, back.text
    path = back.headers["location"].removeprefix(HAVEN)
    return client.get(path, follow_redirects=False)


def _client(app: FastAPI) -> TestClient:
    return TestClient(app, client=(fresh_address(), 50000))


def test_sign_in_through_the_provider(world: tuple[FastAPI, Provider]) -> None:
    app, provider = world
    user = _linked(app, provider, "staff-ok")
    with _client(app) as client:
        answer = _sso(client, provider, "staff-ok")
        assert answer.status_code == 303 and answer.headers["location"] == "/account/profile"
        me = client.get(f"{API}/auth/me")  # the session cookie, through the API bridge
        assert me.status_code == 200 and me.json()["username"] == user.username
        methods = [s["method"] for s in client.get(f"{API}/auth/sign-ins").json()]
        assert methods[0] == "single sign-on"
        assert "Sign in with your organisation" in client.get("/login").text


@pytest.mark.parametrize("tamper", ["audience", "nonce", "signature", "expired"])
def test_a_wrong_id_token_is_refused(world: tuple[FastAPI, Provider], tamper: str) -> None:
    app, provider = world
    _linked(app, provider, f"staff-{tamper}")
    with _client(app) as client:
        answer = _sso(client, provider, f"staff-{tamper}", tamper=tamper)
        assert answer.status_code == 401
        assert "haven" not in client.cookies
        assert client.get(f"{API}/auth/me").status_code == 401
    with transaction(app.state.sessionmaker) as session:
        reason = session.scalars(
            select(AuditEntry.details)
            .where(AuditEntry.action == "auth.login_failed")
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).one()
    assert reason is not None and "id token not verified" in reason  # refused for the token


def test_a_disabled_or_unlinked_account_stays_out(world: tuple[FastAPI, Provider]) -> None:
    app, provider = world
    user = _linked(app, provider, "staff-disabled")
    admin = make_user(app, "admin")
    with _client(app) as client:
        disabled = client.delete(f"{API}/users/{user.id}", headers=login(client, admin))
        assert disabled.status_code in (200, 204)
        assert _sso(client, provider, "staff-disabled").status_code == 401
        assert _sso(client, provider, "nobody-linked").status_code == 401
        assert client.get(f"{API}/auth/me").status_code == 401


def test_no_account_is_matched_by_email_unless_configured(
    world: tuple[FastAPI, Provider],
) -> None:
    app, provider = world
    address = f"{unique('not-linked')}@example.org"
    user = make_user(app, "caseworker", email=address)
    provider.claims = {"email": address, "email_verified": True}
    try:
        with _client(app) as client:
            start = client.get("/auth/oidc/login", follow_redirects=False)
            assert "scope=openid&" in start.headers["location"]  # no e-mail asked for
            assert _sso(client, provider, "staff-email-unlinked").status_code == 401
    finally:
        provider.claims = {}
    with transaction(app.state.sessionmaker) as session:
        assert session.scalar(select(OidcLink).where(OidcLink.user_id == user.id)) is None


def test_a_callback_that_did_not_start_here_is_refused(world: tuple[FastAPI, Provider]) -> None:
    app, provider = world
    _linked(app, provider, "staff-state")
    with _client(app) as client:
        start = client.get("/auth/oidc/login", follow_redirects=False)
        back = httpx.get(start.headers["location"], follow_redirects=False)
        path = back.headers["location"].removeprefix(HAVEN)
        forged = path.replace("state=", "state=x")
        assert client.get(forged, follow_redirects=False).status_code == 400
        client.cookies.clear()  # another browser: no cookie of the round trip
        assert client.get(path, follow_redirects=False).status_code == 400


def test_provider_down_leaves_password_and_passkey_sign_in(tmp_path: Any) -> None:
    with running(f"{HAVEN}/auth/oidc/callback") as provider:
        issuer = provider.issuer
    # The provider has stopped: nothing answers at its address any more.
    with database_url(tmp_path) as url:
        app = create_app(
            make_settings(
                tmp_path,
                url,
                public_url=HAVEN,
                oidc_issuer=issuer,
                oidc_client_id=CLIENT_ID,
                oidc_client_secret=CLIENT_SECRET,
            )
        )
        try:
            user = make_user(app, "caseworker")
            with _client(app) as client:
                down = client.get("/auth/oidc/login", follow_redirects=False)
                assert down.status_code == 503
                assert "password or a passkey" in down.text
                headers = login(client, user)  # the password works
                device, _ = register(client, headers)
                passkey = client.post(
                    f"{API}/auth/passkeys/login",
                    json={"credential": device.get(login_options(client))},
                )
                assert passkey.status_code == 200
        finally:
            app.state.engine.dispose()
