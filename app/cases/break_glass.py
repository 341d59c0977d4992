"""Emergency access: a caseworker or supervisor opens an unassigned case of their
organisation with a written reason; it lasts a few hours, is audited and raises an alert."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.actor import Actor
from app.audit import service as audit
from app.auth.scope import OWN_READ, visible_cases
from app.crypto import FieldSlot, Pad
from app.errors import Conflict, NotFound
from app.events import BreakGlassGranted
from app.models.base import utcnow
from app.models.case import BreakGlassGrant, Case
from app.models.individual import Individual
from app.records import history
from app.records.cases import seal_for

REASON = FieldSlot("break_glass_grant", "reason")
LASTS = dt.timedelta(hours=4)


def break_glass(session: Session, actor: Actor, case_id: uuid.UUID, reason: str) -> BreakGlassGrant:
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
        select(Case.id).where(Case.id == case.id, Case.id.in_(visible_cases(actor, OWN_READ)))
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
    events.publish(
        session,
        BreakGlassGranted(
            actor=actor,
            case_id=case.id,
            individual_id=case.individual_id,
            organisation_id=case.organisation_id,
            grant_id=grant.id,
        ),
    )
    return grant
