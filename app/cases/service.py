"""Cases: open, read, list and change them, within scope.

A case's title is sealed with its person's key (FieldSlot("case", "title")), like every other
value about the person, so erasing the person erases it too. Assignments live in
``assignments.py``, notes in ``notes.py``, emergency access in ``break_glass.py``, reading the
timeline in ``timeline.py``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.auth.roles import Role
from app.auth.scope import OWN, visible_cases
from app.cases.schemas import AssignmentView, CaseView
from app.crypto import FieldSlot, Pad
from app.errors import Unprocessable
from app.models.base import utcnow
from app.models.case import Case, CaseAssignment
from app.models.user import User
from app.records import history
from app.records.cases import get_visible_case, open_sealed, seal_for
from app.records.people import get_visible
from app.records.sharing import sections_for_case

TITLE = FieldSlot("case", "title")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# Presenting -----------------------------------------------------------------------------------
def _assignments(
    session: Session, case_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[AssignmentView]]:
    found: dict[uuid.UUID, list[AssignmentView]] = defaultdict(list)
    if not case_ids:
        return found
    rows = session.execute(
        select(CaseAssignment, User.username)
        .join(User, User.id == CaseAssignment.user_id)
        .where(CaseAssignment.case_id.in_(case_ids), CaseAssignment.removed_at.is_(None))
        .order_by(CaseAssignment.assigned_at, CaseAssignment.id)
    )
    for assignment, username in rows:
        found[assignment.case_id].append(
            {
                "user_id": assignment.user_id,
                "username": username,
                "role": assignment.role,
                "assigned_at": assignment.assigned_at,
            }
        )
    return found


def _access(actor: Actor, case: Case, assignments: list[AssignmentView]) -> str:
    """Why a case in scope is visible: assignment, organisation-wide role, or emergency."""
    if case.organisation_id != actor.organisation_id:
        return "referral"
    if any(a["user_id"] == actor.id for a in assignments):  # having opened it is no grant
        return "assigned"
    if actor.role == Role.SUPERVISOR:
        return "organisation"
    return "break_glass"


def present(
    session: Session, actor: Actor, case: Case, assignments: list[AssignmentView] | None = None
) -> CaseView:
    if assignments is None:
        assignments = _assignments(session, [case.id])[case.id]
    item: CaseView = {
        "id": case.id,
        "individual_id": case.individual_id,
        "title": open_sealed(session, TITLE, case.id, case, case.title_ct, Pad.SHORT),
        "priority": case.priority,
        "status": case.status,
        "assignments": assignments,
        "access": _access(actor, case, assignments),
        "opened_by": case.opened_by,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "closed_at": case.closed_at,
    }
    # Through a referral: the title is part of the case's record (its history section), and
    # the referring organisation's staff are not the receiving side's business.
    sections = sections_for_case(session, actor, case)
    if sections is not None:
        if "history" not in sections:
            del item["title"]
        own_staff = set(
            session.scalars(
                select(User.id).where(
                    User.id.in_([a["user_id"] for a in assignments]),
                    User.organisation_id == actor.organisation_id,
                )
            )
        )
        item["assignments"] = [a for a in assignments if a["user_id"] in own_staff]
        del item["opened_by"]
    return item


# Opening, reading, listing, changing ----------------------------------------------------------
def open_case(session: Session, actor: Actor, data: dict[str, Any]) -> CaseView:
    person = get_visible(session, actor, data["individual_id"], OWN)
    priority = data.get("priority") or "normal"
    case = Case(
        id=uuid.uuid4(),
        organisation_id=person.organisation_id,
        individual_id=person.id,
        priority=str(priority),
        status="open",
        opened_by=actor.id,
    )
    if data.get("title"):
        case.title_ct = seal_for(session, case, TITLE, case.id, data["title"], Pad.SHORT)
    session.add(case)
    session.flush()
    if actor.role == Role.CASEWORKER:
        session.add(
            CaseAssignment(
                case_id=case.id, user_id=actor.id, role="caseworker", assigned_by=actor.id
            )
        )
        session.flush()
    history.record(
        session,
        actor=actor,
        individual_id=person.id,
        case_id=case.id,
        kind="case.opened",
        summary="Case opened",
        subject_type="case",
        subject_id=case.id,
        changes={"title": data.get("title"), "priority": case.priority},
    )
    audit.record(
        session, actor=actor, action="case.create", subject_type="case", subject_id=case.id
    )
    return present(session, actor, case)


def read_case(session: Session, actor: Actor, case_id: uuid.UUID) -> CaseView:
    case = get_visible_case(session, actor, case_id)
    audit.record(session, actor=actor, action="case.read", subject_type="case", subject_id=case.id)
    return present(session, actor, case)


def list_cases(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    priority: str | None = None,
    individual_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[CaseView], str | None]:
    """Cases in scope, newest first (by opening time, then id)."""
    query = select(Case).where(Case.id.in_(visible_cases(actor)))
    if status:
        query = query.where(Case.status == status)
    if priority:
        query = query.where(Case.priority == priority)
    if individual_id:
        query = query.where(Case.individual_id == individual_id)
    if cursor is not None:
        at, last_id = _parse_cursor(cursor)
        query = query.where(
            or_(Case.created_at < at, and_(Case.created_at == at, Case.id < last_id))
        )
    rows = list(
        session.scalars(query.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit + 1))
    )
    more, rows = len(rows) > limit, rows[:limit]
    assignments = _assignments(session, [c.id for c in rows])
    items = [present(session, actor, c, assignments[c.id]) for c in rows]
    audit.record(session, actor=actor, action="case.list", details={"results": len(items)})
    for case in rows:
        audit.record(
            session,
            actor=actor,
            action="case.read",
            subject_type="case",
            subject_id=case.id,
            details={"via": "list"},
        )
    return items, (_cursor(rows[-1]) if more and rows else None)


def _cursor(case: Case) -> str:
    return f"{(case.created_at - EPOCH) // dt.timedelta(microseconds=1)}_{case.id}"


def _parse_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        micros, _, last = cursor.partition("_")
        return EPOCH + dt.timedelta(microseconds=int(micros)), uuid.UUID(last)
    except (ValueError, OverflowError):
        raise Unprocessable("malformed cursor") from None


def update_case(
    session: Session, actor: Actor, case_id: uuid.UUID, changes: dict[str, Any]
) -> CaseView:
    case = get_visible_case(session, actor, case_id, OWN)
    diff: dict[str, Any] = {}
    if "title" in changes:
        current = open_sealed(session, TITLE, case.id, case, case.title_ct, Pad.SHORT)
        if changes["title"] != current:
            diff["title"] = {"from": current, "to": changes["title"]}
            case.title_ct = (
                seal_for(session, case, TITLE, case.id, changes["title"], Pad.SHORT)
                if changes["title"]
                else None
            )
    for name in ("priority", "status"):
        value = changes.get(name)
        if value is not None and str(value) != getattr(case, name):
            diff[name] = {"from": getattr(case, name), "to": str(value)}
            setattr(case, name, str(value))
    if "status" in diff:
        case.closed_at = utcnow() if case.status == "closed" else None
    if diff:
        case.updated_at = utcnow()
        history.record(
            session,
            actor=actor,
            individual_id=case.individual_id,
            case_id=case.id,
            kind="case.updated",
            summary=_change_summary(diff),
            subject_type="case",
            subject_id=case.id,
            changes=diff,
        )
    audit.record(
        session,
        actor=actor,
        action="case.update",
        subject_type="case",
        subject_id=case.id,
        details={"fields": sorted(diff)},
    )
    return present(session, actor, case)


def _change_summary(diff: dict[str, Any]) -> str:
    parts = []
    if "status" in diff:
        parts.append("case closed" if diff["status"]["to"] == "closed" else "case reopened")
    if "priority" in diff:
        parts.append(f"priority {diff['priority']['from']} → {diff['priority']['to']}")
    if "title" in diff:
        parts.append("title changed")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


def read_case_record(session: Session, actor: Actor, case_id: uuid.UUID) -> tuple[CaseView, Case]:
    """``read_case`` (audited as ``case.read``), with the case's row (the case's page, which
    shows more of the case than the read)."""
    presented = read_case(session, actor, case_id)
    return presented, get_visible_case(session, actor, case_id)
