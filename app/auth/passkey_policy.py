"""HAVEN_REQUIRE_PASSKEY_ROLES: which roles must sign in with a passkey once they have one."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.passkey import Passkey
from app.models.user import User

PASSKEY_REQUIRED = (
    "this account signs in with a passkey: use “Sign in with a passkey” "
    "(POST /api/v1/auth/passkeys/login)"
)


def required_roles(session: Session) -> frozenset[str]:
    settings = session.info.get("settings")
    roles: frozenset[str] = getattr(settings, "passkey_roles", frozenset())
    return roles


def has_passkey(session: Session, user_id: uuid.UUID) -> bool:
    found = session.scalar(select(Passkey.id).where(Passkey.user_id == user_id).limit(1))
    return found is not None


def password_refused(session: Session, user: User) -> bool:
    """Whether ``user``'s role must use its passkey and it has one: a password (and a code,
    which a fake sign-in page can relay) no longer signs it in."""
    return user.role in required_roles(session) and has_passkey(session, user.id)


def asked_to_register(session: Session, user: User) -> bool:
    """Whether ``user``'s role should have a passkey and has none yet (the web client asks)."""
    return user.role in required_roles(session) and not has_passkey(session, user.id)
