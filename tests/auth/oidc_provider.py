"""An OpenID Connect provider on loopback for the single sign-on tests: discovery, keys,
authorization (the "signed-in" subject approves at once) and the token endpoint, served over
real HTTP by uvicorn, issuing real RS256-signed ID tokens. PKCE is checked with Authlib's
server-side S256 helper; tokens are signed with joserfc. ``Provider.tamper`` makes the next
ID tokens wrong in one way (audience, nonce, signature, expiry)."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.web.conftest import _free_port

CLIENT_ID, CLIENT_SECRET = "haven", "a client secret for tests"


@dataclass
class Provider:
    issuer: str
    redirect_uri: str
    subject: str = "staff-0001"
    tamper: str | None = None  # "audience", "nonce", "signature", "expired"
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "k1"}))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": "someone-else" if self.tamper == "audience" else CLIENT_ID,
            "nonce": "not-the-nonce" if self.tamper == "nonce" else nonce,
            "iat": now - (7200 if self.tamper == "expired" else 0),
            "exp": now - 3600 if self.tamper == "expired" else now + 300,
        }
        key = self.key
        if self.tamper == "signature":  # the same kid, another key: a forged token
            key = RSAKey.generate_key(2048, {"kid": "k1"})
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)

    # -- the endpoints ----------------------------------------------------------------------
    def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    def authorize(self, request: Request) -> Response:
        q = request.query_params
        if (
            q.get("client_id") != CLIENT_ID
            or q.get("redirect_uri") != self.redirect_uri
            or q.get("response_type") != "code"
            or q.get("code_challenge_method") != "S256"
            or not q.get("code_challenge")
            or "openid" not in q.get("scope", "").split()
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": q["code_challenge"], "nonce": q.get("nonce", "")}
        query = urlencode({"code": code, "state": q.get("state", "")})
        return RedirectResponse(f"{self.redirect_uri}?{query}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.pop(str(form.get("code")), None)  # a code is used once
        verifier = str(form.get("code_verifier", ""))
        if (
            grant is None
            or form.get("redirect_uri") != self.redirect_uri
            or create_s256_code_challenge(verifier) != grant["challenge"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(grant["nonce"]),
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )


@contextmanager
def running(redirect_uri: str) -> Iterator[Provider]:
    port = _free_port()
    provider = Provider(f"http://127.0.0.1:{port}", redirect_uri)
    server = uvicorn.Server(
        uvicorn.Config(provider.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="oidc-provider", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "provider did not start"
        time.sleep(0.02)
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(10)
