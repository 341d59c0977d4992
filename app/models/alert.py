"""Alerts, the outbox of their notifications, webhooks, check-ins, lists and country events."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UUIDPrimaryKey, utcnow


class Alert(UUIDPrimaryKey, Base):
    """One threat to one person (or one organisation-wide event), identified by its dedup key.

    A repeat of the same threat while the alert is open or acknowledged updates it
    (occurrences, last_seen_at); after resolution the same key opens a new alert.
    """

    __tablename__ = "alert"
    __table_args__ = (
        Index("ix_alert_dedup_key_status", "dedup_key", "status"),
        Index("ix_alert_organisation_id_updated_at", "organisation_id", "updated_at"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    individual_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("individual.id"), index=True)
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("case.id"))
    rule: Mapped[str] = mapped_column(String(48))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    dedup_key: Mapped[str] = mapped_column(String(64))
    group_key: Mapped[str | None] = mapped_column(String(64))
    subject_id: Mapped[uuid.UUID | None]
    summary: Mapped[str] = mapped_column(String(300))  # never a name, number or place
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    inhibited_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None]
    resolved_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[uuid.UUID | None]
    resolution_note_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    escalated_at: Mapped[dt.datetime | None]


class OutboxMessage(UUIDPrimaryKey, Base):
    """A notification to deliver, written in the same transaction as the alert change.

    The id is the stable ``webhook-id``. Workers claim rows (FOR UPDATE SKIP LOCKED on
    PostgreSQL) with a lease; a worker that dies leaves a lease that expires, never a lost row.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),
    )

    alert_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("alert.id"), index=True)
    event: Mapped[str] = mapped_column(String(48))
    channel: Mapped[str] = mapped_column(String(16))  # webhook | email
    target_id: Mapped[uuid.UUID]  # webhook id, or user id for e-mail
    payload: Mapped[str] = mapped_column(Text)  # JSON of ids, rule, severity, link only
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Webhook(UUIDPrimaryKey, Base):
    """An endpoint that receives signed notifications; its secret is sealed with its own key."""

    __tablename__ = "webhook"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[str] = mapped_column(Text)  # JSON list
    secret_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[dt.datetime | None]


class CheckIn(UUIDPrimaryKey, Base):
    __tablename__ = "check_in"

    individual_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("individual.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # How the person was reached: often a phone number, so sealed with the person's key.
    channel_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    note_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    recorded_by: Mapped[uuid.UUID | None]


class PublishedList(UUIDPrimaryKey, Base):
    """A published list matched against people in scope; names that matched nobody are not kept."""

    __tablename__ = "published_list"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    source_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    published_on: Mapped[dt.date]
    names_submitted: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ListMatch(Base):
    __tablename__ = "list_match"

    list_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("published_list.id"), primary_key=True)
    individual_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("individual.id"), primary_key=True, index=True
    )


class CountryEvent(UUIDPrimaryKey, Base):
    """A crackdown, a deportation agreement, an order against a return: raises many at once."""

    __tablename__ = "country_event"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    country: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(48))
    occurred_on: Mapped[dt.date]
    description_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    affects_ct: Mapped[bytes | None] = mapped_column(LargeBinary)  # the profile it targets
    affects_country: Mapped[str | None] = mapped_column(String(3))
    affects_nationality: Mapped[str | None] = mapped_column(String(3))
    reassessed: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
