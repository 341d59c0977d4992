"""An OpenID Connect provider on loopback for the single sign-on tests, built with Authlib's
server side: an ``AuthorizationServer`` with the authorization code grant, PKCE (RFC 7636,
S256 required) and the OpenID Connect code flow (``OpenIDCode``), which signs real RS256 ID
tokens with joserfc. Served over real HTTP by uvicorn: discovery, keys, authorization (the
"signed-in" subject approves at once) and the token endpoint (``client_secret_basic``).

``Provider.subject`` and ``Provider.claims`` say who is signed in at the provider (and what
else its ID tokens say: ``email``, ``email_verified``, ``groups``); ``Provider.tamper`` makes
the next ID tokens wrong in one way (audience, nonce, signature, expiry)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    AuthorizationCodeGrant,
    AuthorizationServer,
    ClientMixin,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import CodeChallenge  # type: ignore[import-untyped]
from authlib.oidc.core import (  # type: ignore[import-untyped]
    AuthorizationCodeMixin,
    OpenIDCode,
    UserInfo,
)
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.web.conftest import _free_port

CLIENT_ID, CLIENT_SECRET = "haven", "a client secret for tests"
SCOPES = ("openid", "email", "profile", "groups")


# The models Authlib asks for -------------------------------------------------------------------
@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    """Haven, registered as a confidential web client with one redirect URI."""

    client_id: str
    client_secret: str
    redirect_uri: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    subject: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


# The grant and its OpenID Connect extension ----------------------------------------------------
class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        provider: Provider = self.server.provider
        data = request.payload.data
        provider.nonces.add(str(data.get("nonce")))
        provider.codes[code] = Code(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            subject=request.user,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found = self.server.provider.codes.get(code)
        return found if found is not None and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        self.server.provider.codes.pop(authorization_code.code, None)  # a code is used once

    def authenticate_user(self, authorization_code: Code) -> str:
        return authorization_code.subject


class PKCERequired(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 for every client, the confidential one too (Authlib asks it only of
    public clients)."""

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with S256 is required", redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)


class IdTokens(OpenIDCode):  # type: ignore[misc]
    """Authlib's OpenID Connect code flow: the ID token it signs, made wrong on request."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return nonce in self.provider.nonces  # a nonce answers one authorization request

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": "RS256", "kid": "k1"}

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        if self.provider.tamper == "signature":  # the same kid, another key: a forged token
            return RSAKey.generate_key(2048, {"kid": "k1"})
        return self.provider.key

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        now = int(time.time())
        tamper = self.provider.tamper
        claims: dict[str, Any] = {
            "iss": self.provider.issuer,
            "aud": ["someone-else"] if tamper == "audience" else [client.get_client_id()],
        }
        if tamper == "expired":
            claims.update(iat=now - 7200, exp=now - 3600)
        return claims

    def get_authorization_code_claims(self, authorization_code: Code) -> dict[str, Any]:
        claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
        if self.provider.tamper == "nonce":
            claims["nonce"] = "not-the-nonce"
        return claims

    def generate_user_info(self, user: str, scope: str) -> UserInfo:
        info = UserInfo(sub=user)
        for name, value in self.provider.claims.items():
            if name in ("email", "email_verified") and "email" not in scope.split():
                continue  # the e-mail only to a client that asked for it
            info[name] = value
        return info


# Authlib's server on Starlette -----------------------------------------------------------------
class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, data: dict[str, str], datalist: dict[str, list[str]]) -> None:
        self._data, self._datalist = data, datalist

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    """A Starlette request as Authlib reads one (its form read beforehand: Authlib is sync)."""

    def __init__(
        self, method: str, url: str, headers: Headers, args: dict[str, str], form: dict[str, str]
    ) -> None:
        super().__init__(method=method, uri=url, headers=headers)
        self._args, self._form = args, form
        merged = {**args, **form}
        self.payload = _Payload(merged, {k: [v] for k, v in merged.items()})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, provider: Provider) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.provider = provider
        self.register_grant(CodeGrant, [PKCERequired(required=True), IdTokens(provider)])
        self.register_token_generator(
            "default",
            BearerTokenGenerator(lambda **_: secrets.token_urlsafe(24), expires_generator=300),
        )

    def query_client(self, client_id: str) -> Client | None:
        client = self.provider.client
        return client if client_id == client.client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        pass  # nothing here reads the access token back

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        assert isinstance(request, OAuth2Request)  # the endpoints below wrap Starlette's
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        if isinstance(body, dict):
            response: Response = JSONResponse(body, status_code=status)
        else:
            response = Response(body or b"", status_code=status)
        for name, value in headers or []:
            if name.lower() != "content-type":
                response.headers[name] = value
        return response


@dataclass
class Provider:
    issuer: str
    redirect_uri: str
    subject: str = "staff-0001"
    claims: dict[str, Any] = field(default_factory=dict)  # e.g. email, email_verified, groups
    tamper: str | None = None  # "audience", "nonce", "signature", "expired"
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "k1"}))
    codes: dict[str, Code] = field(default_factory=dict)
    nonces: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.client = Client(CLIENT_ID, CLIENT_SECRET, self.redirect_uri)
        self.server = Server(self)

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
                "scopes_supported": list(SCOPES),
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }
        )

    def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    def authorize(self, request: Request) -> Response:
        wrapped = _Request("GET", str(request.url), request.headers, dict(request.query_params), {})
        try:
            grant = self.server.get_consent_grant(wrapped, end_user=self.subject)
        except OAuth2Error as error:
            return JSONResponse({"error": error.error}, status_code=400)
        response: Response = self.server.create_authorization_response(
            wrapped, grant_user=self.subject, grant=grant
        )
        return response

    async def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        wrapped = _Request("POST", str(request.url), request.headers, {}, form)
        response: Response = self.server.create_token_response(wrapped)
        return response

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
