"""Single sign-on with an OpenID Connect provider (HAVEN_OIDC_ISSUER and its client).

Authorization code flow with PKCE (S256) through Authlib's OAuth 2 client; the ID token is
verified with joserfc against the provider's published keys: signature, issuer, audience,
nonce, expiry and issue time. The account is the one linked to the token's issuer and subject
(``OidcLink``, made by an administrator, or on first sign-in by a verified e-mail address when
HAVEN_OIDC_LINK_BY_EMAIL is on); a disabled Haven account stays out whatever the provider says,
and so does an account whose role must sign in with its passkey (HAVEN_REQUIRE_PASSKEY_ROLES).
With HAVEN_OIDC_ROLE_CLAIM and HAVEN_OIDC_ROLE_MAP the provider's groups decide the role and
organisation (app.oidc_roles). The provider is asked only when someone chooses single
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

from app import oidc_roles, organisations
from app.actor import Actor
from app.audit import service as audit
from app.auth import passkey_policy, service
from app.auth.users import CASE_CONTENT_ROLES, USER_EMAIL, open_contact
from app.errors import HavenError, NotAuthenticated
from app.events import CaseAccessGranted, publish
from app.models.base import utcnow
from app.models.passkey import OidcLink
from app.models.user import User

TIMEOUT = 5.0
ALGORITHMS = ["RS256", "ES256", "PS256", "EdDSA"]
REFUSED = "single sign-on was not accepted"
NOT_LINKED = "no Haven account is linked to this sign-in; ask an administrator"
NO_ROLE = (
    "your organisation's account is in no group that has a Haven role; "
    "ask your administrator to add you to one"
)
USE_PASSKEY = (
    "this account signs in with a passkey, not single sign-on: use “Sign in with a passkey”"
)


class ProviderUnavailable(HavenError):
    """The identity provider did not answer (or answered nonsense): other sign-ins still work."""

    status_code = 503


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uri: str
    role_claim: str | None = None  # with role_rules: the groups decide role and organisation
    role_rules: tuple[oidc_roles.RoleRule, ...] = ()
    link_by_email: bool = False

    @property
    def scope(self) -> str:
        # The e-mail address is only in the ID token when asked for (the ``email`` scope).
        return "openid email" if self.link_by_email else "openid"


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
        role_claim=getattr(settings, "oidc_role_claim", None),
        role_rules=tuple(getattr(settings, "oidc_role_rules", ())),
        link_by_email=bool(getattr(settings, "oidc_link_by_email", False)),
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
        scope=provider.scope,
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
    if user is None and provider.link_by_email:
        user = _link_by_email(session, provider, subject, claims)
    if user is None:
        _refuse(session, None, "no linked account")
        raise NotAuthenticated(NOT_LINKED)
    if user.disabled:
        _refuse(session, user, "account disabled")
        raise NotAuthenticated(REFUSED)
    if provider.role_claim and provider.role_rules:
        _apply_role(session, provider, user, claims)
    # The passkey policy holds here as for a password: a relayed single sign-on is as
    # phishable as a relayed password. (Raising rolls back a role change made just above.)
    if passkey_policy.password_refused(session, user):
        audit.record(
            session,
            actor=service._actor(user),
            action="auth.login_refused",
            subject_type="user",
            subject_id=user.id,
            outcome="denied",
            details={"reason": "passkey required", "method": "oidc"},
            durable=True,
        )
        raise NotAuthenticated(USE_PASSKEY)
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


def _email_of(session: Session, user: User) -> str | None:
    return open_contact(session, user, USER_EMAIL, user.email_ct)


def _link_by_email(
    session: Session, provider: Provider, subject: str, claims: dict[str, Any]
) -> User | None:
    """The one account whose e-mail address is the ID token's verified ``email``, linked to
    ``subject`` (audited ``user.oidc_linked``); None when the address is not verified, matches
    no account or several, or the account is already linked to another identity (a link is
    never replaced here: only an administrator does that).

    E-mail addresses are sealed with each user's own key and have no blind index, so they are
    opened and compared in memory, over every account that has one. Staff accounts are few
    (hundreds), this runs only for a subject not linked yet, and comparing all of them is what
    tells "exactly one" from "several"; an address shared by two accounts links neither."""
    email = claims.get("email")
    if claims.get("email_verified") is not True or not isinstance(email, str):
        return None
    wanted = email.strip().lower()  # domains ignore case, and providers differ in it
    if not wanted:
        return None
    accounts = session.scalars(select(User).where(User.email_ct.is_not(None)))
    found = [u for u in accounts if (_email_of(session, u) or "").strip().lower() == wanted]
    if len(found) != 1:
        _refuse(session, None, "e-mail matches no account" if not found else "e-mail ambiguous")
        return None
    user = found[0]
    if user.disabled:
        return user  # refused as disabled, and not linked
    if session.scalar(select(OidcLink.id).where(OidcLink.user_id == user.id)) is not None:
        _refuse(session, user, "account linked to another identity")
        return None
    session.add(OidcLink(issuer=provider.issuer, subject=subject, user_id=user.id))
    session.flush()
    audit.record(
        session,
        actor=service._actor(user),
        action="user.oidc_linked",
        subject_type="user",
        subject_id=user.id,
        details={"method": "verified e-mail"},
    )
    return user


def _apply_role(session: Session, provider: Provider, user: User, claims: dict[str, Any]) -> None:
    """The role and organisation HAVEN_OIDC_ROLE_MAP gives the user's groups, made the
    account's (audited ``user.update``, its sessions ended as on any role change); refused
    when no group is mapped or the organisation named does not exist."""
    assert provider.role_claim is not None
    groups = oidc_roles.claim_values(claims, provider.role_claim)
    rule = oidc_roles.mapped(provider.role_rules, groups)
    if rule is None:
        _refuse(session, user, "no role for the groups")
        raise NotAuthenticated(NO_ROLE)
    organisation = organisations.named(session, rule.organisation)
    if organisation is None:
        _refuse(session, user, "mapped organisation does not exist")
        raise NotAuthenticated(
            f"the organisation your group is mapped to ({rule.organisation[:100]}) "
            "does not exist in Haven; ask your administrator"
        )
    changed = sorted(
        name
        for name, same in (
            ("role", user.role == rule.role),
            ("organisation", user.organisation_id == organisation.id),
        )
        if not same
    )
    if not changed:
        return
    before = (user.role, user.organisation_id)
    user.role, user.organisation_id = rule.role, organisation.id
    service.revoke_tokens(session, user.id)
    audit.record(
        session,
        actor=None,
        action="user.update",
        subject_type="user",
        subject_id=user.id,
        details={"fields": changed, "role": rule.role, "source": "oidc role claim"},
        high_risk=True,
    )
    if user.role in CASE_CONTENT_ROLES and (
        before[0] not in CASE_CONTENT_ROLES or before[1] != organisation.id
    ):
        publish(
            session,
            CaseAccessGranted(
                actor=None, user_id=user.id, organisation_id=organisation.id, role=user.role
            ),
        )


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
