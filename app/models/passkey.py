"""Passkeys (WebAuthn credentials), the challenges they answer, and single sign-on links."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey

_BIGINT = BigInteger().with_variant(Integer, "sqlite")


class Passkey(UUIDPrimaryKey, CreatedAt, Base):
    """A user's WebAuthn credential: its id, COSE public key and last sign counter. Nothing
    here opens anything: the private key never leaves the authenticator."""

    __tablename__ = "passkey"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(_BIGINT, default=0)
    name: Mapped[str] = mapped_column(String(100))
    # Backup eligibility is fixed when the credential is made; an assertion claiming otherwise
    # is refused. The backup state may change (a passkey synced later).
    backup_eligible: Mapped[bool] = mapped_column(default=False)
    backed_up: Mapped[bool] = mapped_column(default=False)
    last_used_at: Mapped[dt.datetime | None]


class WebAuthnChallenge(CreatedAt, Base):
    """A challenge handed out with creation or request options: deleted when answered (so it
    answers once, in whichever process), refused after ``expires_at``. Only its SHA-256 is
    kept."""

    __tablename__ = "webauthn_challenge"

    challenge_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "register" or "login"
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class OidcLink(UUIDPrimaryKey, CreatedAt, Base):
    """A Haven account's identity at the OpenID Connect provider: its issuer and subject
    (``sub``, the provider's stable id, never the e-mail address, which can be reassigned)."""

    __tablename__ = "oidc_link"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), unique=True)
