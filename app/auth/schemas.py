"""Request and response bodies for sign-in, users and API keys."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from app.auth.roles import Role
from app.validation import NoControl, SingleLine


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class LoginRequest(Strict):
    username: Annotated[str, Field(min_length=1, max_length=64), NoControl]
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, max_length=16)
    recovery_code: str | None = Field(default=None, max_length=32)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    mfa_enrollment_required: bool | None = Field(
        default=None,
        description="Present (true) when two-factor is required (HAVEN_REQUIRE_MFA) and not set "
        "up: the token reaches /auth/mfa/enroll, /auth/mfa/confirm, /auth/me and /auth/logout "
        "only, every other route answers 403 until two-factor is on",
    )


class MeRead(BaseModel):
    id: uuid.UUID
    username: str
    role: str
    organisation: uuid.UUID
    kind: str
    mfa_enabled: bool | None = None
    time_zone: str | None = None  # the user's own choice (null: the organisation's, or UTC)
    locale: str | None = None
    effective_time_zone: str | None = None  # what their pages and e-mail use


class MeUpdate(Strict):
    """``PATCH /auth/me``: an IANA zone such as ``Asia/Bangkok`` (null: back to the
    organisation's), and a language (en, km, th)."""

    time_zone: Annotated[str, Field(max_length=64)] | None = None
    locale: Annotated[str, Field(max_length=16)] | None = None


class MfaEnrollment(BaseModel):
    secret: str
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as an SVG data URI, for a QR code")


class MfaEnroll(Strict):
    """The current password (and current code when two-factor is on): a token is not enough."""

    password: str | None = Field(default=None, max_length=1024)
    totp: str | None = Field(default=None, max_length=16)


class MfaConfirm(Strict):
    totp: str = Field(min_length=6, max_length=16)
    password: str | None = Field(default=None, max_length=1024)


class MfaConfirmed(BaseModel):
    enabled: bool
    recovery_codes: list[str]


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    role: Role
    full_name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    organisation: str | None = Field(default=None, max_length=200)


class UserUpdate(Strict):
    role: Role | None = None
    disabled: bool | None = None
    full_name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None


class UserRead(BaseModel):
    id: uuid.UUID
    username: str
    role: str
    organisation: uuid.UUID
    disabled: bool
    mfa_enabled: bool
    full_name: str | None = None
    email: str | None = None
    created_at: dt.datetime
    last_login_at: dt.datetime | None = None
    locked_until: dt.datetime | None = Field(
        default=None, description="When a sign-in lockout (too many wrong passwords) ends"
    )


class PasswordReset(Strict):
    """An administrator's new password for someone who lost theirs."""

    password: str = Field(min_length=1, max_length=1024)


class UserPage(BaseModel):
    items: list[UserRead]
    next_cursor: str | None = None


class ApiKeyCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100), SingleLine]
    role: Role = Role.SERVICE
    organisation: str | None = Field(default=None, max_length=200)
    expires_in_days: int = Field(default=90, ge=1, le=365)


class ApiKeyCreated(BaseModel):
    id: uuid.UUID
    key: str
    name: str
    role: str
    expires_at: dt.datetime


class ApiKeyRead(BaseModel):
    id: uuid.UUID
    name: str
    role: str
    organisation: uuid.UUID
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    expires_at: dt.datetime
