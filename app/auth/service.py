"""Signing in and out: passwords, two-factor, bearer tokens, API keys, throttling."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import tokencache
from app.actor import Actor
from app.audit import service as audit
from app.auth import passkey_policy, passwords, totp
from app.auth.roles import API_KEY_ROLES, Role
from app.crypto import FieldSlot, Pad, crypto_of
from app.db import after_read, is_reading, on_rollback
from app.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    HavenError,
    NotAuthenticated,
    NotFound,
    RateLimited,
)
from app.events import ApiKeyCreated, publish
from app.models.base import utcnow
from app.models.user import ApiKey, AuthToken, LoginThrottle, RecoveryCode, User

IDLE_TIMEOUT = dt.timedelta(minutes=30)
ABSOLUTE_TIMEOUT = dt.timedelta(hours=12)
TOUCH_EVERY = dt.timedelta(seconds=60)
ACCOUNT_MAX_FAILURES, ACCOUNT_WINDOW, ACCOUNT_LOCKOUT = (
    5,
    dt.timedelta(minutes=15),
    dt.timedelta(minutes=15),
)
# An office shares one address: the per-address limit is much looser.
CLIENT_MAX_FAILURES, CLIENT_WINDOW = 50, dt.timedelta(minutes=15)
SESSION_PREFIX, API_KEY_PREFIX = "hvn_s_", "hvn_k_"
TOTP_SEED = FieldSlot("user", "totp_seed")
RECOVERY_CODES = 10
# Service keys live 90 days unless told otherwise, and never more than a year.
API_KEY_LIFETIME, API_KEY_MAX_LIFETIME = dt.timedelta(days=90), dt.timedelta(days=365)
ENROL_FIRST = (
    "two-factor sign-in must be set up before anything else: "
    "POST /api/v1/auth/mfa/enroll with your password, then /api/v1/auth/mfa/confirm"
)


class EnrolmentRequired(HavenError):
    """A session of a user who must set up two-factor (HAVEN_REQUIRE_MFA) and has not: it
    reaches the enrolment routes and /auth/me only. Not a ``Forbidden``: the role is fine."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__(ENROL_FIRST, mfa_enrollment_required=True)


class Reauthentication(Forbidden):
    """The current password (or two-factor code) given to confirm a change was wrong."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    # HAVEN_REQUIRE_MFA and no two-factor yet: the token reaches enrolment only.
    mfa_enrollment_required: bool = False


def mfa_pending(session: Session, user: User) -> bool:
    """Whether ``user`` must set up two-factor before anything else (HAVEN_REQUIRE_MFA)."""
    settings = session.info.get("settings")
    return bool(getattr(settings, "mfa_required", False)) and not user.totp_enabled


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


# Tokens ---------------------------------------------------------------------------------------
def issue_token(session: Session, user: User, *, channel: str = "api") -> IssuedToken:
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        AuthToken(
            token_hash=digest(token),
            user_id=user.id,
            last_used_at=now,
            expires_at=now + ABSOLUTE_TIMEOUT,
            channel=channel,
        )
    )
    session.flush()
    return IssuedToken(
        token, int(IDLE_TIMEOUT.total_seconds()), mfa_enrollment_required=mfa_pending(session, user)
    )


def revoke_tokens(session: Session, user_id: uuid.UUID, *, keep: uuid.UUID | None = None) -> None:
    statement = (
        update(AuthToken)
        .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if keep is not None:
        statement = statement.where(AuthToken.id != keep)
    session.execute(statement.execution_options(synchronize_session=False))


def authenticate_token(session: Session, presented: str, *, enrolling: bool = False) -> Actor:
    """The actor behind a bearer token or API key; 401 for anything not currently valid.

    A user who must set up two-factor first (``mfa_pending``) gets 403 (``EnrolmentRequired``)
    unless ``enrolling``: the enrolment routes and /auth/me only. A token this process has
    checked is taken from memory while the sign-in generation is unchanged (app.tokencache)."""
    key, now = digest(presented), utcnow()
    cache = tokencache.of(session)
    entry: tokencache.Entry | None = None
    generation = 0
    if cache is not None:
        # Before the check (see app.tokencache); the key-erasure generation comes with it.
        generation, erasures = tokencache.generations(session)
        crypto_of(session).keys.observe_erasures(session, erasures)
        entry = cache.get(key, generation)
        if entry is not None and not _usable(entry, now):
            cache.drop(key)
            entry = None
    if entry is None:
        entry = _check(session, presented, now)
        if cache is not None:
            entry.generation = generation
            cache.put(key, entry)
    elif entry.last_used_at is None or now - entry.last_used_at >= TOUCH_EVERY:
        _touch_entry(session, entry, now)
    if entry.mfa_pending and not enrolling:
        raise EnrolmentRequired()
    return entry.actor


def remembered(session: Session, presented: str) -> tokencache.Entry | None:
    """A read request's token as this process last checked it, with no database work: the
    request goes on, and ``confirm`` checks the sign-in generation before it answers
    (app.db.end_read). None: check it now (``authenticate_token``)."""
    cache = tokencache.of(session)
    if cache is None or not tokencache.is_reading(session):
        return None
    key, now = digest(presented), utcnow()
    entry = cache.peek(key)
    if entry is None or not _usable(entry, now):
        return None
    session.info[tokencache.PENDING] = (key, presented, entry)
    return entry


def confirm(session: Session, signins: int | None = None, erasures: int | None = None) -> None:
    """The remembered token of a read request still stands: its generation is unchanged, or
    the token checked again is still the same actor's. Given the generations (a query that read
    them with its own rows), no statement of its own; otherwise one. 401 otherwise: nothing was
    written, and nothing is answered."""
    pending = session.info.pop(tokencache.PENDING, None)
    if pending is None:
        return
    key, presented, entry = pending
    assert isinstance(entry, tokencache.Entry)
    if signins is None or erasures is None:
        signins, erasures = tokencache.generations(session)
    crypto_of(session).keys.observe_erasures(session, erasures)
    cache = tokencache.of(session)
    assert cache is not None
    now = utcnow()
    if cache.get(key, signins) is not entry:
        checked = _check(session, presented, now)
        if checked.actor != entry.actor or checked.mfa_pending != entry.mfa_pending:
            raise NotAuthenticated("invalid or expired token")
        checked.generation = signins
        cache.put(key, checked)
        return
    if entry.last_used_at is None or now - entry.last_used_at >= TOUCH_EVERY:
        _touch_entry(session, entry, now)


def _touch_entry(session: Session, entry: tokencache.Entry, now: dt.datetime) -> None:
    model = AuthToken if entry.actor.kind == "user" else ApiKey
    row_id = entry.actor.token_id if entry.actor.kind == "user" else entry.actor.id
    assert row_id is not None
    _record_use(session, _touch(model, row_id, now))
    entry.last_used_at = now


def _usable(entry: tokencache.Entry, now: dt.datetime) -> bool:
    if entry.expires_at <= now:
        return False
    idle = entry.actor.kind == "user" and entry.last_used_at is not None
    return not (idle and entry.last_used_at + IDLE_TIMEOUT <= now)  # type: ignore[operator]


def _check(session: Session, presented: str, now: dt.datetime) -> tokencache.Entry:
    """The token or key read from the database (and its use recorded)."""
    if presented.startswith(API_KEY_PREFIX):
        return _check_api_key(session, presented, now)
    if not presented.startswith(SESSION_PREFIX):
        raise NotAuthenticated("invalid or expired token")
    row = session.execute(
        select(AuthToken, User)
        .join(User, User.id == AuthToken.user_id)
        .where(AuthToken.token_hash == digest(presented))
    ).first()
    if row is None:
        raise NotAuthenticated("invalid or expired token")
    token, user = row
    if (
        token.revoked_at is not None
        or token.expires_at <= now
        or token.last_used_at + IDLE_TIMEOUT <= now
        or user.disabled
    ):
        raise NotAuthenticated("invalid or expired token")
    last_used = token.last_used_at
    if now - last_used >= TOUCH_EVERY:
        _record_use(session, _touch(AuthToken, token.id, now))
        last_used = now
    actor = Actor(user.id, user.username, user.role, user.organisation_id, "user", token.id)
    return tokencache.Entry(actor, mfa_pending(session, user), 0, token.expires_at, last_used)


def _check_api_key(session: Session, presented: str, now: dt.datetime) -> tokencache.Entry:
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest(presented)))
    if key is None or key.revoked_at is not None or key.expires_at <= now:
        raise NotAuthenticated("invalid, revoked or expired API key")
    last_used = key.last_used_at
    if last_used is None or now - last_used >= TOUCH_EVERY:
        _record_use(session, _touch(ApiKey, key.id, now))
        last_used = now
    actor = Actor(key.id, f"api-key:{key.name}", key.role, key.organisation_id, "api_key", None)
    return tokencache.Entry(actor, False, 0, key.expires_at, last_used)


def _record_use(session: Session, job: Callable[[Session], None]) -> None:
    """A use counts even when the request then fails (a denied call, a 404): a read request's
    is written by the audit sequencer with its entries, a writing request's at once and again
    after a rollback."""
    if is_reading(session):
        after_read(session, job)
    else:
        job(session)
        on_rollback(session, job)


def _touch(
    model: type[AuthToken] | type[ApiKey], row_id: uuid.UUID, now: dt.datetime
) -> Callable[[Session], None]:

    def job(session: Session) -> None:
        session.execute(update(model).where(model.id == row_id).values(last_used_at=now))

    return job


def logout(session: Session, actor: Actor) -> None:
    if actor.token_id is not None:
        session.execute(
            update(AuthToken).where(AuthToken.id == actor.token_id).values(revoked_at=utcnow())
        )
    audit.record(session, actor=actor, action="auth.logout")


# Signing in -----------------------------------------------------------------------------------
def _throttle_keys(session: Session, username: str, client: str | None) -> list[tuple[bytes, str]]:
    crypto = crypto_of(session)
    keys = [(bytes.fromhex(crypto.index.tag("login-account", username.casefold())), "account")]
    if client:
        keys.append((bytes.fromhex(crypto.index.tag("login-client", client)), "client"))
    return keys


def _check_throttle(session: Session, keys: list[tuple[bytes, str]]) -> None:
    now = utcnow()
    for key, kind in keys:
        row = session.get(LoginThrottle, key)
        if row is None:
            continue
        if row.locked_until is not None and row.locked_until > now:
            wait = int((row.locked_until - now).total_seconds()) + 1
            what = "this account" if kind == "account" else "this address"
            minutes = -(-wait // 60)
            until = row.locked_until.astimezone(dt.UTC).strftime("%H:%M UTC")
            raise RateLimited(
                f"too many failed sign-ins for {what}: locked for {minutes} more "
                f"minute{'' if minutes == 1 else 's'}, until {until} (an administrator can "
                "unlock it sooner)",
                retry_after=wait,
            )


def _count_failure(keys: list[tuple[bytes, str]]) -> Callable[[Session], None]:
    def job(session: Session) -> None:
        now = utcnow()
        for key, kind in keys:
            limit, window = (
                (ACCOUNT_MAX_FAILURES, ACCOUNT_WINDOW)
                if kind == "account"
                else (CLIENT_MAX_FAILURES, CLIENT_WINDOW)
            )
            row = session.get(LoginThrottle, key, with_for_update=True)
            if row is None:
                try:
                    with session.begin_nested():
                        row = LoginThrottle(key=key, failures=0, window_started_at=now)
                        session.add(row)
                except IntegrityError:  # a concurrent failure created it first
                    row = session.get_one(LoginThrottle, key, with_for_update=True)
            if row.window_started_at + window <= now:
                row.failures, row.window_started_at = 0, now
            row.failures += 1
            if row.failures >= limit:
                lock = ACCOUNT_LOCKOUT if kind == "account" else window
                row.locked_until = now + lock
                row.failures, row.window_started_at = 0, now

    return job


def _clear_throttle(session: Session, keys: list[tuple[bytes, str]]) -> None:
    account_key = keys[0][0]
    row = session.get(LoginThrottle, account_key)
    if row is not None:
        session.delete(row)


def login(
    session: Session,
    *,
    username: str,
    password: str,
    code: str | None = None,
    recovery_code: str | None = None,
    client: str | None = None,
    channel: str = "api",
) -> IssuedToken:
    keys = _throttle_keys(session, username, client)
    try:
        _check_throttle(session, keys)
    except RateLimited:
        audit.record(
            session, actor=None, action="auth.login_throttled", outcome="denied", durable=True
        )
        raise
    user = session.scalar(select(User).where(User.username == username))
    ok, new_hash = passwords.verify_and_update(password, user.password_hash if user else None)
    if user is None or not ok or user.disabled:
        _fail(session, keys, user, "wrong credentials")
        raise NotAuthenticated("invalid username or password")
    assert user is not None
    if user.totp_enabled:
        if not code and not recovery_code:
            raise NotAuthenticated("two-factor code required", mfa_required=True)
        if not _second_factor_ok(session, user, code, recovery_code):
            _fail(session, keys, user, "wrong two-factor code")
            raise NotAuthenticated("invalid two-factor code", mfa_required=True)
    if passkey_policy.password_refused(session, user):
        audit.record(
            session,
            actor=_actor(user),
            action="auth.login_refused",
            subject_type="user",
            subject_id=user.id,
            outcome="denied",
            details={"reason": "passkey required"},
            durable=True,
        )
        raise NotAuthenticated(passkey_policy.PASSKEY_REQUIRED, passkey_required=True)
    if new_hash:
        user.password_hash = new_hash  # parameters were raised since this hash was made
    _clear_throttle(session, keys)
    user.last_login_at = utcnow()
    issued = issue_token(session, user, channel=channel)
    audit.record(
        session, actor=_actor(user), action="auth.login", subject_type="user", subject_id=user.id
    )
    return issued


def _fail(
    session: Session,
    keys: list[tuple[bytes, str]],
    user: User | None,
    why: str,
    action: str = "auth.login_failed",
) -> None:
    on_rollback(session, _count_failure(keys))
    audit.record(
        session,
        actor=_actor(user) if user else None,
        action=action,
        subject_type="user" if user else None,
        subject_id=user.id if user else None,
        outcome="failed",
        details={"reason": why},
        durable=True,
    )


def _actor(user: User) -> Actor:
    return Actor(user.id, user.username, user.role, user.organisation_id)


def _second_factor_ok(
    session: Session, user: User, code: str | None, recovery_code: str | None
) -> bool:
    if code:
        seed = _seed(session, user)
        step = totp.accept(seed, code, user.totp_last_step)
        if step is None:
            return False
        # Conditional on the old value, so two concurrent sign-ins cannot both use one code.
        # An UPDATE's result is a CursorResult; Session.execute is typed for the general case.
        claimed = cast(
            "CursorResult[Any]",
            session.execute(
                update(User)
                .where(User.id == user.id, _step_is(user.totp_last_step))
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        user.totp_last_step = step
        return claimed == 1
    if recovery_code:
        row = session.scalar(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == digest(_normal_recovery(recovery_code)),
                RecoveryCode.used_at.is_(None),
            )
        )
        if row is None:
            return False
        row.used_at = utcnow()
        audit.record(session, actor=_actor(user), action="auth.recovery_code_used")
        return True
    return False


def _step_is(last: int | None) -> ColumnElement[bool]:
    return User.totp_last_step.is_(None) if last is None else User.totp_last_step == last


def _seed(session: Session, user: User) -> str:
    if user.totp_seed_ct is None:
        raise BadRequest("two-factor is not set up for this account")
    seed: str = crypto_of(session).open(
        session, TOTP_SEED, user.id, user.id, user.totp_seed_ct, pad=Pad.SHORT
    )
    return seed


def _normal_recovery(code: str) -> str:
    return code.strip().replace("-", "").replace(" ", "").lower()


# Two-factor enrolment -------------------------------------------------------------------------
def _reauthenticate(
    session: Session,
    actor: Actor,
    user: User,
    password: str | None,
    code: str | None,
    client: str | None,
) -> None:
    """A token alone does not change the second factor: the current password (and the current
    code when two-factor is on) is needed, and a wrong one counts toward the sign-in lockout."""
    if not password:
        raise BadRequest("password: the current password is needed to change two-factor sign-in")
    keys = _throttle_keys(session, user.username, client)
    _check_throttle(session, keys)
    ok, _ = passwords.verify_and_update(password, user.password_hash)
    if not ok:
        _fail(session, keys, user, "wrong password", action="auth.reauth_failed")
        raise Reauthentication("the current password is wrong")
    if user.totp_enabled:
        if not code:
            raise BadRequest("totp: the current two-factor code is needed")
        if not _second_factor_ok(session, user, code, None):
            _fail(session, keys, user, "wrong two-factor code", action="auth.reauth_failed")
            raise Reauthentication("the two-factor code is wrong")


def start_enrolment(
    session: Session,
    actor: Actor,
    *,
    password: str | None,
    code: str | None = None,
    client: str | None = None,
) -> tuple[str, str]:
    """POST /auth/mfa/enroll: a new seed, once the current password (and code) is given."""
    user = session.get_one(User, actor.id)
    _reauthenticate(session, actor, user, password, code, client)
    return enroll_mfa(session, actor)


def finish_enrolment(
    session: Session,
    actor: Actor,
    *,
    password: str | None,
    code: str,
    client: str | None = None,
) -> list[str]:
    """POST /auth/mfa/confirm: two-factor on, once the current password is given again."""
    user = session.get_one(User, actor.id)
    if user.totp_enabled:
        raise Conflict("two-factor is already on for this account")
    _reauthenticate(session, actor, user, password, None, client)
    return confirm_mfa(session, actor, code)


def enroll_mfa(session: Session, actor: Actor) -> tuple[str, str]:
    """A new seed for the actor (callers check the password first: ``start_enrolment``)."""
    user = session.get_one(User, actor.id)
    if user.totp_enabled:
        raise Conflict("two-factor is already on for this account")
    seed = totp.new_seed()
    crypto = crypto_of(session)
    key = crypto.keys.current_or_create(session, user.id, "user")
    user.totp_seed_ct = crypto.seal(key, TOTP_SEED, user.id, seed, pad=Pad.SHORT)
    user.totp_last_step = None
    audit.record(
        session, actor=actor, action="auth.mfa_enroll", subject_type="user", subject_id=user.id
    )
    return seed, totp.provisioning_uri(seed, user.username)


def confirm_mfa(session: Session, actor: Actor, code: str) -> list[str]:
    """Turn two-factor on; returns recovery codes, shown once (callers check the password
    first: ``finish_enrolment``)."""
    user = session.get_one(User, actor.id)
    if user.totp_enabled:
        raise Conflict("two-factor is already on for this account")
    if user.totp_seed_ct is None:
        raise Conflict("start with /auth/mfa/enroll")
    step = totp.accept(_seed(session, user), code, user.totp_last_step)
    if step is None:
        raise BadRequest("that code is not valid; check the authenticator's clock")
    user.totp_last_step, user.totp_enabled = step, True
    # 80 random bits each: a plain hash suffices, a slow one would add nothing.
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )
    for c in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=digest(c)))
    revoke_tokens(session, user.id, keep=actor.token_id)
    audit.record(
        session, actor=actor, action="auth.mfa_confirm", subject_type="user", subject_id=user.id
    )
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def change_password(session: Session, actor: Actor, current: str, new: str) -> None:
    user = session.get_one(User, actor.id)
    ok, _ = passwords.verify_and_update(current, user.password_hash)
    if not ok:
        raise BadRequest("the current password is wrong")
    passwords.check_password(new, username=user.username)
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = utcnow()
    revoke_tokens(session, user.id)
    audit.record(
        session, actor=actor, action="auth.password_change", subject_type="user", subject_id=user.id
    )


def clear_mfa(session: Session, user: User) -> None:
    """Turn the user's two-factor off: seed, last step and unused recovery codes gone, every
    token revoked (an administrator's reset; the caller audits and publishes)."""
    user.totp_enabled, user.totp_seed_ct, user.totp_last_step = False, None, None
    session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )
    revoke_tokens(session, user.id)


# API keys -------------------------------------------------------------------------------------
def create_api_key(
    session: Session,
    actor: Actor,
    *,
    name: str,
    role: str,
    organisation_id: uuid.UUID,
    lifetime: dt.timedelta = API_KEY_LIFETIME,
) -> tuple[ApiKey, str]:
    """A service key, shown once; it expires after ``lifetime`` (at most a year). Audited, and
    the organisation's supervisors are alerted (``ApiKeyCreated``)."""
    if role not in {r.value for r in API_KEY_ROLES}:
        raise BadRequest(f"API keys carry the role {Role.SERVICE.value} only")
    if not dt.timedelta(0) < lifetime <= API_KEY_MAX_LIFETIME:
        raise BadRequest("an API key lives at least a day and at most 365 days")
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        expires_at=utcnow() + lifetime,
        name=name,
        role=role,
        organisation_id=organisation_id,
        key_hash=digest(key),
        created_by=actor.id if actor.kind == "user" else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="api_key.create",
        subject_type="api_key",
        subject_id=row.id,
        details={"expires_in_days": lifetime.days},
        high_risk=True,
    )
    publish(session, ApiKeyCreated(actor=actor, api_key_id=row.id, organisation_id=organisation_id))
    return row, key


def revoke_api_key(session: Session, actor: Actor, key_id: uuid.UUID) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound()
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="api_key.revoke",
        subject_type="api_key",
        subject_id=row.id,
        high_risk=True,
    )
    return row
