"""Alerts: raise with dedup and inhibition, acknowledge, resolve, notify through the outbox."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.models.alert import Alert


def raise_alert(
    session: Session,
    *,
    rule: str,
    severity: str,
    organisation_id: uuid.UUID,
    summary: str,
    individual_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
    subject_id: uuid.UUID | None = None,
    group_key: str | None = None,
    actor: Any = None,
) -> Alert | None:
    """Open an alert, or update the open one with the same dedup key (being built)."""
    return None


def evaluate_time_rules(session: Session, now: dt.datetime) -> int:
    """Expiring documents and certificates, overdue check-ins, escalations (being built)."""
    return 0
