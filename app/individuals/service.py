"""People at risk: register, read, update, search over encrypted data, erase."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, Uuid, bindparam, select, update
from sqlalchemy.orm import Session

from app import events, tokencache
from app.actor import Actor
from app.audit import service as audit
from app.auth.scope import OWN, bound, stand_in, visible_cases, visible_individuals
from app.auth.service import confirm as confirm_sign_in
from app.consent import service as consents
from app.consent.service import current as current_consent
from app.crypto import crypto_of
from app.crypto.blind_index import PERSON_NAME, fold_name
from app.crypto.envelope import DataKey
from app.crypto.erasure import shred
from app.errors import NotFound
from app.events import PersonErased, PersonRegistered, ProfileChanged
from app.individuals.schemas import PersonView
from app.models.base import utcnow
from app.models.case import Case
from app.models.consent import Consent
from app.models.history import HistoryEntry
from app.models.individual import Individual, IndividualNameIndex
from app.models.unhcr import UnhcrStatus
from app.records import history, people
from app.records.documents import holders_of
from app.records.people import (
    FIELDS,
    NameIndex,
    get_visible,
    hidden_fields,
    index_names,
    name_index,
    open_fields,
    plain,
    seal_fields,
)
from app.records.sharing import sections_for_person, strip_person
from app.unhcr import service as unhcr
from app.unhcr.service import current_status


@dataclass(frozen=True)
class Read:
    """What the person's page needs beside the person, read in the same query (``read``)."""

    assigned: bool
    unhcr_status: UnhcrStatus | None
    consent: Consent | None


def present(
    session: Session,
    actor: Actor,
    person: Individual,
    values: dict[str, Any] | None = None,
    read_with: Read | None = None,
) -> PersonView:
    """The person as the API shows them to this actor (restricted fields withheld)."""
    values = dict(values if values is not None else open_fields(session, person))
    assigned = read_with.assigned if read_with is not None else None
    for name in hidden_fields(session, actor, person, assigned=assigned):
        values[name] = None
    # Seen through a referral: the referred sections only, the other fields left out.
    sections = sections_for_person(session, actor, person)
    return strip_person(
        PersonView(
            id=person.id,
            full_name=values["full_name"],
            aliases=values["aliases"],
            native_name=values["native_name"],
            date_of_birth=values["date_of_birth"],
            sex=values["sex"],
            nationalities=values["nationalities"],
            affiliation=values["affiliation"],
            affiliation_role=values["affiliation_role"],
            current_country=values["current_country"],
            current_location=values["current_location"],
            contact=values["contact"],
            notes=values["notes"],
            check_in_every_hours=person.check_in_every_hours,
            last_check_in_at=person.last_check_in_at,
            risk={"level": person.risk_level, "score": person.risk_score},
            unhcr_status=current_status(session, person)
            if read_with is None
            else unhcr.present_current(session, read_with.unhcr_status),
            consent=consent.model_dump()
            if (
                consent := current_consent(session, person.id)
                if read_with is None
                else consents.present_current(session, read_with.consent)
            )
            else None,
            organisation=person.organisation_id,
            created_at=person.created_at,
            updated_at=person.updated_at,
        ),
        sections,
    )


def create(session: Session, actor: Actor, data: dict[str, Any]) -> Individual:
    person = new_person(actor, data)
    # The key first: the person's row is then written once, with their sealed fields.
    key = crypto_of(session).keys.create(session, person.id, "individual")
    session.add(person)
    names, entry = register(session, actor, person, data, key)
    names.write(session, person.id)
    history.record_many(session, actor=actor, entries=[entry])
    events.publish(session, PersonRegistered(actor=actor, individual_id=person.id))
    return person


def present_new(session: Session, actor: Actor, person: Individual) -> PersonView:
    """A person just registered by ``actor`` in this transaction, as ``present`` shows them:
    their registrar counts as assigned (no case is open for them yet), and they have no UNHCR
    status and no consent on record yet, so none is looked up."""
    return present(session, actor, person, read_with=Read(True, None, None))


def new_person(actor: Actor, data: dict[str, Any]) -> Individual:
    """The row of a person about to be registered, before anything about them is sealed."""
    return Individual(
        id=uuid.uuid4(),
        organisation_id=actor.organisation_id,
        created_by=actor.id,
        check_in_every_hours=data.get("check_in_every_hours"),
        last_check_in_at=utcnow() if data.get("check_in_every_hours") else None,
    )


def register(
    session: Session, actor: Actor, person: Individual, data: dict[str, Any], key: DataKey
) -> tuple[NameIndex, history.Entry]:
    """A new person's fields sealed under their new key and the registration audited; the
    index of their names for the caller to write once the person's row is, and their history
    entry for it to record (an import writes a batch's together) before it states
    ``PersonRegistered``."""
    values = {name: data.get(name) for name in FIELDS}
    seal_fields(session, person, values, key)
    names = name_index(crypto_of(session), values)
    audit.record(
        session,
        actor=actor,
        action="individual.create",
        subject_type="individual",
        subject_id=person.id,
    )
    return names, history.Entry(
        individual_id=person.id,
        kind="individual.created",
        summary="Person registered",
        subject_type="individual",
        subject_id=person.id,
        changes={k: plain(v) for k, v in values.items() if v not in (None, [])},
        key=key,
    )


def _with_page(actor: Actor) -> Select[Individual, UnhcrStatus, Consent, bool]:
    """People with what their page shows beside them: the current UNHCR status, the consent
    in force, and whether the actor works their case."""
    return (
        select(Individual, UnhcrStatus, Consent, people.assigned_to(actor))
        .outerjoin(UnhcrStatus, UnhcrStatus.id == unhcr.current_id(Individual.id))
        .outerjoin(Consent, Consent.id == consents.current_id(Individual.id))
    )


@functools.cache
def _read_statement(role: str) -> Select[Individual, UnhcrStatus, Consent, bool, int, int]:
    """A person's read for an actor of ``role``: built once, with the actor and the person
    bound when it runs. A statement built anew for every read cost a third of the read's time
    in SQLAlchemy alone (building it and computing its cache key); this one is reused as is."""
    actor = stand_in(role)
    return (
        _with_page(actor)
        .add_columns(*tokencache.generation_columns())  # a remembered sign-in is confirmed
        .where(*people.in_scope(actor, cast(uuid.UUID, bindparam("individual_id", type_=Uuid()))))
    )


@functools.cache
def _page_statement(role: str) -> Select[Individual, UnhcrStatus, Consent, bool]:
    """A page of people already found in scope, for an actor of ``role``."""
    return _with_page(stand_in(role)).where(Individual.id.in_(bindparam("ids", expanding=True)))


def present_page(session: Session, actor: Actor, ids: list[uuid.UUID]) -> list[PersonView]:
    """People a search found in the actor's scope, in that order, as ``present`` shows them,
    read with one query for the page: one per person cost a full page a hundred statements."""
    if not ids:
        return []  # a search that found no one (most lookups) asks nothing more
    rows = session.execute(
        _page_statement(actor.role),
        {**bound(actor), "ids": ids},
    )
    found = {row[0].id: row for row in rows}
    return [
        present(session, actor, person, read_with=Read(bool(assigned), status, consent))
        for person, status, consent, assigned in (found[i] for i in ids if i in found)
    ]


def read(session: Session, actor: Actor, individual_id: uuid.UUID) -> PersonView:
    """The person, with what their page shows beside them, in one query; 404 outside scope."""
    found = session.execute(
        _read_statement(actor.role),
        {**bound(actor), "individual_id": individual_id},
    ).first()
    if found is None:
        raise NotFound()
    person, status, consent, assigned, signins, erasures = found
    confirm_sign_in(session, signins or 0, erasures or 0)  # before any key is used
    audit.record(
        session,
        actor=actor,
        action="individual.read",
        subject_type="individual",
        subject_id=person.id,
    )
    return present(session, actor, person, read_with=Read(bool(assigned), status, consent))


def update_person(
    session: Session, actor: Actor, individual_id: uuid.UUID, changes: dict[str, Any]
) -> PersonView:
    person = get_visible(session, actor, individual_id, OWN)
    current = open_fields(session, person)
    hidden = hidden_fields(session, actor, person)
    if hidden & changes.keys():
        raise NotFound()  # a field the caller may not see cannot be changed by them either
    diff: dict[str, Any] = {}
    for name, value in changes.items():
        if name in FIELDS and plain(value) != current.get(name):
            diff[name] = {"from": current.get(name), "to": plain(value)}
            current[name] = plain(value)
    if (
        "check_in_every_hours" in changes
        and changes["check_in_every_hours"] != person.check_in_every_hours
    ):
        diff["check_in_every_hours"] = {
            "from": person.check_in_every_hours,
            "to": changes["check_in_every_hours"],
        }
        person.check_in_every_hours = changes["check_in_every_hours"]
        if person.check_in_every_hours and person.last_check_in_at is None:
            person.last_check_in_at = utcnow()
    sealed_changes = {k: current[k] for k in diff if k in FIELDS}
    if sealed_changes:
        seal_fields(session, person, sealed_changes)
        if {"full_name", "aliases", "native_name"} & sealed_changes.keys():
            index_names(session, person, current)
    if diff:
        person.updated_at = utcnow()
        history.record(
            session,
            actor=actor,
            individual_id=person.id,
            kind="individual.updated",
            summary="Person's record changed: " + ", ".join(sorted(diff)),
            subject_type="individual",
            subject_id=person.id,
            changes=diff,
        )
    if diff:
        events.publish(
            session, ProfileChanged(actor=actor, individual_id=person.id, fields=frozenset(diff))
        )
    audit.record(
        session,
        actor=actor,
        action="individual.update",
        subject_type="individual",
        subject_id=person.id,
        details={"fields": sorted(diff)},
    )
    return present(session, actor, person, current)


def search(
    session: Session,
    actor: Actor,
    *,
    name: str | None = None,
    document_number: str | None = None,
    country: str | None = None,
    risk_level: str | None = None,
    limit: int = 50,
    cursor: uuid.UUID | None = None,
) -> tuple[list[PersonView], uuid.UUID | None]:
    """Exact-match search inside the caller's scope: blind-index candidates, then compare."""
    # Through a referral: by name and country with identity, by number with documents
    # (``holders_of``), never by risk.
    section = OWN if risk_level else "identity" if name or country else None
    query = select(Individual).where(
        Individual.id.in_(visible_individuals(actor, section)), Individual.merged_into_id.is_(None)
    )
    if risk_level:
        query = query.where(Individual.risk_level == risk_level)
    if name:
        token = crypto_of(session).blind_index(PERSON_NAME, name)
        query = query.where(
            Individual.id.in_(
                select(IndividualNameIndex.individual_id).where(IndividualNameIndex.value == token)
            )
        )
    if document_number:
        query = query.where(Individual.id.in_(holders_of(session, actor, document_number)))
    if cursor is not None:
        query = query.where(Individual.id > cursor)
    query = query.order_by(Individual.id)
    wanted = fold_name(name) if name else None
    filtering = bool(wanted or country)
    matched: list[uuid.UUID] = []
    more = False
    # Candidates are decrypted and compared in batches; index collisions fall away here.
    for person in session.scalars(query.execution_options(yield_per=200)):
        values = open_fields(session, person)
        if wanted and wanted not in {
            fold_name(n)
            for n in [values["full_name"], values["native_name"], *values["aliases"]]
            if n
        }:
            continue
        if country and values.get("current_country") != country:
            continue
        if len(matched) == limit:
            more = True
            break
        matched.append(person.id)
    found = present_page(session, actor, matched)
    audit.record(
        session,
        actor=actor,
        action="individual.search",
        details={
            "by": sorted(
                k
                for k, v in (
                    ("name", name),
                    ("document_number", document_number),
                    ("country", country),
                    ("risk_level", risk_level),
                )
                if v
            ),
            "results": len(found),
        },
    )
    for item in found:
        audit.record(
            session,
            actor=actor,
            action="individual.read",
            subject_type="individual",
            subject_id=item["id"],
            details={"via": "search"},
        )
    del filtering
    return found, (matched[-1] if more else None)


ERASED_ENTRY = "Entry of an erased record"


def erase(session: Session, actor: Actor, individual_id: uuid.UUID, reason: str) -> None:
    """Erasure by key destruction: effective at once; history keeps the fact only."""
    person = get_visible(session, actor, individual_id, OWN)
    # Duplicates merged into this record are the same person: they go with it.
    merged = session.scalars(
        select(Individual).where(
            Individual.merged_into_id == person.id, Individual.erased_at.is_(None)
        )
    )
    for one in [person, *merged]:
        _erase_one(session, actor, one, reason)


def _erase_one(session: Session, actor: Actor, person: Individual, reason: str) -> None:
    # The history keeps that things happened, not what: its plaintext summaries named risk
    # levels, incident types and lists, and its subjects linked shared incidents and lists.
    session.execute(
        update(HistoryEntry)
        .where(HistoryEntry.individual_id == person.id)
        .values(summary=ERASED_ENTRY, subject_type=None, subject_id=None, changes_ct=None)
        .execution_options(synchronize_session=False)
    )
    history.record(
        session,
        actor=actor,
        individual_id=person.id,
        kind="individual.erased",
        summary="Person's record erased; its contents can no longer be read",
        subject_type="individual",
        subject_id=person.id,
    )
    for name in FIELDS:
        setattr(person, f"{name}_ct", None)
    person.erased_at, person.erased_by = utcnow(), actor.id
    shred(session, person.id)
    session.execute(
        update(Case)
        .where(Case.individual_id == person.id)
        .values(status="closed", closed_at=utcnow())
    )
    audit.record(
        session,
        actor=actor,
        action="individual.erase",
        subject_type="individual",
        subject_id=person.id,
        details={"reason_given": bool(reason.strip())},
        high_risk=True,
    )
    events.publish(session, PersonErased(actor=actor, individual_id=person.id))


def cases_of(session: Session, actor: Actor, individual_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(Case.id).where(
                Case.individual_id == individual_id, Case.id.in_(visible_cases(actor))
            )
        )
    )


# Reads for the web client's pages ---------------------------------------------------------------
def read_own(session: Session, actor: Actor, individual_id: uuid.UUID) -> PersonView:
    """``read`` (audited as ``individual.read``), for a person of the actor's own organisation
    only: 404 through a referral (the forms that add to a record)."""
    get_visible(session, actor, individual_id, OWN)
    return read(session, actor, individual_id)


def read_record(
    session: Session, actor: Actor, individual_id: uuid.UUID
) -> tuple[PersonView, Individual, frozenset[str]]:
    """``read`` (audited as ``individual.read``), with the person's row and the fields withheld
    from this actor (the person's page, which shows more than the read and says what is
    hidden)."""
    presented = read(session, actor, individual_id)
    person = get_visible(session, actor, individual_id)
    return presented, person, hidden_fields(session, actor, person)
