"""Staff accounts, their sign-in tokens, API keys of automated systems, sign-in throttling."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class User(UUIDPrimaryKey, CreatedAt, Base):
    """A person who signs in. Name, e-mail and TOTP seed are sealed with the user's own key."""

    __tablename__ = "user"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[dt.datetime | None]
    disabled: Mapped[bool] = mapped_column(default=False)
    full_name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_seed_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    # The last accepted TOTP time step: a code at or before it is never accepted again.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    last_login_at: Mapped[dt.datetime | None]
    # An auditor reads its own organisation's audit trail; this explicit grant, given only by
    # `haven users create --deployment-auditor` (audited), widens it to the whole deployment.
    deployment_auditor: Mapped[bool] = mapped_column(default=False)
    # How the user reads times and the interface: an IANA zone ("Asia/Bangkok") and a locale
    # ("km", "th"); None follows the organisation's default, then UTC and English.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))


class RecoveryCode(UUIDPrimaryKey, CreatedAt, Base):
    """A one-time two-factor recovery code, stored as a hash."""

    __tablename__ = "recovery_code"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    used_at: Mapped[dt.datetime | None]


class AuthToken(UUIDPrimaryKey, CreatedAt, Base):
    """A bearer token of a signed-in user; only its SHA-256 is stored."""

    __tablename__ = "auth_token"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
    last_used_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    channel: Mapped[str] = mapped_column(String(16), default="api")


class ApiKey(UUIDPrimaryKey, CreatedAt, Base):
    """An automated system's key: shown once, stored as SHA-256, revocable, expiring."""

    __tablename__ = "api_key"

    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"))
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    # After this a key is refused as a revoked one is (at most a year after it was made).
    expires_at: Mapped[dt.datetime]


class LoginThrottle(Base):
    """Failed sign-ins per account or per client address (keys are keyed hashes)."""

    __tablename__ = "login_throttle"

    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[dt.datetime]
    locked_until: Mapped[dt.datetime | None]


class AuthGeneration(Base):
    """One row: a counter raised by every change that can end a sign-in (a token revoked, an
    account disabled, a role, password or two-factor changed, an API key revoked). Each
    process keeps valid tokens in memory and trusts them only while this number is unchanged;
    it reads it at the start of every request, so a revocation is seen by every process at once.
    """

    __tablename__ = "auth_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
