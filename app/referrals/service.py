"""Referrals: a case shared with another organisation for a purpose, section by section.

pending → accepted | declined (the receiving organisation's supervisor); pending or accepted →
revoked (the sending side: a supervisor or the case's caseworker, or a withdrawal of the
person's consent to sharing); an expiry date ends it too (``expired`` once observed). Creating
one needs the person's current consent to share with partners.

Every step is audited, put on the person's timeline (summaries without personal data) and
alerted: to the receiving organisation on creation, revocation and expiry (a case id and a
referral id, never the person), to the sending organisation on acceptance and refusal.
Who sees what through an accepted referral is decided in ``app.auth.scope`` and
``app.records.sharing``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from app import events, organisations
from app.actor import Actor
from app.audit import service as audit
from app.auth.roles import Role
from app.auth.scope import OWN, active_referrals, visible_cases
from app.cases import assignments
from app.consent.service import allows_sharing
from app.crypto import FieldSlot, Pad
from app.db import after_read, is_reading
from app.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from app.events import ConsentRecorded, ReferralStepped
from app.models.base import utcnow
from app.models.case import Case, CaseAssignment
from app.models.organisation import Organisation
from app.models.referral import Referral
from app.records import history
from app.records.cases import get_visible_case, open_sealed, seal_for
from app.records.sharing import ordered, parse
from app.referrals.schemas import ReferralCreate, ReferralRead, ReferralStatus

PURPOSE = FieldSlot("referral", "purpose")
OPEN = ("pending", "accepted")


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _lapsed(referral: Referral, now: dt.datetime) -> bool:
    expires = _aware(referral.expires_at)
    return referral.status in OPEN and expires is not None and expires <= now


def _status(referral: Referral, now: dt.datetime) -> ReferralStatus:
    return ReferralStatus("expired" if _lapsed(referral, now) else referral.status)


# Presenting ------------------------------------------------------------------------------------
def present(
    session: Session, actor: Actor, referral: Referral, case: Case | None = None
) -> ReferralRead:
    """The referral; its purpose is the person's data: the receiving side reads it only while
    the referral is pending or active."""
    now = utcnow()
    case = case or session.get(Case, referral.case_id)
    names = dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_([referral.from_organisation_id, referral.to_organisation_id])
            )
        ).all()
    )
    expires = _aware(referral.expires_at)
    status = _status(referral, now)
    shows_purpose = case is not None and (
        actor.organisation_id == referral.from_organisation_id or status in OPEN
    )
    return ReferralRead(
        id=referral.id,
        case_id=referral.case_id,
        from_organisation=referral.from_organisation_id,
        from_organisation_name=names.get(referral.from_organisation_id),
        to_organisation=referral.to_organisation_id,
        to_organisation_name=names.get(referral.to_organisation_id),
        purpose=(
            open_sealed(session, PURPOSE, referral.id, case, referral.purpose_ct, Pad.TEXT)
            if shows_purpose and case is not None
            else None
        ),
        sections=ordered(parse(referral.sections)),
        status=status,
        active=status == "accepted",
        expires_on=(expires - dt.timedelta(days=1)).date() if expires else None,
        expires_at=expires,
        created_at=referral.created_at,
        decided_at=referral.decided_at,
        revoked_at=referral.revoked_at,
    )


# Who may do what --------------------------------------------------------------------------------
def _works_case(session: Session, actor: Actor, case: Case) -> bool:
    """The sending side: a supervisor of the case's organisation or its caseworker."""
    return actor.organisation_id == case.organisation_id and assignments.may_assign(
        session, actor, case
    )


def _visible(actor: Actor) -> Any:
    """Referrals the actor may see: its organisation's outgoing ones for cases it works
    (supervisors: all), and incoming ones (the supervisor: all; assigned staff: their own)."""
    outgoing = and_(
        Referral.from_organisation_id == actor.organisation_id,
        Referral.case_id.in_(visible_cases(actor, OWN)),
    )
    incoming = Referral.to_organisation_id == actor.organisation_id
    if actor.role != Role.SUPERVISOR:
        incoming = and_(incoming, Referral.id.in_(active_referrals(actor)))
    return or_(outgoing, incoming)


def _get(session: Session, actor: Actor, referral_id: uuid.UUID, *, lock: bool = False) -> Referral:
    query = select(Referral).where(Referral.id == referral_id, _visible(actor))
    referral = session.scalar(query.with_for_update() if lock else query)
    if referral is None:
        raise NotFound()
    return referral


def _deny(session: Session, actor: Actor, referral: Referral, action: str, why: str) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        subject_type="referral",
        subject_id=referral.id,
        outcome="denied",
        durable=True,
    )
    raise Forbidden(why)


# Steps -------------------------------------------------------------------------------------------
def _step(
    session: Session,
    actor: Actor | None,
    referral: Referral,
    case: Case,
    *,
    kind: str,
    summary: str,
    changes: dict[str, Any] | None = None,
) -> None:
    """The timeline entry and the audit entry of one step, and the step as an event."""
    history.record(
        session,
        actor=actor,
        individual_id=case.individual_id,
        case_id=case.id,
        kind=kind,
        summary=summary,
        subject_type="referral",
        subject_id=referral.id,
        changes=changes,
    )
    audit.record(
        session,
        actor=actor,
        action=kind,
        subject_type="case",
        subject_id=case.id,
        details={"referral_id": str(referral.id), "status": referral.status},
    )
    events.publish(
        session,
        ReferralStepped(
            actor=actor,
            referral_id=referral.id,
            case_id=case.id,
            individual_id=case.individual_id,
            step=kind.removeprefix("referral."),
            from_organisation_id=referral.from_organisation_id,
            to_organisation_id=referral.to_organisation_id,
        ),
    )


def create(
    session: Session, actor: Actor, case_id: uuid.UUID, body: ReferralCreate
) -> ReferralRead:
    case = get_visible_case(session, actor, case_id, OWN)
    if not _works_case(session, actor, case):
        audit.record(
            session,
            actor=actor,
            action="referral.create",
            subject_type="case",
            subject_id=case.id,
            outcome="denied",
            durable=True,
        )
        raise Forbidden("only a supervisor or the case's caseworker may refer it")
    try:
        target, _ = organisations.resolve(session, body.to_organisation, create=False)
    except BadRequest:
        raise Unprocessable(
            "to_organisation: no such organisation", field="to_organisation"
        ) from None
    if target.id == case.organisation_id:
        raise Unprocessable(
            "to_organisation: a case is referred to another organisation", field="to_organisation"
        )
    today = utcnow().date()
    if body.expires_on is not None and body.expires_on < today:
        raise Unprocessable("expires_on must not be in the past", field="expires_on")
    if not allows_sharing(session, case.individual_id):
        raise Conflict("the person's current consent does not allow sharing with partners")
    sections = ordered(body.sections)
    referral = Referral(
        id=uuid.uuid4(),
        case_id=case.id,
        from_organisation_id=case.organisation_id,
        to_organisation_id=target.id,
        sections=",".join(sections),
        status="pending",
        expires_at=_end_of(body.expires_on) if body.expires_on else None,
        created_by=actor.id,
    )
    referral.purpose_ct = seal_for(session, case, PURPOSE, referral.id, body.purpose, Pad.TEXT)
    session.add(referral)
    session.flush()
    _step(
        session,
        actor,
        referral,
        case,
        kind="referral.created",
        summary="Case referred to another organisation",
        changes={
            "to_organisation": target.name,
            "purpose": body.purpose,
            "sections": sections,
            "expires_on": body.expires_on,
        },
    )
    return present(session, actor, referral, case)


def _decide(session: Session, actor: Actor, referral_id: uuid.UUID, verdict: str) -> ReferralRead:
    action = "referral.accept" if verdict == "accepted" else "referral.decline"
    referral = _get(session, actor, referral_id, lock=True)
    if referral.to_organisation_id != actor.organisation_id or actor.role != Role.SUPERVISOR:
        _deny(
            session,
            actor,
            referral,
            action,
            "only the receiving organisation's supervisor may decide on a referral",
        )
    now = utcnow()
    observe_expiry(session, [referral], now=now)
    if referral.status != "pending":
        raise Conflict(f"the referral is {referral.status}, no longer pending")
    case = session.get(Case, referral.case_id)
    if case is None:
        raise NotFound()
    referral.status, referral.decided_by, referral.decided_at = verdict, actor.id, now
    accepted = verdict == "accepted"
    _step(
        session,
        actor,
        referral,
        case,
        kind=f"referral.{verdict}",
        summary="Referral accepted by the receiving organisation"
        if accepted
        else "Referral declined by the receiving organisation",
    )
    return present(session, actor, referral, case)


def accept(session: Session, actor: Actor, referral_id: uuid.UUID) -> ReferralRead:
    return _decide(session, actor, referral_id, "accepted")


def decline(session: Session, actor: Actor, referral_id: uuid.UUID) -> ReferralRead:
    return _decide(session, actor, referral_id, "declined")


def _end(
    session: Session, actor: Actor | None, referral: Referral, case: Case, status: str
) -> None:
    """Revoked or expired: the receiving staff's assignments under it end with it."""
    now = utcnow()
    if status == "revoked":
        referral.revoked_by, referral.revoked_at = (actor.id if actor else None), now
    referral.status = status
    session.execute(
        update(CaseAssignment)
        .where(CaseAssignment.referral_id == referral.id, CaseAssignment.removed_at.is_(None))
        .values(removed_at=now)
    )
    _step(
        session,
        actor,
        referral,
        case,
        kind=f"referral.{status}",
        summary="Referral revoked" if status == "revoked" else "Referral expired",
    )


def revoke(session: Session, actor: Actor, referral_id: uuid.UUID) -> ReferralRead:
    referral = _get(session, actor, referral_id, lock=True)
    case = session.get(Case, referral.case_id)
    if case is None:
        raise NotFound()
    if referral.from_organisation_id != actor.organisation_id or not _works_case(
        session, actor, case
    ):
        _deny(
            session,
            actor,
            referral,
            "referral.revoke",
            "only the referring side's supervisor or the case's caseworker may revoke a referral",
        )
    observe_expiry(session, [referral])
    if referral.status not in OPEN:
        raise Conflict(f"the referral is {referral.status}: there is nothing to revoke")
    _end(session, actor, referral, case, "revoked")
    return present(session, actor, referral, case)


def revoke_for_withdrawn_consent(
    session: Session, actor: Actor | None, individual_id: uuid.UUID
) -> int:
    """Consent to share withdrawn: every open referral of the person's cases ends at once."""
    rows = list(
        session.scalars(
            select(Referral)
            .where(
                Referral.case_id.in_(select(Case.id).where(Case.individual_id == individual_id)),
                Referral.status.in_(OPEN),
            )
            .with_for_update()
        )
    )
    for referral in rows:
        case = session.get(Case, referral.case_id)
        if case is not None:
            _end(session, actor, referral, case, "revoked")
    return len(rows)


def on_consent_recorded(session: Session, event: ConsentRecorded) -> None:
    """Consent to share withdrawn: the person's open referrals end at once."""
    if event.sharing_withdrawn:
        revoke_for_withdrawn_consent(session, event.actor, event.individual_id)


def observe_expiry(
    session: Session, referrals: list[Referral], *, now: dt.datetime | None = None
) -> int:
    """Referrals past their expiry become ``expired``, with their audit, timeline entry and
    alert (access already ended at the expiry itself: scope checks the time in SQL)."""
    now = now or utcnow()
    count = 0
    lapsed = [referral for referral in referrals if _lapsed(referral, now)]
    if lapsed and is_reading(session):
        # A read request writes nothing itself (its status is shown as expired already):
        # the audit sequencer ends them in its next batch, as the alert engine would.
        ids = [referral.id for referral in lapsed]
        after_read(session, lambda writer: _expire_by_id(writer, ids, now))
        return len(lapsed)
    for referral in lapsed:
        case = session.get(Case, referral.case_id)
        if case is not None:
            _end(session, None, referral, case, "expired")
            count += 1
    return count


def _expire_by_id(session: Session, ids: list[uuid.UUID], now: dt.datetime) -> None:
    rows = list(session.scalars(select(Referral).where(Referral.id.in_(ids))))
    observe_expiry(session, rows, now=now)  # those still open: another batch may have ended some


def expire_due(session: Session, now: dt.datetime) -> int:
    """For the alert engine: every open referral whose expiry has passed."""
    due = list(
        session.scalars(
            select(Referral)
            .where(
                Referral.status.in_(OPEN),
                Referral.expires_at.is_not(None),
                Referral.expires_at <= now,
            )
            .limit(500)
        )
    )
    return observe_expiry(session, due, now=now)


# Reading -----------------------------------------------------------------------------------------
def _listed(session: Session, actor: Actor, query: Any) -> list[ReferralRead]:
    rows = list(session.scalars(query.order_by(Referral.created_at.desc(), Referral.id)))
    observe_expiry(session, rows)
    for row in rows:
        audit.record(
            session,
            actor=actor,
            action="referral.read",
            subject_type="case",
            subject_id=row.case_id,
            details={"referral_id": str(row.id), "via": "list"},
        )
    return [present(session, actor, row) for row in rows]


def _with_status(query: Any, status: str | None) -> Any:
    if status == "expired":
        return query.where(
            or_(
                Referral.status == "expired",
                and_(
                    Referral.status.in_(OPEN),
                    Referral.expires_at.is_not(None),
                    Referral.expires_at <= utcnow(),
                ),
            )
        )
    if status is not None:
        return query.where(Referral.status == status)
    return query


def incoming(session: Session, actor: Actor, status: str | None = None) -> list[ReferralRead]:
    query = select(Referral).where(
        _visible(actor), Referral.to_organisation_id == actor.organisation_id
    )
    return _listed(session, actor, _with_status(query, status))


def outgoing(session: Session, actor: Actor, status: str | None = None) -> list[ReferralRead]:
    query = select(Referral).where(
        _visible(actor), Referral.from_organisation_id == actor.organisation_id
    )
    return _listed(session, actor, _with_status(query, status))


def for_case(session: Session, actor: Actor, case_id: uuid.UUID) -> list[ReferralRead]:
    """The case's referrals: all of them for its own organisation; for a receiving reader,
    those to its organisation."""
    case = get_visible_case(session, actor, case_id)
    query = select(Referral).where(Referral.case_id == case.id, _visible(actor))
    return _listed(session, actor, query)


def read(session: Session, actor: Actor, referral_id: uuid.UUID) -> ReferralRead:
    referral = _get(session, actor, referral_id)
    observe_expiry(session, [referral])
    audit.record(
        session,
        actor=actor,
        action="referral.read",
        subject_type="case",
        subject_id=referral.case_id,
        details={"referral_id": str(referral.id)},
    )
    return present(session, actor, referral)


def referral_for_case(session: Session, actor: Actor, case_id: uuid.UUID) -> ReferralRead | None:
    """The active referral through which the actor sees the case; None when the case is its
    own organisation's (or not visible at all)."""
    referral = session.scalar(
        select(Referral)
        .where(Referral.case_id == case_id, Referral.id.in_(active_referrals(actor)))
        .order_by(Referral.created_at.desc())
        .limit(1)
    )
    return present(session, actor, referral) if referral is not None else None
