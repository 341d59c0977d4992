"""Creating staff accounts (shared by the CLI and the users API)."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import organisations
from app.actor import Actor
from app.audit import service as audit
from app.auth.passwords import check_password, hash_password
from app.auth.roles import Role
from app.auth.service import _throttle_keys, clear_mfa, revoke_tokens
from app.crypto import FieldSlot, Pad, crypto_of
from app.crypto.envelope import DecryptionError, UnknownKeyError
from app.errors import BadRequest, Conflict, Forbidden, NotFound
from app.events import CaseAccessGranted, TwoFactorReset, publish
from app.models.base import utcnow
from app.models.organisation import Organisation
from app.models.user import LoginThrottle, User

USER_FULL_NAME = FieldSlot("user", "full_name")
USER_EMAIL = FieldSlot("user", "email")
log = logging.getLogger("haven.users")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
# Roles that read case content: giving one to an account alerts the organisation's supervisors.
CASE_CONTENT_ROLES = frozenset({Role.SUPERVISOR.value, Role.CASEWORKER.value, Role.LAWYER.value})


class UserView(TypedDict):
    """A user as the users API shows it (schemas.UserRead), name and e-mail opened."""

    id: uuid.UUID
    username: str
    role: str
    organisation: uuid.UUID
    disabled: bool
    mfa_enabled: bool
    full_name: str | None
    email: str | None
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    locked_until: dt.datetime | None  # the end of a sign-in lockout, while there is one


class UserChanges(TypedDict, total=False):
    """An admin's changes to a user (schemas.UserUpdate, the fields given only)."""

    role: str | None
    disabled: bool | None
    full_name: str | None
    email: str | None


def create_user(
    session: Session,
    *,
    username: str,
    role: str,
    password: str,
    organisation: Organisation,
    full_name: str | None = None,
    email: str | None = None,
) -> User:
    if not USERNAME.match(username):
        raise BadRequest("usernames are 2 to 64 letters, digits, dots, dashes or underscores")
    try:
        role = Role(role).value
    except ValueError:
        raise BadRequest(f"unknown role; one of: {', '.join(r.value for r in Role)}") from None
    check_password(password, username=username)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("that username is taken")
    user = User(
        id=uuid.uuid4(),
        username=username,
        role=role,
        organisation_id=organisation.id,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    if full_name is not None or email is not None:
        seal_contact(session, user, full_name=full_name, email=email)
    return user


def read_user(session: Session, user: User) -> UserView:
    """The user as the users API shows it, name and e-mail opened."""
    full_name = open_contact(session, user, USER_FULL_NAME, user.full_name_ct)
    email = open_contact(session, user, USER_EMAIL, user.email_ct)
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "organisation": user.organisation_id,
        "disabled": user.disabled,
        "mfa_enabled": user.totp_enabled,
        "full_name": full_name,
        "email": email,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
        "locked_until": locked_until(session, user),
    }


def open_contact(session: Session, user: User, slot: FieldSlot, sealed: bytes | None) -> str | None:
    """A sealed name or e-mail address of a staff account, opened; None when there is none,
    or when it fails authentication or names another row's key (tampered with, or moved):
    that is logged, and the account stays manageable rather than the list of accounts failing."""
    if sealed is None:
        return None
    try:
        value = crypto_of(session).open(session, slot, user.id, user.id, sealed, pad=Pad.SHORT)
    except (DecryptionError, UnknownKeyError):
        log.error("the sealed %s of account %s failed authentication", slot.column, user.id)
        return None
    return value if isinstance(value, str) else None


def seal_contact(session: Session, user: User, *, full_name: str | None, email: str | None) -> None:
    crypto = crypto_of(session)
    key = crypto.keys.current_or_create(session, user.id, "user")
    user.full_name_ct = crypto.seal(key, USER_FULL_NAME, user.id, full_name, pad=Pad.SHORT)
    user.email_ct = crypto.seal(key, USER_EMAIL, user.id, email, pad=Pad.SHORT)


def update_user(session: Session, user: User, changes: UserChanges) -> set[str]:
    """Apply an admin's changes; disabling revokes every token at once."""
    changed: set[str] = set()
    if changes.get("role") is not None and changes["role"] != user.role:
        user.role = Role(str(changes["role"])).value
        changed.add("role")
    if changes.get("disabled") is not None and changes["disabled"] != user.disabled:
        user.disabled = bool(changes["disabled"])
        changed.add("disabled")
    if "role" in changed or user.disabled:
        revoke_tokens(session, user.id)
    if "full_name" in changes or "email" in changes:
        current = read_user(session, user)
        seal_contact(
            session,
            user,
            full_name=changes.get("full_name", current["full_name"]),
            email=changes.get("email", current["email"]),
        )
        changed.update(k for k in ("full_name", "email") if k in changes)
    return changed


# The users API's use cases (administrators), each audited --------------------------------------
def add_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    role: str,
    password: str,
    organisation: str | None = None,
    full_name: str | None = None,
    email: str | None = None,
) -> UserView:
    """Create an account in an existing organisation (POST /users), audited as
    ``user.create`` (high risk)."""
    org, _ = organisations.resolve(session, organisation, create=False)
    user = create_user(
        session,
        username=username,
        role=role,
        password=password,
        organisation=org,
        full_name=full_name,
        email=email,
    )
    audit.record(
        session,
        actor=actor,
        action="user.create",
        subject_type="user",
        subject_id=user.id,
        details={"role": user.role},
        high_risk=True,
    )
    _announce_grant(session, actor, user, None)
    return read_user(session, user)


def _announce_grant(session: Session, actor: Actor, user: User, before: str | None) -> None:
    """An account that now reaches case content (and did not) is for supervisors to know of."""
    if user.role in CASE_CONTENT_ROLES and before not in CASE_CONTENT_ROLES:
        publish(
            session,
            CaseAccessGranted(
                actor=actor, user_id=user.id, organisation_id=user.organisation_id, role=user.role
            ),
        )


def list_users(
    session: Session, actor: Actor, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[UserView], str | None]:
    """A page of accounts by username, and the cursor of the next (GET /users), audited as
    ``user.list``."""
    query = select(User).order_by(User.username).limit(limit + 1)
    if cursor:
        query = query.where(User.username > cursor)
    rows = list(session.scalars(query))
    page = rows[:limit]
    audit.record(session, actor=actor, action="user.list", details={"count": len(page)})
    return [read_user(session, u) for u in page], page[-1].username if len(rows) > limit else None


def _user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def get_user(session: Session, actor: Actor, user_id: uuid.UUID) -> UserView:
    """One account (GET /users/{id}), audited as ``user.read``; 404 if there is none."""
    user = _user(session, user_id)
    audit.record(session, actor=actor, action="user.read", subject_type="user", subject_id=user.id)
    return read_user(session, user)


def change_user(
    session: Session, actor: Actor, user_id: uuid.UUID, changes: UserChanges
) -> UserView:
    """An administrator's changes to an account (PATCH /users/{id}), audited as
    ``user.update`` with the fields changed (high risk for the role or disabling).

    Nobody changes their own role (403, whatever the role asked for); a role that reaches case
    content alerts the organisation's supervisors (``CaseAccessGranted``)."""
    user = _user(session, user_id)
    if changes.get("role") is not None and user.id == actor.id:
        audit.record(
            session,
            actor=actor,
            action="permission.denied",
            outcome="denied",
            subject_type="user",
            subject_id=user.id,
            details={"action": "user.own_role"},
            durable=True,
        )
        raise Forbidden("nobody changes their own role; ask another administrator")
    before = user.role
    changed = update_user(session, user, changes)
    audit.record(
        session,
        actor=actor,
        action="user.update",
        subject_type="user",
        subject_id=user.id,
        details={"fields": sorted(changed)},
        high_risk="role" in changed or "disabled" in changed,
    )
    if "role" in changed:
        _announce_grant(session, actor, user, before)
    return read_user(session, user)


def reset_mfa(session: Session, actor: Actor | None, user_id: uuid.UUID) -> UserView:
    """An administrator (None: the operator at the console, `haven users reset-mfa`) turns an
    account's two-factor off (POST /users/{id}/mfa/reset): its tokens are revoked, it is
    audited as ``user.mfa_reset`` (high risk) and the account's organisation's supervisors are
    alerted (``TwoFactorReset``). Not one's own (403)."""
    user = _user(session, user_id)
    if actor is not None and user.id == actor.id:
        raise Forbidden("nobody resets their own two-factor sign-in; ask another administrator")
    clear_mfa(session, user)
    audit.record(
        session,
        actor=actor,
        action="user.mfa_reset",
        subject_type="user",
        subject_id=user.id,
        high_risk=True,
    )
    publish(
        session,
        TwoFactorReset(actor=actor, user_id=user.id, organisation_id=user.organisation_id),
    )
    return read_user(session, user)


def disable_user(session: Session, actor: Actor | None, user_id: uuid.UUID) -> UserView:
    """Disable an account and revoke its tokens (DELETE /users/{id}), audited as
    ``user.disable`` (high risk)."""
    user = _user(session, user_id)
    update_user(session, user, {"disabled": True})
    audit.record(
        session,
        actor=actor,
        action="user.disable",
        subject_type="user",
        subject_id=user.id,
        high_risk=True,
    )
    return read_user(session, user)


# Operators' and administrators' account care: enable, unlock, reset a password ---------------
def find_user(session: Session, username: str) -> User:
    """The account named ``username`` (the console names accounts by username); 404 if none."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username[:64]!r}")
    return user


def enable_user(session: Session, actor: Actor | None, user_id: uuid.UUID) -> UserView:
    """Enable a disabled account again, audited as ``user.enable`` (high risk)."""
    user = _user(session, user_id)
    update_user(session, user, {"disabled": False})
    audit.record(
        session,
        actor=actor,
        action="user.enable",
        subject_type="user",
        subject_id=user.id,
        high_risk=True,
    )
    return read_user(session, user)


def _account_throttle(session: Session, user: User) -> LoginThrottle | None:
    # The account's row of the sign-in throttle (keyed by a keyed hash of the username).
    key, _ = _throttle_keys(session, user.username, None)[0]
    return session.get(LoginThrottle, key)


def locked_until(session: Session, user: User) -> dt.datetime | None:
    """When the account's sign-in lockout (too many wrong passwords) ends; None if not locked."""
    row = _account_throttle(session, user)
    if row is None or row.locked_until is None or row.locked_until <= utcnow():
        return None
    return row.locked_until


def lockouts(session: Session, users: list[User]) -> dict[uuid.UUID, dt.datetime]:
    """``locked_until`` of each of ``users`` that is locked out now."""
    found = {}
    for user in users:
        until = locked_until(session, user)
        if until is not None:
            found[user.id] = until
    return found


def unlock(session: Session, actor: Actor | None, user_id: uuid.UUID) -> bool:
    """End an account's sign-in lockout and forget its failed attempts, audited as
    ``user.unlock``; False (and nothing audited) when it was not locked."""
    user = _user(session, user_id)
    was_locked = locked_until(session, user) is not None
    row = _account_throttle(session, user)
    if row is not None:
        session.delete(row)
    if was_locked:
        audit.record(
            session, actor=actor, action="user.unlock", subject_type="user", subject_id=user.id
        )
    return was_locked


def reset_password(
    session: Session, actor: Actor | None, user_id: uuid.UUID, password: str
) -> UserView:
    """Set a new password for someone who lost theirs: every session of the account ends and
    its lockout is lifted; audited as ``user.password_reset`` (high risk). Not one's own (403:
    one's own password is changed with the current one, POST /auth/password)."""
    user = _user(session, user_id)
    if actor is not None and user.id == actor.id:
        raise Forbidden("change your own password with your current one (Account page)")
    check_password(password, username=user.username)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    revoke_tokens(session, user.id)
    row = _account_throttle(session, user)
    if row is not None:
        session.delete(row)
    audit.record(
        session,
        actor=actor,
        action="user.password_reset",
        subject_type="user",
        subject_id=user.id,
        high_risk=True,
    )
    return read_user(session, user)
