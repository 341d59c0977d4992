"""Who is told what, where: notification preferences, browser push subscriptions, the push
service key, the on-call rota, and the steps of an alert's escalation."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey, utcnow


class NotificationPreference(Base):
    """A user's choices; no row means the defaults of their role (app.notifications.planner).

    The time zone the quiet hours are read in is the user's profile field ``User.time_zone``.
    """

    __tablename__ = "notification_preference"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), primary_key=True)
    email: Mapped[bool]
    push: Mapped[bool]
    min_severity: Mapped[str] = mapped_column(String(16))
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "22:00", local time
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PushSubscription(UUIDPrimaryKey, CreatedAt, Base):
    """A browser's Web Push subscription (RFC 8030). The endpoint is a capability URL and the
    keys let anyone write to that browser, so all three are sealed with the user's key."""

    __tablename__ = "push_subscription"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
    endpoint_ct: Mapped[bytes] = mapped_column(LargeBinary)
    keys_ct: Mapped[bytes] = mapped_column(LargeBinary)  # {"p256dh", "auth"}
    # A keyed hash of the endpoint: one row per browser, found without opening every row.
    endpoint_tag: Mapped[str] = mapped_column(String(64), unique=True)
    last_success_at: Mapped[dt.datetime | None]


class PushServerKey(Base):
    """The VAPID application server key pair (RFC 8292): one per deployment, the private half
    sealed with a data key of its own like every other secret."""

    __tablename__ = "push_server_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    public_key: Mapped[str] = mapped_column(String(100))  # base64url, uncompressed P-256 point
    private_key_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OnCallShift(UUIDPrimaryKey, CreatedAt, Base):
    """Who answers the organisation's critical alerts from ``starts_at`` until ``ends_at``."""

    __tablename__ = "on_call_shift"
    __table_args__ = (
        Index("ix_on_call_shift_organisation_id_ends_at", "organisation_id", "ends_at"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    created_by: Mapped[uuid.UUID | None]


class AlertEscalation(Base):
    """One step of an unacknowledged critical alert's escalation (1: on call, 2: supervisors)."""

    __tablename__ = "alert_escalation"

    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime]
    to_user_id: Mapped[uuid.UUID | None]  # the person on call at step 1, if anyone was
