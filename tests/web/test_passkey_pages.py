"""The passkey pages without a browser: the security page, the policy's prompt after a password
sign-in and its refusal of the password, and the administrator's reset button."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.auth.authenticator import login_options, register
from tests.conftest import fresh_address
from tests.factories import API, PASSWORD, login, make_user
from tests.web.support import csrf, sign_in


def _form_login(client: TestClient, username: str) -> Any:
    page = client.get("/login")
    data = {"csrf_token": csrf(page.text), "username": username, "password": PASSWORD}
    return client.post("/login", data={**data, "code": "", "next": "/"}, follow_redirects=False)


def test_the_security_page_lists_passkeys_and_sign_ins(app: FastAPI) -> None:
    user = make_user(app, "caseworker")
    with TestClient(app, client=(fresh_address(), 50000)) as client:
        register(client, login(client, user), name="Green key")
        sign_in(client, user)
        page = client.get("/account/security")
        assert page.status_code == 200
        assert "Green key" in page.text and "not used yet" in page.text
        assert '<script src="/static/passkeys.js"' in page.text
        assert "<td>password</td>" in page.text
        assert "Passkeys and recent sign-ins" in client.get("/account/profile").text


def test_a_role_that_must_use_a_passkey(fresh_database: Any) -> None:
    app = fresh_database(require_passkey_roles="supervisor,admin")
    supervisor, admin = make_user(app, "supervisor"), make_user(app, "admin")
    with TestClient(app, client=(fresh_address(), 50000)) as client:
        # No passkey yet: the password signs in and leads to the page to add one.
        answer = _form_login(client, supervisor.username)
        assert answer.status_code == 303 and answer.headers["location"] == "/account/security"
        assert "Your role signs in with a passkey" in client.get("/account/security").text
        device, _ = register(client, login(client, supervisor))
        # Now the password alone is refused, with a pointer to the passkey button.
        refused = _form_login(client, supervisor.username)
        assert refused.status_code == 401
        assert "Sign in with a passkey" in refused.text
        assert (
            client.post(
                f"{API}/auth/passkeys/login", json={"credential": device.get(login_options(client))}
            ).status_code
            == 200
        )
        # The administrator's button removes them (the admin signs in with a passkey too).
        admin_device, _ = register(client, login(client, admin))
        token = client.post(
            f"{API}/auth/passkeys/login",
            json={"credential": admin_device.get(login_options(client))},
        ).json()["access_token"]
        client.cookies.set("haven", token)
        page = client.get(f"/admin/users/{supervisor.id}")
        assert "Remove all passkeys" in page.text
        reset = client.post(
            f"/admin/users/{supervisor.id}/passkeys/reset",
            data={"csrf_token": csrf(page.text)},
            follow_redirects=False,
        )
        assert reset.status_code == 303
        assert (
            client.post(
                f"{API}/auth/passkeys/login", json={"credential": device.get(login_options(client))}
            ).status_code
            == 401
        )
        client.cookies.clear()
        assert _form_login(client, supervisor.username).status_code == 303  # password again
