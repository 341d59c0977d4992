"""Passkeys in Chromium with its virtual authenticator (the DevTools protocol's WebAuthn domain):
add a passkey on the security page, sign out, sign in with it; the browser's own assertion
replayed is refused, and the browser's passkey used for another origin is refused.

The server runs on http://localhost:PORT with HAVEN_PUBLIC_URL set to it: WebAuthn needs a
domain for its RP ID (an IP address is not one)."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from app.main import create_app
from tests.auth.authenticator import Authenticator
from tests.conftest import database_url, make_settings
from tests.factories import API, PASSWORD, make_user
from tests.web.conftest import _free_port

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    tmp = tmp_path_factory.mktemp("passkeys-live")
    port = _free_port()
    url = f"http://localhost:{port}"
    with database_url(tmp) as db_url:
        app = create_app(make_settings(tmp, db_url, public_url=url))
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, name="passkeys-haven", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
            time.sleep(0.05)
        try:
            yield app, url
        finally:
            server.should_exit = True
            thread.join(15)
            app.state.engine.dispose()


def _virtual_authenticator(page: Any) -> tuple[Any, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_add_a_passkey_sign_out_and_sign_in_with_it(local: tuple[Any, str], browser: Any) -> None:
    app, url = local
    user = make_user(app, "supervisor")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    csp: list[str] = []
    posted: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: csp.append(m.text) if "Content Security" in m.text else None)
        page.on(
            "request",
            lambda r: (
                posted.append(r.post_data or "") if r.url.endswith("/login/passkey") else None
            ),
        )
        cdp, authenticator_id = _virtual_authenticator(page)
        page.goto(f"{url}/login")
        page.fill("#f-username", user.username)
        page.fill("#f-password", PASSWORD)
        page.click("button.primary")
        page.wait_for_url(lambda u: "/login" not in u)

        page.goto(f"{url}/account/security")
        assert "You have no passkey yet." in page.content()
        page.fill("#f-name", "Office laptop")
        page.fill("#f-password", PASSWORD)
        page.click("#passkey-add-button")
        page.wait_for_url("**/account/security?added=1")
        assert "Office laptop" in page.inner_text("#passkey-list")
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
        (credential,) = stored["credentials"]
        assert credential["isResidentCredential"] and credential["rpId"] == "localhost"

        page.click("form.signout button")
        page.wait_for_url("**/login?signed_out=1")
        page.click("#passkey-sign-in")
        page.wait_for_url(lambda u: "/login" not in u)
        assert user.username in page.inner_text("footer")

        page.goto(f"{url}/account/security")
        methods = page.inner_text("#sign-ins")
        assert "passkey" in methods and "password" in methods
        assert csp == []
    finally:
        context.close()

    # The assertion the browser sent, sent again: its challenge was used.
    (form,) = posted
    assertion = parse_qs(form)["credential"][0]
    replayed = httpx.post(f"{url}{API}/auth/passkeys/login", json={"credential": _json(assertion)})
    assert replayed.status_code == 401

    # The browser's passkey (its private key, from the virtual authenticator) answering a fresh
    # challenge: accepted for Haven's origin, refused when a look-alike origin relays it.
    key = serialization.load_der_private_key(_unb64(credential["privateKey"]), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)
    device = Authenticator(
        origin=url,
        rp_id="localhost",
        key=key,
        credential_id=_unb64(credential["credentialId"]),
        counter=int(credential["signCount"]) + 100,
        user_handle=_unb64(credential["userHandle"]),
    )

    def options() -> dict[str, Any]:
        answer = httpx.post(f"{url}{API}/auth/passkeys/login/options", json={})
        assert answer.status_code == 200
        result: dict[str, Any] = answer.json()
        return result

    for origin in ("http://localhost.example.net", f"http://127.0.0.1:{url.rsplit(':', 1)[1]}"):
        relayed = device.get(options(), origin=origin)
        answer = httpx.post(f"{url}{API}/auth/passkeys/login", json={"credential": relayed})
        assert answer.status_code == 401, origin
    genuine = httpx.post(
        f"{url}{API}/auth/passkeys/login", json={"credential": device.get(options())}
    )
    assert genuine.status_code == 200


def _json(text: str) -> dict[str, Any]:
    import json

    value: dict[str, Any] = json.loads(text)
    return value
