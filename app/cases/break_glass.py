"""Emergency access: a caseworker or supervisor opens an unassigned case of their
organisation with a written reason; it lasts a few hours, is audited and raises an alert."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.scope import OWN, visible_cases
from app.cases import history
from app.cases.service import seal_for
from app.crypto import FieldSlot, Pad
from app.errors import Conflict, NotFound
from app.models.base import utcnow
from app.models.case import BreakGlassGrant, Case
from app.models.individual import Individual

REASON = FieldSlot("break_glass_grant", "reason")
LASTS = dt.timedelta(hours=4)


def after_break_glass(session: Session, actor: Any, case: Case, grant: BreakGlassGrant) -> None:
    """The alert to the organisation's supervisors attaches here."""
    from app.alerts import triggers

    triggers.on_break_glass(session, actor, case, grant)


def break_glass(session: Session, actor: Any, case_id: uuid.UUID, reason: str) -> BreakGlassGrant:
    # Not through visible_cases: the point is a case of the organisation the caller cannot see.
    case = session.scalar(
        select(Case)
        .join(Individual, Individual.id == Case.individual_id)
        .where(
            Case.id == case_id,
            Case.organisation_id == actor.organisation_id,
            Individual.erased_at.is_(None),
        )
    )
    if case is None:
        raise NotFound()
    if session.scalar(
        select(Case.id).where(Case.id == case.id, Case.id.in_(visible_cases(actor, OWN)))
    ):
        raise Conflict("you can already see this case")
    now = utcnow()
    grant = BreakGlassGrant(
        id=uuid.uuid4(), case_id=case.id, user_id=actor.id, granted_at=now, expires_at=now + LASTS
    )
    grant.reason_ct = seal_for(session, case, REASON, grant.id, reason, Pad.TEXT)
    session.add(grant)
    session.flush()
    history.record(
        session,
        actor=actor,
        individual_id=case.individual_id,
        case_id=case.id,
        kind="case.break_glass",
        summary="Emergency access to the case opened",
        subject_type="break_glass_grant",
        subject_id=grant.id,
        changes={"reason": reason, "expires_at": grant.expires_at},
    )
    audit.record(
        session,
        actor=actor,
        action="case.break_glass",
        subject_type="case",
        subject_id=case.id,
        details={"grant_id": str(grant.id), "hours": LASTS.total_seconds() / 3600},
        high_risk=True,
    )
    after_break_glass(session, actor, case, grant)
    return grant
