"""Single sign-on with an OpenID Connect provider (HAVEN_OIDC_ISSUER and its client).

Authorization code flow with PKCE (S256) through Authlib's OAuth 2 client; the ID token is
verified with joserfc against the provider's published keys: signature, issuer, audience,
nonce, expiry and issue time. The account is the one linked to the token's issuer and subject
(``OidcLink``, made by an administrator): never matched by e-mail, and a disabled Haven account
stays out whatever the provider says. The provider is asked only when someone chooses single
sign-on: when it is down, password and passkey sign-in go on as before.
"""

from __future__ import annotations

import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any, cast

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.auth import service
from app.errors import HavenError, NotAuthenticated
from app.models.base import utcnow
from app.models.passkey import OidcLink
from app.models.user import User

TIMEOUT = 5.0
ALGORITHMS = ["RS256", "ES256", "PS256", "EdDSA"]
REFUSED = "single sign-on was not accepted"


class ProviderUnavailable(HavenError):
    """The identity provider did not answer (or answered nonsense): other sign-ins still work."""

    status_code = 503


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uri: str


@dataclass(frozen=True)
class Started:
    """Where to send the browser, and what to keep (in a signed cookie) until it returns."""

    url: str
    state: str
    nonce: str
    verifier: str


def _oauth2_client(**kwargs: Any) -> Any:
    """Authlib's OAuth 2 client on httpx, imported when single sign-on is used: the import
    warns that Authlib prefers httpx2, which would reach every `haven` command's stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
            OAuth2Client,
        )
    return OAuth2Client(**kwargs)


def configured(settings: Any) -> Provider | None:
    issuer = getattr(settings, "oidc_issuer", None)
    client_id = getattr(settings, "oidc_client_id", None)
    if not issuer or not client_id:
        return None
    public = str(getattr(settings, "public_url", "")).rstrip("/")
    return Provider(
        issuer.rstrip("/"),
        client_id,
        getattr(settings, "oidc_client_secret", None),
        f"{public}/auth/oidc/callback",
    )


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=TIMEOUT, follow_redirects=False)
        response.raise_for_status()
        value = response.json()
    except (httpx.HTTPError, ValueError):
        raise ProviderUnavailable("the identity provider does not answer") from None
    if not isinstance(value, dict):
        raise ProviderUnavailable("the identity provider answered nonsense")
    return value


def discover(provider: Provider) -> dict[str, Any]:
    """The provider's metadata (OpenID Connect Discovery); its issuer must be the configured."""
    metadata = _get_json(f"{provider.issuer}/.well-known/openid-configuration")
    if str(metadata.get("issuer", "")).rstrip("/") != provider.issuer:
        raise ProviderUnavailable("the identity provider names another issuer")
    return metadata


def start(provider: Provider) -> Started:
    metadata = discover(provider)
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    client = _oauth2_client(
        client_id=provider.client_id,
        redirect_uri=provider.redirect_uri,
        scope="openid",
        code_challenge_method="S256",
    )
    url, _ = client.create_authorization_url(
        metadata["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
    )
    return Started(url, state, nonce, verifier)


def _id_token(provider: Provider, code: str, verifier: str) -> tuple[str, dict[str, Any]]:
    metadata = discover(provider)
    client = _oauth2_client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        redirect_uri=provider.redirect_uri,
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
    )
    try:
        token = client.fetch_token(
            metadata["token_endpoint"], code=code, code_verifier=verifier, timeout=TIMEOUT
        )
    except httpx.HTTPError:
        raise ProviderUnavailable("the identity provider does not answer") from None
    except Exception:  # Authlib raises its OAuthError family for a refused code
        raise NotAuthenticated(REFUSED) from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise NotAuthenticated(REFUSED)
    return id_token, metadata


def verify(provider: Provider, id_token: str, nonce: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The ID token's claims once its signature (the provider's keys), issuer, audience,
    nonce, expiry and issue time hold; ``NotAuthenticated`` otherwise."""
    try:
        keys = KeySet.import_key_set(cast(Any, jwks))
        decoded = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        jwt.JWTClaimsRegistry(
            now=int(time.time()),
            leeway=60,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(decoded.claims)
    except (JoseError, ValueError, TypeError):
        raise NotAuthenticated(REFUSED) from None
    claims: dict[str, Any] = dict(decoded.claims)
    azp = claims.get("azp")
    if azp is not None and azp != provider.client_id:
        raise NotAuthenticated(REFUSED)
    return claims


def finish(
    session: Session, provider: Provider, *, code: str, verifier: str, nonce: str
) -> service.IssuedToken:
    """The callback: code for tokens, the ID token verified, the linked account signed in
    (channel web), audited ``auth.oidc_login``; 401 for anything not accepted."""
    id_token, metadata = _id_token(provider, code, verifier)
    jwks = _get_json(str(metadata["jwks_uri"]))
    try:
        claims = verify(provider, id_token, nonce, jwks)
    except NotAuthenticated:
        _refuse(session, None, "id token not verified")
        raise
    subject = str(claims["sub"])
    user = session.scalar(
        select(User)
        .join(OidcLink, OidcLink.user_id == User.id)
        .where(OidcLink.issuer == provider.issuer, OidcLink.subject == subject)
    )
    if user is None:
        _refuse(session, None, "no linked account")
        raise NotAuthenticated("no Haven account is linked to this sign-in; ask an administrator")
    if user.disabled:
        _refuse(session, user, "account disabled")
        raise NotAuthenticated(REFUSED)
    user.last_login_at = utcnow()
    issued = service.issue_token(session, user, channel="web")
    audit.record(
        session,
        actor=service._actor(user),
        action="auth.oidc_login",
        subject_type="user",
        subject_id=user.id,
    )
    return issued


def _refuse(session: Session, user: User | None, why: str) -> None:
    audit.record(
        session,
        actor=service._actor(user) if user else None,
        action="auth.login_failed",
        subject_type="user" if user else None,
        subject_id=user.id if user else None,
        outcome="failed",
        details={"reason": why, "method": "oidc"},
        durable=True,
    )


def link(
    session: Session, actor: Actor | None, user_id: uuid.UUID, issuer: str, subject: str
) -> OidcLink:
    """Link an account to its identity at the provider (audited ``user.oidc_linked``)."""
    existing = session.scalar(select(OidcLink).where(OidcLink.user_id == user_id))
    if existing is not None:
        session.delete(existing)
        session.flush()
    row = OidcLink(issuer=issuer.rstrip("/"), subject=subject, user_id=user_id)
    session.add(row)
    session.flush()
    audit.record(
        session, actor=actor, action="user.oidc_linked", subject_type="user", subject_id=user_id
    )
    return row
