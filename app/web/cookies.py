"""The web client's cookies: the session (a bearer token of the ``web`` channel), the seed of
the sign-in form's CSRF token, and the bridge that lets the browser's GET requests reach the API.

The session cookie is ``__Host-haven``: Secure, HttpOnly, SameSite=Strict, Path=/, no Domain,
so no other host can set or read it and no other site can make the browser send it. Browsers
refuse a ``__Host-`` cookie without Secure, and a Secure cookie is only sent over https (or to
localhost); so in development, over plain http, the cookie is named ``haven`` instead and lacks
Secure. Production always uses the ``__Host-`` form and never reads the plain one: a plain
cookie can be planted by a sibling host or a network attacker (cookie tossing).
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import HTTPConnection, Request, cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.service import SESSION_PREFIX
from app.config import Settings

SESSION = "__Host-haven"
SESSION_PLAIN = "haven"
SEED = "__Host-haven-seed"
SEED_PLAIN = "haven-seed"
SAFE_METHODS = frozenset({"GET", "HEAD"})


def _settings(connection: HTTPConnection) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


def secure(connection: HTTPConnection) -> bool:
    """Whether cookies carry Secure (and the ``__Host-`` name): always but on plain http in
    development."""
    return _settings(connection).production or connection.url.scheme == "https"


def _read(cookies: dict[str, str], name: str, plain: str, production: bool) -> str | None:
    value = cookies.get(name)
    if value is None and not production:
        value = cookies.get(plain)
    return value or None


def session_token(connection: HTTPConnection) -> str | None:
    """The session token the browser presents, if it has the shape of one."""
    token = _read(connection.cookies, SESSION, SESSION_PLAIN, _settings(connection).production)
    return token if token and token.startswith(SESSION_PREFIX) else None


def seed(connection: HTTPConnection) -> str | None:
    return _read(connection.cookies, SEED, SEED_PLAIN, _settings(connection).production)


def _set(response: Response, request: Request, name: str, plain: str, value: str) -> None:
    is_secure = secure(request)
    response.set_cookie(
        name if is_secure else plain,
        value,
        httponly=True,
        samesite="strict",
        secure=is_secure,
        path="/",
    )


def set_session(response: Response, request: Request, token: str) -> None:
    """No Max-Age: the cookie goes when the browser closes; the server ends it sooner (30
    minutes idle, 12 hours in all)."""
    _set(response, request, SESSION, SESSION_PLAIN, token)


def set_seed(response: Response, request: Request, value: str) -> None:
    _set(response, request, SEED, SEED_PLAIN, value)


def clear_session(response: Response, request: Request) -> None:
    is_secure = secure(request)
    response.delete_cookie(
        SESSION if is_secure else SESSION_PLAIN,
        path="/",
        secure=is_secure,
        httponly=True,
        samesite="strict",
    )


def csrf_token(secret: str, purpose: str, value: str) -> str:
    """HMAC of the session token (or the sign-in form's seed) under the app's secret key:
    nothing to store, and useless to anyone who does not hold the cookie it belongs to."""
    message = f"haven-csrf:{purpose}:{value}".encode()
    # 128 bits of the HMAC: as unguessable as needed, and half the bytes in every form.
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def csrf_matches(secret: str, purpose: str, value: str | None, presented: object) -> bool:
    if not value or not isinstance(presented, str) or not presented:
        return False
    return hmac.compare_digest(csrf_token(secret, purpose, value), presented)


class ApiCookieBridge:
    """Lets the browser's GET and HEAD requests to /api/v1 (the alert stream, exports,
    attachment downloads) authenticate with the session cookie.

    Only when the request carries no Authorization header of its own (a bearer token always
    comes first), and never for a method that changes anything: the API has no CSRF tokens,
    so a cookie must not be able to write through it. The cookie becomes the Authorization
    header the API already understands, so the same token table, expiry, scope and audit
    apply, and the alert stream re-checks it on every poll as it does for any bearer token.
    """

    def __init__(self, app: ASGIApp, *, production: bool, prefix: str = "/api/") -> None:
        self.app = app
        self.production = production
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in SAFE_METHODS
            and scope["path"].startswith(self.prefix)
        ):
            headers = list(scope.get("headers") or [])
            names = {name for name, _ in headers}
            if b"authorization" not in names and b"cookie" in names:
                token = self._token(headers)
                if token:
                    headers.append((b"authorization", f"Bearer {token}".encode("latin-1")))
                    scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)

    def _token(self, headers: list[tuple[bytes, bytes]]) -> str | None:
        jar: dict[str, str] = {}
        for name, value in headers:
            if name == b"cookie":
                jar.update(cookie_parser(value.decode("latin-1")))
        token = _read(jar, SESSION, SESSION_PLAIN, self.production)
        return token if token and token.startswith(SESSION_PREFIX) else None
