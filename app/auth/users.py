"""Creating staff accounts (shared by the CLI and the users API)."""

from __future__ import annotations

import re
import uuid

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


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"passwords need at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise BadRequest(f"passwords may have at most {MAX_PASSWORD} characters")


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
    check_password(password)
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
        crypto = crypto_of(session)
        key = crypto.keys.create(session, user.id, "user")
        user.full_name_ct = crypto.seal(key, USER_FULL_NAME, user.id, full_name, pad=Pad.SHORT)
        user.email_ct = crypto.seal(key, USER_EMAIL, user.id, email, pad=Pad.SHORT)
    return user
