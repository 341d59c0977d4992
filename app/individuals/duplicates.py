"""Possible duplicates within an organisation, and merging a duplicate into its survivor.

Candidates come from the blind indexes (document numbers, names) and are confirmed by opening
and comparing the folded values, so index coincidences never reach an answer. A person is a
possible duplicate of another when they hold a document with the same number, or share a
folded name (full name, alias or native name) and the date of birth.

Who is told: everyone who registers people (supervisors and caseworkers), about every live
record of their own organisation, even one outside a caseworker's own caseload. Only ids are
given, never a field; the id of a record outside her scope still answers 404 to her, so she
learns that the organisation already holds the person and asks a supervisor to merge, which
is the point: a duplicate registered by a colleague is the common case. Nothing is ever matched
across organisations, and every match is audited as a read of the other record.

Merging: the duplicate is marked merged into the survivor (``merged_into_id``) and is hidden
from every read of a person (404) and from searches; its timeline shows on the survivor's.
Its cases stay attached to it and reachable by their ids: a case's sealed fields and history
are bound (AAD) to the person whose key seals them, so pointing them at the survivor would
make them unreadable. Erasing the survivor erases the records merged into it.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.auth.scope import OWN, OWN_READ, visible_individuals
from app.crypto import CryptoError, Pad, crypto_of
from app.crypto.blind_index import fold_document_number, fold_name
from app.errors import Conflict, NotFound
from app.models.base import utcnow
from app.models.document import TravelDocument
from app.models.individual import Individual, IndividualNameIndex
from app.records import history
from app.records.documents import NUMBER
from app.records.people import get_visible, open_fields

IDENTITY = frozenset({"full_name", "aliases", "native_name", "date_of_birth"})


def _live_in(organisation_id: uuid.UUID) -> list[ColumnElement[bool]]:
    return [
        Individual.organisation_id == organisation_id,
        Individual.erased_at.is_(None),
        Individual.merged_into_id.is_(None),
    ]


def _names(values: dict[str, Any]) -> set[str]:
    named = [values.get("full_name"), values.get("native_name"), *(values.get("aliases") or [])]
    return {fold_name(n) for n in named if n} - {""}


def _number(session: Session, document_id: uuid.UUID, owner: uuid.UUID, sealed: bytes) -> str:
    try:
        value = crypto_of(session).open(session, NUMBER, document_id, owner, sealed, pad=Pad.SHORT)
    except CryptoError:
        return ""
    return fold_document_number(value)


def _same_number(session: Session, person: Individual) -> set[uuid.UUID]:
    held = session.execute(
        select(TravelDocument.id, TravelDocument.number_index, TravelDocument.number_ct).where(
            TravelDocument.individual_id == person.id, TravelDocument.number_ct.is_not(None)
        )
    ).all()
    numbers = {_number(session, row.id, person.id, row.number_ct) for row in held} - {""}
    tokens = {row.number_index for row in held if row.number_index is not None}
    if not numbers or not tokens:
        return set()
    candidates = session.execute(
        select(TravelDocument.id, TravelDocument.individual_id, TravelDocument.number_ct)
        .join(Individual, Individual.id == TravelDocument.individual_id)
        .where(
            TravelDocument.number_index.in_(tokens),
            TravelDocument.individual_id != person.id,
            TravelDocument.number_ct.is_not(None),
            *_live_in(person.organisation_id),
        )
    )
    return {
        row.individual_id
        for row in candidates
        if _number(session, row.id, row.individual_id, row.number_ct) in numbers
    }


def _same_name_and_birth(session: Session, person: Individual) -> set[uuid.UUID]:
    mine = open_fields(session, person, IDENTITY)
    born, names = mine.get("date_of_birth"), _names(mine)
    if born is None or not names:
        return set()
    tokens = select(IndividualNameIndex.value).where(IndividualNameIndex.individual_id == person.id)
    candidates = session.scalars(
        select(Individual).where(
            Individual.id.in_(
                select(IndividualNameIndex.individual_id).where(
                    IndividualNameIndex.value.in_(tokens)
                )
            ),
            Individual.id != person.id,
            *_live_in(person.organisation_id),
        )
    )
    found = set()
    for other in candidates:
        theirs = open_fields(session, other, IDENTITY)
        if theirs.get("date_of_birth") == born and names & _names(theirs):
            found.add(other.id)
    return found


def possible_duplicates(
    session: Session, actor: Actor, individual_id: uuid.UUID
) -> list[uuid.UUID]:
    """Ids of the live people of the actor's organisation who may be this person."""
    return duplicates_of(session, actor, get_visible(session, actor, individual_id, OWN_READ))


def duplicates_of(session: Session, actor: Actor, person: Individual) -> list[uuid.UUID]:
    """``possible_duplicates`` of a person the actor may see (one just registered)."""
    if person.organisation_id != actor.organisation_id:
        return []  # never matched across organisations, whoever asks
    found = sorted(_same_number(session, person) | _same_name_and_birth(session, person))
    for other in found:
        audit.record(
            session,
            actor=actor,
            action="individual.duplicate_match",
            subject_type="individual",
            subject_id=other,
            details={"of": str(person.id)},
        )
    return found


def _held(session: Session, actor: Actor, individual_id: uuid.UUID) -> Individual:
    """A record of the actor's organisation in its scope, erased or merged ones included
    (those are refused with 409, not hidden: the supervisor sees the whole organisation)."""
    person = session.scalar(
        select(Individual).where(
            Individual.id == individual_id,
            Individual.organisation_id == actor.organisation_id,
            or_(
                Individual.id.in_(visible_individuals(actor, OWN)),
                Individual.erased_at.is_not(None),
            ),
        )
    )
    if person is None:
        raise NotFound()
    return person


def merge(
    session: Session, actor: Actor, duplicate_id: uuid.UUID, into_id: uuid.UUID
) -> dict[str, Any]:
    duplicate = _held(session, actor, duplicate_id)
    into = _held(session, actor, into_id)
    if duplicate.id == into.id:
        raise Conflict("a record cannot be merged into itself")
    for person in (duplicate, into):
        if person.erased_at is not None:
            raise Conflict("an erased record cannot be merged")
        if person.merged_into_id is not None:
            raise Conflict("that record is already merged into another")
    duplicate.merged_into_id, duplicate.merged_at, duplicate.merged_by = into.id, utcnow(), actor.id
    # Records merged into the duplicate earlier follow it to the survivor.
    session.execute(
        update(Individual)
        .where(Individual.merged_into_id == duplicate.id, Individual.id != duplicate.id)
        .values(merged_into_id=into.id)
    )
    history.record_many(
        session,
        actor=actor,
        entries=[
            history.Entry(
                individual_id=duplicate.id,
                kind="individual.merged",
                summary="Record merged into another record of the same person",
                subject_type="individual",
                subject_id=into.id,
            ),
            history.Entry(
                individual_id=into.id,
                kind="individual.merged_in",
                summary="A duplicate record of this person merged into this one",
                subject_type="individual",
                subject_id=duplicate.id,
            ),
        ],
    )
    for subject, other, action in (
        (duplicate, into, "individual.merge"),
        (into, duplicate, "individual.merge_into"),
    ):
        audit.record(
            session,
            actor=actor,
            action=action,
            subject_type="individual",
            subject_id=subject.id,
            details={"other": str(other.id)},
        )
    return {"id": duplicate.id, "merged_into": into.id, "merged_at": duplicate.merged_at}


def merged_into(session: Session, individual_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the records merged into this one."""
    return list(
        session.scalars(select(Individual.id).where(Individual.merged_into_id == individual_id))
    )
