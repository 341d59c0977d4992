"""Creating staff accounts (shared by the CLI and the users API)."""

from __future__ import annotations

import re
import uuid
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.passwords import hash_password
from app.auth.roles import Role
from app.crypto import FieldSlot, Pad, crypto_of
from app.errors import BadRequest, Conflict
from app.models.organisation import Organisation
from app.models.user import User

USER_FULL_NAME = FieldSlot("user", "full_name")
USER_EMAIL = FieldSlot("user", "email")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
MIN_PASSWORD, MAX_PASSWORD = 12, 128


def check_password(password: str, *, username: str | None = None) -> None:
    """ASVS 5.0 6.2: length 12 to 128, no composition rules, not a known common password."""
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"passwords need at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise BadRequest(f"passwords may have at most {MAX_PASSWORD} characters")
    folded = password.casefold()
    if folded in _common_passwords() or (username and folded == username.casefold()):
        raise BadRequest("that password is too common; choose another (a passphrase works well)")


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships 30,000 of the most common leaked passwords; nothing is fetched at run time.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


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


def read_user(session: Session, user: User) -> dict[str, object]:
    """The user as the users API shows it, name and e-mail opened."""
    crypto = crypto_of(session)
    full_name = email = None
    if user.full_name_ct is not None:
        full_name = crypto.open(
            session, USER_FULL_NAME, user.id, user.id, user.full_name_ct, pad=Pad.SHORT
        )
    if user.email_ct is not None:
        email = crypto.open(session, USER_EMAIL, user.id, user.id, user.email_ct, pad=Pad.SHORT)
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
    }


def seal_contact(session: Session, user: User, *, full_name: str | None, email: str | None) -> None:
    crypto = crypto_of(session)
    key = crypto.keys.current_or_create(session, user.id, "user")
    user.full_name_ct = crypto.seal(key, USER_FULL_NAME, user.id, full_name, pad=Pad.SHORT)
    user.email_ct = crypto.seal(key, USER_EMAIL, user.id, email, pad=Pad.SHORT)


def update_user(session: Session, user: User, changes: dict[str, object]) -> set[str]:
    """Apply an admin's changes; disabling revokes every token at once."""
    from app.auth.service import revoke_tokens

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
            full_name=changes.get("full_name", current["full_name"]),  # type: ignore[arg-type]
            email=changes.get("email", current["email"]),  # type: ignore[arg-type]
        )
        changed.update(k for k in ("full_name", "email") if k in changes)
    return changed
