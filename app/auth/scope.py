"""Which records a caller may touch, as SQL: the one place scope is decided.

Every read of a case or a person starts from these selects, so a record outside the caller's
scope is simply not found (404), in lists, searches, counts and sub-resources alike.

- supervisors: every case and person of their organisation;
- caseworkers: cases they are assigned to or opened, cases they hold an unexpired break-glass
  grant for, and the people of those cases, plus people they registered;
- lawyers: cases where they are counsel, and the people in them;
- everyone else (admins, analysts, auditors, automated systems): no case content at all.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, false, or_, select

from app.auth.roles import Role
from app.models.base import utcnow
from app.models.case import BreakGlassGrant, Case, CaseAssignment
from app.models.individual import Individual


def _assigned(actor: Any, role: str) -> Select[tuple[uuid.UUID]]:
    return select(CaseAssignment.case_id).where(
        CaseAssignment.user_id == actor.id,
        CaseAssignment.role == role,
        CaseAssignment.removed_at.is_(None),
    )


def _break_glass(actor: Any) -> Select[tuple[uuid.UUID]]:
    return select(BreakGlassGrant.case_id).where(
        BreakGlassGrant.user_id == actor.id, BreakGlassGrant.expires_at > utcnow()
    )


def visible_cases(actor: Any) -> Select[tuple[uuid.UUID]]:
    """Ids of the cases the actor may see."""
    # A case of an erased person is gone too (its person's key no longer exists).
    live = (Case.organisation_id == actor.organisation_id) & Case.individual_id.in_(
        select(Individual.id).where(Individual.erased_at.is_(None))
    )
    if actor.role == Role.SUPERVISOR:
        return select(Case.id).where(live)
    if actor.role == Role.CASEWORKER:
        return select(Case.id).where(
            live,
            or_(
                Case.id.in_(_assigned(actor, "caseworker")),
                Case.opened_by == actor.id,
                Case.id.in_(_break_glass(actor)),
            ),
        )
    if actor.role == Role.LAWYER:
        return select(Case.id).where(live, Case.id.in_(_assigned(actor, "lawyer")))
    return select(Case.id).where(false())


def visible_individuals(actor: Any) -> Select[tuple[uuid.UUID]]:
    """Ids of the people the actor may see (erased people are gone for everyone)."""
    live = (Individual.organisation_id == actor.organisation_id) & Individual.erased_at.is_(None)
    if actor.role == Role.SUPERVISOR:
        return select(Individual.id).where(live)
    in_cases = select(Case.individual_id).where(Case.id.in_(visible_cases(actor)))
    if actor.role == Role.CASEWORKER:
        return select(Individual.id).where(
            live, or_(Individual.created_by == actor.id, Individual.id.in_(in_cases))
        )
    if actor.role == Role.LAWYER:
        return select(Individual.id).where(live, Individual.id.in_(in_cases))
    return select(Individual.id).where(false())


def reportable_individuals(actor: Any) -> Select[tuple[uuid.UUID]]:
    """People an automated monitor may name in an incident: its organisation's, unseen."""
    return select(Individual.id).where(
        Individual.organisation_id == actor.organisation_id, Individual.erased_at.is_(None)
    )


def sees_contact_details(actor: Any, *, assigned: bool) -> bool:
    """Current location and contact: supervisors, and caseworkers assigned to the person."""
    return actor.role == Role.SUPERVISOR or (actor.role == Role.CASEWORKER and assigned)
