"""Who works a case: supervisors and the case's caseworker assign caseworkers and lawyers of
the case's organisation; removal keeps the row (``removed_at``) for the record.

A case referred to another organisation: that organisation's supervisor assigns its own
caseworkers and lawyers, under the referral (``referral_id``); they see the case through the
referred sections for as long as the referral is active (``app.auth.scope``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.auth.roles import Role
from app.auth.scope import active_referrals
from app.errors import Forbidden, NotFound, Unprocessable
from app.models.base import utcnow
from app.models.case import Case, CaseAssignment
from app.models.referral import Referral
from app.models.user import User
from app.records import history
from app.records.cases import get_visible_case

ROLE_LABEL = {"caseworker": "Caseworker", "lawyer": "Lawyer"}


def _referral_of(session: Session, actor: Actor, case: Case) -> uuid.UUID | None:
    """The active referral through which the actor's organisation sees the case."""
    return session.scalar(
        select(Referral.id)
        .where(Referral.case_id == case.id, Referral.id.in_(active_referrals(actor)))
        .order_by(Referral.created_at.desc())
        .limit(1)
    )


def _may_assign(session: Session, actor: Actor, case: Case) -> bool:
    """A supervisor of the case's organisation, or a caseworker assigned to the case; for a
    referred case, the receiving organisation's supervisor (its own staff)."""
    if actor.organisation_id != case.organisation_id:
        return actor.role == Role.SUPERVISOR and _referral_of(session, actor, case) is not None
    if actor.role == Role.SUPERVISOR:
        return True
    return (
        actor.role == Role.CASEWORKER
        and _active(session, case.id, actor.id, "caseworker") is not None
    )


def may_assign(session: Session, actor: Actor, case: Case) -> bool:
    return _may_assign(session, actor, case)


def candidates(session: Session, actor: Actor, case: Case) -> list[dict[str, Any]]:
    """Who ``assign`` would accept for the case and does not already hold the role: active
    caseworkers and lawyers of its organisation, by username (empty for anyone who may not
    assign)."""
    if not _may_assign(session, actor, case):
        return []
    taken = select(CaseAssignment.user_id).where(
        CaseAssignment.case_id == case.id,
        CaseAssignment.role == User.role,
        CaseAssignment.removed_at.is_(None),
    )
    rows = session.execute(
        select(User.id, User.username, User.role)
        .where(
            User.organisation_id == actor.organisation_id,
            User.role.in_(tuple(ROLE_LABEL)),
            User.disabled.is_(False),
            User.id.not_in(taken),
        )
        .order_by(User.role, User.username)
    )
    return [{"user_id": r.id, "username": r.username, "role": r.role} for r in rows]


def _active(
    session: Session, case_id: uuid.UUID, user_id: uuid.UUID, role: str | None = None
) -> CaseAssignment | None:
    query = select(CaseAssignment).where(
        CaseAssignment.case_id == case_id,
        CaseAssignment.user_id == user_id,
        CaseAssignment.removed_at.is_(None),
    )
    if role is not None:
        query = query.where(CaseAssignment.role == role)
    return session.scalars(query.limit(1)).first()


def _check_assigner(session: Session, actor: Actor, case: Case, action: str) -> None:
    if not _may_assign(session, actor, case):
        audit.record(
            session,
            actor=actor,
            action=action,
            subject_type="case",
            subject_id=case.id,
            outcome="denied",
            durable=True,
        )
        raise Forbidden("only a supervisor or the case's caseworker may change its assignments")


def assign(
    session: Session, actor: Actor, case_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> tuple[dict[str, Any], bool]:
    """Assign a caseworker or lawyer; returns the assignment and whether it is new."""
    case = get_visible_case(session, actor, case_id)
    _check_assigner(session, actor, case, "case.assign")
    # A referred case takes the receiving organisation's staff, under the referral.
    referral_id = (
        _referral_of(session, actor, case)
        if case.organisation_id != actor.organisation_id
        else None
    )
    user = session.get(User, user_id)
    if (
        user is None
        or user.disabled
        or user.organisation_id != actor.organisation_id
        or user.role != role
    ):
        raise Unprocessable(f"user_id: no active {role} of your organisation has this id")
    existing = _active(session, case.id, user.id, role)
    if existing is not None and existing.referral_id != referral_id:
        existing.removed_at = utcnow()  # an assignment under an ended referral: replaced
        existing = None
    created = existing is None
    if existing is None:
        existing = CaseAssignment(
            case_id=case.id,
            user_id=user.id,
            role=role,
            referral_id=referral_id,
            assigned_by=actor.id,
            assigned_at=utcnow(),
        )
        session.add(existing)
        session.flush()
        history.record(
            session,
            actor=actor,
            individual_id=case.individual_id,
            case_id=case.id,
            kind="case.assigned",
            summary=f"{ROLE_LABEL[role]} assigned",
            subject_type="user",
            subject_id=user.id,
            changes={"user": user.username, "role": role},
        )
    audit.record(
        session,
        actor=actor,
        action="case.assign",
        subject_type="case",
        subject_id=case.id,
        details={"user_id": str(user.id), "role": role, "new": created},
    )
    item = {
        "user_id": user.id,
        "username": user.username,
        "role": existing.role,
        "assigned_at": existing.assigned_at,
    }
    return item, created


def unassign(session: Session, actor: Actor, case_id: uuid.UUID, user_id: uuid.UUID) -> None:
    case = get_visible_case(session, actor, case_id)
    _check_assigner(session, actor, case, "case.unassign")
    query = select(CaseAssignment).where(
        CaseAssignment.case_id == case.id,
        CaseAssignment.user_id == user_id,
        CaseAssignment.removed_at.is_(None),
    )
    if case.organisation_id != actor.organisation_id:
        query = query.where(CaseAssignment.referral_id.in_(active_referrals(actor)))
    rows = list(session.scalars(query))
    if not rows:
        raise NotFound()
    username = session.scalar(select(User.username).where(User.id == user_id))
    now = utcnow()
    for row in rows:
        row.removed_at = now
        history.record(
            session,
            actor=actor,
            individual_id=case.individual_id,
            case_id=case.id,
            kind="case.unassigned",
            summary=f"{ROLE_LABEL.get(row.role, 'Assignee')} removed",
            subject_type="user",
            subject_id=user_id,
            changes={"user": username, "role": row.role},
        )
    audit.record(
        session,
        actor=actor,
        action="case.unassign",
        subject_type="case",
        subject_id=case.id,
        details={"user_id": str(user_id), "roles": sorted(r.role for r in rows)},
    )
