"""Which records a caller may touch, as SQL: the one place scope is decided.

Every read of a case or a person starts from these selects, so a record outside the caller's
scope is simply not found (404), in lists, searches, counts and sub-resources alike.

- supervisors: every case and person of their organisation;
- caseworkers: cases they are currently assigned to, and the people of those cases, plus the
  people they registered for whom no case is open yet. Access follows current assignment:
  having opened a case or registered a person is no standing grant, so an unassignment ends it;
- lawyers: cases where they are counsel, and the people in them;
- break-glass: a caseworker's unexpired grant on a case lets them read it and its person
  (``emergency``), never write: every write goes through ``OWN``, which no grant reaches;
- everyone else (admins, analysts, auditors, automated systems): no case content at all;
- referred access: a case another organisation referred to the actor's, accepted and not
  expired or revoked, for the receiving supervisor and the staff it assigned under that
  referral, limited to the referral's sections (``section``; ``OWN`` leaves referrals out).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    Uuid,
    and_,
    bindparam,
    exists,
    false,
    literal,
    or_,
    select,
)

from app.actor import Actor
from app.auth.roles import Role
from app.models.base import UTCDateTime, utcnow
from app.models.case import BreakGlassGrant, Case, CaseAssignment
from app.models.individual import Individual
from app.models.referral import Referral

# What a referral may share: each a part of the record, shown to the receiving side alone.
SECTIONS = ("identity", "documents", "unhcr_status", "incidents", "history")
# For ``visible_cases``/``visible_individuals``: the actor's own organisation only, by the
# actor's standing access (role or current assignment), never through a referral nor a
# break-glass grant. Every write goes through it (break-glass is read-only).
OWN = "own"
# The actor's own organisation only, never through a referral, break-glass grants included:
# reading the parts no section covers (risk, consent, attachments), in an emergency too.
OWN_READ = "own_read"


def stand_in(role: str) -> Actor:
    """An actor of ``role`` whose id and organisation are bound when a statement runs
    (``bound``): a scoped statement built once per role and reused, where building it anew for
    each request cost more than running it."""
    return Actor(
        id=cast(uuid.UUID, bindparam("actor_id", type_=Uuid())),
        username="",
        role=role,
        organisation_id=cast(uuid.UUID, bindparam("actor_organisation_id", type_=Uuid())),
    )


def bound(actor: Actor) -> dict[str, uuid.UUID]:
    """The values of ``stand_in``'s parameters for ``actor``."""
    return {"actor_id": actor.id, "actor_organisation_id": actor.organisation_id}


def _now() -> BindParameter[dt.datetime]:
    """The time, read when the statement runs rather than when it is built: a statement built
    once and run many times (a person's read) still ends an expired grant at once."""
    return bindparam(None, callable_=_clock, type_=UTCDateTime())


def _clock() -> dt.datetime:
    return utcnow()  # looked up at each call, so a test can move the clock


def _assigned(actor: Actor, role: str) -> Select[uuid.UUID]:
    return select(CaseAssignment.case_id).where(
        CaseAssignment.user_id == actor.id,
        CaseAssignment.role == role,
        CaseAssignment.removed_at.is_(None),
    )


def _break_glass(actor: Actor) -> Select[uuid.UUID]:
    return select(BreakGlassGrant.case_id).where(
        BreakGlassGrant.user_id == actor.id, BreakGlassGrant.expires_at > _now()
    )


def active_referrals(actor: Actor, section: str | None = None) -> Select[uuid.UUID]:
    """Ids of the referrals through which the actor sees a case of another organisation.

    Active means accepted and not expired, decided here in SQL, so a revocation or an expiry
    ends access with the next query. The receiving organisation's supervisor sees every case
    referred to it; its caseworkers and lawyers only those it assigned them under the referral.
    """
    return select(Referral.id).where(*_referral_terms(actor, section))


def _referred(actor: Actor, section: str | None) -> Select[uuid.UUID]:
    return select(Referral.case_id).where(*_referral_terms(actor, section))


def _referral_terms(actor: Actor, section: str | None) -> list[ColumnElement[bool]]:
    if actor.role not in (Role.SUPERVISOR, Role.CASEWORKER, Role.LAWYER):
        return [false()]
    terms = [
        Referral.to_organisation_id == actor.organisation_id,
        Referral.status == "accepted",
        or_(Referral.expires_at.is_(None), Referral.expires_at > _now()),
    ]
    if section is not None:
        terms.append(has_section(section))
    if actor.role != Role.SUPERVISOR:
        terms.append(
            exists().where(
                CaseAssignment.referral_id == Referral.id,
                CaseAssignment.case_id == Referral.case_id,
                CaseAssignment.user_id == actor.id,
                CaseAssignment.removed_at.is_(None),
            )
        )
    return terms


def has_section(section: str) -> ColumnElement[bool]:
    """The referral names ``section`` among its comma-separated sections."""
    if section not in SECTIONS:
        raise ValueError(f"unknown section {section!r}")
    return (literal(",") + Referral.sections + literal(",")).contains(
        f",{section},", autoescape=True
    )


def _own_cases(actor: Actor, *, emergency: bool) -> ColumnElement[bool] | None:
    """The own-organisation rule for cases, as a condition (None: no case at all).

    ``emergency``: with the cases of the actor's unexpired break-glass grants (reads only)."""
    own = Case.organisation_id == actor.organisation_id
    if actor.role == Role.SUPERVISOR:
        return own
    if actor.role == Role.CASEWORKER:
        assigned = Case.id.in_(_assigned(actor, "caseworker"))
        if emergency:
            return and_(own, or_(assigned, Case.id.in_(_break_glass(actor))))
        return and_(own, assigned)
    if actor.role == Role.LAWYER:
        return and_(own, Case.id.in_(_assigned(actor, "lawyer")))
    return None


def _emergency(section: str | None, emergency: bool) -> bool:
    return emergency and section != OWN


def visible_cases(
    actor: Actor, section: str | None = None, *, emergency: bool = True
) -> Select[uuid.UUID]:
    """Ids of the cases the actor may see.

    ``section``: also the cases referred to the actor's organisation whose referral includes
    that section (any section when None); ``OWN``: its own organisation's cases only, without
    break-glass grants (every write); ``OWN_READ``: its own organisation's cases only.
    ``emergency=False``: without break-glass grants whatever the section (what a grant never
    allows, such as an export or a note).
    """
    own = _own_cases(actor, emergency=_emergency(section, emergency))
    if own is None:
        return select(Case.id).where(false())
    # A case of an erased person is gone too (its person's key no longer exists).
    # Correlated, so a lookup by id reads one person, not the list of everyone alive (SQLite
    # materialises an uncorrelated IN list on every statement).
    alive = exists().where(Individual.id == Case.individual_id, Individual.erased_at.is_(None))
    if section in (OWN, OWN_READ):
        return select(Case.id).where(own, alive)
    return select(Case.id).where(or_(own, Case.id.in_(_referred(actor, section))), alive)


def registered_without_case(actor: Actor) -> ColumnElement[bool]:
    """People the actor registered and for whom no case is open yet (of any status): their
    registrar works them until a case exists; from then on its assignments decide."""
    return and_(
        Individual.created_by == actor.id,
        ~exists().where(Case.individual_id == Individual.id),
    )


def visible_individuals(
    actor: Actor, section: str | None = None, *, emergency: bool = True
) -> Select[uuid.UUID]:
    """Ids of the people the actor may see (erased people are gone for everyone).

    ``section`` and ``emergency`` as for ``visible_cases``: the people of cases referred with
    that section too.
    """
    own_cases = _own_cases(actor, emergency=_emergency(section, emergency))
    if own_cases is None:
        return select(Individual.id).where(false())
    alive = Individual.erased_at.is_(None)
    own: ColumnElement[bool] = Individual.organisation_id == actor.organisation_id
    if actor.role != Role.SUPERVISOR:
        in_cases = select(Case.individual_id).where(own_cases)
        if actor.role == Role.CASEWORKER:
            own = and_(own, or_(Individual.id.in_(in_cases), registered_without_case(actor)))
        else:
            own = and_(own, Individual.id.in_(in_cases))
    if section in (OWN, OWN_READ):
        return select(Individual.id).where(own, alive)
    referred = select(Case.individual_id).where(Case.id.in_(_referred(actor, section)))
    return select(Individual.id).where(or_(own, Individual.id.in_(referred)), alive)


def reportable_individuals(actor: Actor) -> Select[uuid.UUID]:
    """People an automated monitor may name in an incident: its organisation's, unseen."""
    return select(Individual.id).where(
        Individual.organisation_id == actor.organisation_id, Individual.erased_at.is_(None)
    )


def sees_contact_details(actor: Actor, *, assigned: bool) -> bool:
    """Current location and contact: supervisors, and caseworkers assigned to the person."""
    return actor.role == Role.SUPERVISOR or (actor.role == Role.CASEWORKER and assigned)
