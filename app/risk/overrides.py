"""A supervisor's risk level: shown beside the computed one until it expires or is lifted.

An override never replaces the computed level — the assessments and the person's
``risk_level`` column keep the policy's answer — so the history shows both, and who chose.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TypedDict

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.auth.scope import OWN
from app.crypto import CryptoError, FieldSlot, Pad, crypto_of
from app.errors import Unprocessable
from app.models.base import utcnow
from app.models.risk import RiskOverride
from app.records import history
from app.records.people import get_visible

JUSTIFICATION = FieldSlot("risk_override", "justification")


def _active(individual_id: uuid.UUID, today: dt.date) -> Select[RiskOverride]:
    return select(RiskOverride).where(
        RiskOverride.individual_id == individual_id,
        RiskOverride.lifted_at.is_(None),
        or_(RiskOverride.expires_on.is_(None), RiskOverride.expires_on >= today),
    )


def active(session: Session, individual_id: uuid.UUID) -> RiskOverride | None:
    """The override in force today (the newest, should several be)."""
    return session.scalar(
        _active(individual_id, utcnow().date())
        .order_by(RiskOverride.created_at.desc(), RiskOverride.id.desc())
        .limit(1)
    )


class OverrideView(TypedDict):
    """The override in force, beside the computed assessment."""

    level: str
    justification: str | None
    expires_on: dt.date | None
    created_at: dt.datetime


def present(session: Session, row: RiskOverride) -> OverrideView:
    try:
        justification = crypto_of(session).open(
            session, JUSTIFICATION, row.id, row.individual_id, row.justification_ct, pad=Pad.TEXT
        )
    except CryptoError:
        justification = None
    return {
        "level": row.level,
        "justification": justification,
        "expires_on": row.expires_on,
        "created_at": row.created_at,
    }


def set_override(
    session: Session,
    actor: Actor,
    individual_id: uuid.UUID,
    *,
    level: str,
    justification: str,
    expires_on: dt.date | None,
) -> RiskOverride:
    """Record an override; one already in force is superseded (lifted) by it."""
    person = get_visible(session, actor, individual_id, OWN)
    now = utcnow()
    if expires_on is not None and expires_on < now.date():
        raise Unprocessable("expires_on must not be in the past", field="expires_on")
    superseded = list(session.scalars(_active(person.id, now.date())))
    for old in superseded:
        old.lifted_at = now
    crypto = crypto_of(session)
    key = crypto.keys.current(session, person.id)
    row = RiskOverride(
        id=uuid.uuid4(),
        individual_id=person.id,
        level=level,
        expires_on=expires_on,
        created_by=actor.id,
        created_at=now,
    )
    row.justification_ct = crypto.seal(key, JUSTIFICATION, row.id, justification, pad=Pad.TEXT)
    session.add(row)
    session.flush()
    history.record(
        session,
        actor=actor,
        individual_id=person.id,
        kind="risk.overridden",
        summary=f"Risk level set by a supervisor: {level} (computed: {person.risk_level})",
        subject_type="risk_override",
        subject_id=row.id,
        key=key,
        changes={
            "level": level,
            "computed_level": person.risk_level,
            "computed_score": person.risk_score,
            "justification": justification,
            "expires_on": expires_on,
            "superseded": [str(old.id) for old in superseded],
        },
    )
    audit.record(
        session,
        actor=actor,
        action="risk.override",
        subject_type="individual",
        subject_id=person.id,
        details={"override_id": str(row.id), "level": level},
    )
    return row


def lift(session: Session, actor: Actor, individual_id: uuid.UUID) -> int:
    """Lift the override in force, if any; returns how many were lifted."""
    person = get_visible(session, actor, individual_id, OWN)
    now = utcnow()
    lifted = list(session.scalars(_active(person.id, now.date())))
    for row in lifted:
        row.lifted_at = now
    if lifted:
        history.record(
            session,
            actor=actor,
            individual_id=person.id,
            kind="risk.override_lifted",
            summary="Risk level override lifted",
            subject_type="risk_override",
            subject_id=lifted[0].id,
        )
    audit.record(
        session,
        actor=actor,
        action="risk.override.lift",
        subject_type="individual",
        subject_id=person.id,
        details={"lifted": len(lifted)},
    )
    return len(lifted)


def forget(session: Session, individual_id: uuid.UUID) -> None:
    """Erasure: every override of the person goes (its justification died with their key, but
    the level, dates and who set it still described them)."""
    session.execute(delete(RiskOverride).where(RiskOverride.individual_id == individual_id))
