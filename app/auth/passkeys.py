"""Passkeys (WebAuthn): registering one, signing in with one, listing and removing them.

The ceremonies are py_webauthn's (``webauthn``): it checks the challenge, origin, RP ID hash,
user presence and verification, the signature and the sign counter. Haven keeps the
challenges server-side (``WebAuthnChallenge``: deleted when answered, even by a refused
answer, and refused after ``CHALLENGE_LIFETIME``), checks that a credential's backup
eligibility never changes, that a counter only moves forward (a conditional UPDATE, so two
concurrent sign-ins cannot both use one value) and issues the same token as a password sign-in
(``service.issue_token``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.actor import Actor
from app.audit import service as audit
from app.auth import service, users
from app.db import on_rollback
from app.errors import BadRequest, Forbidden, NotAuthenticated, NotFound
from app.events import TwoFactorReset, publish
from app.models.base import utcnow
from app.models.passkey import Passkey, WebAuthnChallenge
from app.models.user import User

CHALLENGE_LIFETIME = dt.timedelta(minutes=5)
TIMEOUT_MS = 120_000
RP_NAME = "Haven"
REFUSED = "this passkey sign-in was not accepted"


@dataclass(frozen=True)
class RelyingParty:
    rp_id: str
    origin: str


@dataclass(frozen=True)
class PasskeyView:
    id: uuid.UUID
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    backed_up: bool


def relying_party(session: Session) -> RelyingParty:
    """The RP ID and origin from HAVEN_PUBLIC_URL: a passkey made for another origin (a
    look-alike phishing site) is never accepted here."""
    settings = session.info.get("settings")
    url = urlsplit(str(getattr(settings, "public_url", "http://127.0.0.1:8000")))
    host = url.hostname or "localhost"
    return RelyingParty(host, f"{url.scheme}://{url.netloc}")


def _digest(challenge: bytes) -> bytes:
    return hashlib.sha256(challenge).digest()


def _store_challenge(
    session: Session, challenge: bytes, purpose: str, user_id: uuid.UUID | None
) -> None:
    now = utcnow()
    session.execute(delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at <= now))
    session.add(
        WebAuthnChallenge(
            challenge_hash=_digest(challenge),
            purpose=purpose,
            user_id=user_id,
            expires_at=now + CHALLENGE_LIFETIME,
        )
    )
    session.flush()


def _challenge_of(credential: dict[str, Any]) -> bytes:
    """The challenge the browser signed, read from the credential's clientDataJSON."""
    try:
        response = credential["response"]
        client_data = json.loads(_b64(response["clientDataJSON"]))
        return _b64(client_data["challenge"])
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise BadRequest("credential: not a WebAuthn credential") from None


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _consume(session: Session, challenge: bytes, purpose: str, user_id: uuid.UUID | None) -> bool:
    """Whether ``challenge`` was handed out for ``purpose`` (and user) and is still fresh.
    It is deleted in any case, and again if this transaction is rolled back: one answer."""
    key = _digest(challenge)

    def forget(other: Session) -> None:
        other.execute(delete(WebAuthnChallenge).where(WebAuthnChallenge.challenge_hash == key))

    row = session.execute(
        delete(WebAuthnChallenge)
        .where(WebAuthnChallenge.challenge_hash == key)
        .returning(
            WebAuthnChallenge.purpose, WebAuthnChallenge.user_id, WebAuthnChallenge.expires_at
        )
    ).first()
    on_rollback(session, forget)
    if row is None:
        return False
    found_purpose, found_user, expires_at = row
    return found_purpose == purpose and found_user == user_id and expires_at > utcnow()


# Registering ----------------------------------------------------------------------------------
def registration_options(
    session: Session,
    actor: Actor,
    *,
    password: str | None,
    code: str | None = None,
    client: str | None = None,
) -> dict[str, Any]:
    """Creation options for a new passkey, once the current password (and two-factor code
    when it is on) is given: a stolen token alone does not add a way in."""
    user = session.get_one(User, actor.id)
    service._reauthenticate(session, actor, user, password, code, client)
    rp = relying_party(session)
    existing = session.scalars(select(Passkey.credential_id).where(Passkey.user_id == user.id))
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=RP_NAME,
        user_name=user.username,
        user_id=user.id.bytes,
        user_display_name=user.username,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in existing],
    )
    _store_challenge(session, options.challenge, "register", user.id)
    parsed: dict[str, Any] = json.loads(options_to_json(options))
    return parsed


def register(
    session: Session, actor: Actor, *, credential: dict[str, Any], name: str
) -> PasskeyView:
    """Store the passkey the authenticator made for the options (audited
    ``auth.passkey_added``); 400 when it does not verify."""
    challenge = _challenge_of(credential)
    if not _consume(session, challenge, "register", actor.id):
        raise BadRequest("credential: the challenge is unknown, used or expired; start again")
    rp = relying_party(session)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except WebAuthnException:
        raise BadRequest("credential: the passkey could not be verified") from None
    if session.scalar(select(Passkey.id).where(Passkey.credential_id == verified.credential_id)):
        raise BadRequest("credential: this passkey is already registered")
    row = Passkey(
        user_id=actor.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name,
        backup_eligible=verified.credential_device_type == "multi_device",
        backed_up=verified.credential_backed_up,
    )
    session.add(row)
    session.flush()
    audit.record(
        session, actor=actor, action="auth.passkey_added", subject_type="user", subject_id=actor.id
    )
    return _view(row)


def _view(row: Passkey) -> PasskeyView:
    return PasskeyView(row.id, row.name, row.created_at, row.last_used_at, row.backed_up)


def list_passkeys(session: Session, actor: Actor) -> list[PasskeyView]:
    rows = session.scalars(
        select(Passkey).where(Passkey.user_id == actor.id).order_by(Passkey.created_at)
    )
    return [_view(row) for row in rows]


def remove(session: Session, actor: Actor, passkey_id: uuid.UUID) -> None:
    """Remove one of the caller's own passkeys (audited ``auth.passkey_removed``); the
    caller's tokens are kept. Another user's passkey is a 404."""
    row = session.scalar(
        select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == actor.id)
    )
    if row is None:
        raise NotFound()
    session.delete(row)
    audit.record(
        session,
        actor=actor,
        action="auth.passkey_removed",
        subject_type="user",
        subject_id=actor.id,
    )


def reset_user(session: Session, actor: Actor, user_id: uuid.UUID) -> int:
    """An administrator's reset of another account's passkeys (``reset``); 404 for no such
    account, 403 for one's own."""
    user = users._user(session, user_id)
    if user.id == actor.id:
        raise Forbidden("nobody resets their own passkeys; ask another administrator")
    return reset(session, actor, user)


def reset(session: Session, actor: Actor | None, user: User) -> int:
    """An administrator (None: the operator at the console) removes every passkey of
    ``user``: its tokens are revoked, audited ``user.passkeys_reset``, and the organisation's
    supervisors alerted as for a two-factor reset (the account lost a sign-in factor)."""
    removed = cast(
        "CursorResult[Any]", session.execute(delete(Passkey).where(Passkey.user_id == user.id))
    ).rowcount
    service.revoke_tokens(session, user.id)
    audit.record(
        session,
        actor=actor,
        action="user.passkeys_reset",
        subject_type="user",
        subject_id=user.id,
        details={"removed": removed},
        high_risk=True,
    )
    publish(
        session,
        TwoFactorReset(actor=actor, user_id=user.id, organisation_id=user.organisation_id),
    )
    return removed


# Signing in -----------------------------------------------------------------------------------
def login_options(session: Session, username: str | None) -> dict[str, Any]:
    """Request options. Without a username the browser offers the passkeys it holds for
    Haven (discoverable credentials); with one, that user's passkeys are listed, and an
    unknown username gets the same empty list as no username (nobody learns who exists)."""
    rp = relying_party(session)
    allowed: list[PublicKeyCredentialDescriptor] = []
    if username:
        ids = session.scalars(
            select(Passkey.credential_id)
            .join(User, User.id == Passkey.user_id)
            .where(User.username == username)
        )
        allowed = [PublicKeyCredentialDescriptor(id=c) for c in ids]
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        timeout=TIMEOUT_MS,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    _store_challenge(session, options.challenge, "login", None)
    parsed: dict[str, Any] = json.loads(options_to_json(options))
    return parsed


def _refuse(session: Session, user: User | None, why: str) -> NotAuthenticated:
    audit.record(
        session,
        actor=service._actor(user) if user else None,
        action="auth.login_failed",
        subject_type="user" if user else None,
        subject_id=user.id if user else None,
        outcome="failed",
        details={"reason": why, "method": "passkey"},
        durable=True,
    )
    return NotAuthenticated(REFUSED)


def login(
    session: Session, *, credential: dict[str, Any], channel: str = "api"
) -> service.IssuedToken:
    """A token for the user whose passkey signed the challenge: the same answer as a
    password sign-in, audited ``auth.passkey_login``; 401 for anything not accepted."""
    challenge = _challenge_of(credential)
    fresh = _consume(session, challenge, "login", None)
    try:
        parsed = parse_authentication_credential_json(credential)
    except WebAuthnException:
        raise BadRequest("credential: not a WebAuthn assertion") from None
    row = session.scalar(select(Passkey).where(Passkey.credential_id == parsed.raw_id))
    user = session.get(User, row.user_id) if row is not None else None
    if not fresh:
        raise _refuse(session, user, "unknown, used or expired challenge")
    if row is None or user is None:
        raise _refuse(session, None, "unknown passkey")
    if user.disabled:
        raise _refuse(session, user, "account disabled")
    handle = parsed.response.user_handle
    if handle is not None and handle != user.id.bytes:
        raise _refuse(session, user, "user handle does not match")
    rp = relying_party(session)
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            credential_public_key=row.public_key,
            credential_current_sign_count=row.sign_count,
            require_user_verification=True,
        )
    except WebAuthnException:
        raise _refuse(session, user, "assertion not verified") from None
    eligible = verified.credential_device_type == "multi_device"
    if eligible != row.backup_eligible:
        raise _refuse(session, user, "backup eligibility changed")
    now = utcnow()
    # Conditional on the counter read, so two concurrent sign-ins cannot both use one value.
    claimed = cast(
        "CursorResult[Any]",
        session.execute(
            update(Passkey)
            .where(Passkey.id == row.id, Passkey.sign_count == row.sign_count)
            .values(
                sign_count=verified.new_sign_count,
                backed_up=verified.credential_backed_up,
                last_used_at=now,
            )
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if claimed != 1:
        raise _refuse(session, user, "sign counter raced")
    user.last_login_at = now
    issued = service.issue_token(session, user, channel=channel)
    audit.record(
        session,
        actor=service._actor(user),
        action="auth.passkey_login",
        subject_type="user",
        subject_id=user.id,
    )
    return issued
