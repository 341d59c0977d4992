"""People at risk: register, read, update, search over encrypted data, erase."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.scope import OWN, sees_contact_details, visible_cases, visible_individuals
from app.cases import history
from app.crypto import DataKey, FieldSlot, Pad, crypto_of
from app.crypto.blind_index import PERSON_NAME, fold_name
from app.crypto.erasure import shred
from app.errors import NotFound
from app.models.base import utcnow
from app.models.case import Case, CaseAssignment
from app.models.individual import Individual, IndividualNameIndex

# Each sealed column: its slot (table, column in the AAD) and its padding bucket.
FIELDS: dict[str, Pad] = {
    "full_name": Pad.SHORT,
    "aliases": Pad.SHORT,
    "native_name": Pad.SHORT,
    "date_of_birth": Pad.CATEGORY,
    "sex": Pad.CATEGORY,
    "nationalities": Pad.SHORT,
    "affiliation": Pad.SHORT,
    "affiliation_role": Pad.SHORT,
    "current_country": Pad.CATEGORY,
    "current_location": Pad.SHORT,
    "contact": Pad.SHORT,
    "notes": Pad.TEXT,
}
SLOTS = {name: FieldSlot("individual", name) for name in FIELDS}
RESTRICTED = frozenset({"current_location", "contact"})
LIST_FIELDS = frozenset({"aliases", "nationalities"})
# Changes that the risk policy reads: the person is reassessed when one of them changes.
RISK_FIELDS = frozenset(
    {"nationalities", "current_country", "affiliation", "affiliation_role", "check_in_every_hours"}
)


def get_visible(
    session: Session, actor: Any, individual_id: uuid.UUID, section: str | None = None
) -> Individual:
    """The person if the actor's scope includes them; 404 otherwise, whatever the reason.

    ``section``: as in ``app.auth.scope`` (``OWN`` for what no referral ever reaches)."""
    person = session.scalar(
        select(Individual).where(
            Individual.id == individual_id,
            # The scope narrowed to this id: one index probe, whatever the organisation's size.
            Individual.id.in_(
                visible_individuals(actor, section).where(Individual.id == individual_id)
            ),
            Individual.merged_into_id.is_(None),  # a merged duplicate lives on as its survivor
        )
    )
    if person is None:
        raise NotFound()
    return person


def open_fields(
    session: Session, person: Individual, names: frozenset[str] | None = None
) -> dict[str, Any]:
    """The person's sealed fields, opened with one key lookup."""
    crypto = crypto_of(session)
    key: DataKey | None = None
    values: dict[str, Any] = {}
    for name, pad in FIELDS.items():
        if names is not None and name not in names:
            continue
        sealed = getattr(person, f"{name}_ct")
        if sealed is None:
            values[name] = [] if name in LIST_FIELDS else None
            continue
        if key is None:
            key = crypto.keys.by_id(session, _key_id(sealed), person.id)
        values[name] = crypto.open_with(key, SLOTS[name], person.id, sealed, pad=pad)
    return values


def _key_id(sealed: bytes) -> int:
    from app.crypto.envelope import header_key_id

    return header_key_id(sealed)


def _seal(
    session: Session, person: Individual, values: dict[str, Any], key: DataKey | None = None
) -> None:
    crypto = crypto_of(session)
    key = key or crypto.keys.current(session, person.id)
    for name, value in values.items():
        if name not in FIELDS:
            continue
        if name in LIST_FIELDS and value is None:
            value = []
        setattr(
            person,
            f"{name}_ct",
            crypto.seal(key, SLOTS[name], person.id, _plain(value), pad=FIELDS[name]),
        )


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


def _index_names(session: Session, person: Individual, values: dict[str, Any]) -> None:
    crypto = crypto_of(session)
    session.execute(
        delete(IndividualNameIndex).where(IndividualNameIndex.individual_id == person.id)
    )
    names = [values.get("full_name"), values.get("native_name"), *(values.get("aliases") or [])]
    tokens = {crypto.blind_index(PERSON_NAME, n) for n in names if n}
    for token in sorted(t for t in tokens if t is not None):
        session.add(IndividualNameIndex(individual_id=person.id, value=token))


def is_assigned(session: Session, actor: Any, person: Individual) -> bool:
    """Whether the actor works this person's case (or registered them)."""
    if person.created_by == actor.id:
        return True
    return bool(
        session.scalar(
            select(
                exists().where(
                    CaseAssignment.case_id == Case.id,
                    Case.individual_id == person.id,
                    CaseAssignment.user_id == actor.id,
                    CaseAssignment.removed_at.is_(None),
                )
            )
        )
    )


def hidden_fields(session: Session, actor: Any, person: Individual) -> frozenset[str]:
    if person.organisation_id != actor.organisation_id:
        return RESTRICTED | {"notes"}  # seen through a referral
    if sees_contact_details(actor, assigned=is_assigned(session, actor, person)):
        return frozenset()
    return RESTRICTED


def present(
    session: Session, actor: Any, person: Individual, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The person as the API shows them to this actor (restricted fields withheld)."""
    from app.consent.service import current as current_consent
    from app.referrals.access import sections_for_person, strip_person
    from app.unhcr.service import current_status

    values = dict(values if values is not None else open_fields(session, person))
    for name in hidden_fields(session, actor, person):
        values[name] = None
    # Seen through a referral: the referred sections only, the other fields left out.
    sections = sections_for_person(session, actor, person)
    return strip_person(
        {
            "id": person.id,
            **values,
            "check_in_every_hours": person.check_in_every_hours,
            "last_check_in_at": person.last_check_in_at,
            "risk": {"level": person.risk_level, "score": person.risk_score},
            "unhcr_status": current_status(session, person),
            "consent": consent.model_dump()
            if (consent := current_consent(session, person.id))
            else None,
            "organisation": person.organisation_id,
            "created_at": person.created_at,
            "updated_at": person.updated_at,
        },
        sections,
    )


def create(session: Session, actor: Any, data: dict[str, Any]) -> Individual:
    person = Individual(
        id=uuid.uuid4(),
        organisation_id=actor.organisation_id,
        created_by=actor.id,
        check_in_every_hours=data.get("check_in_every_hours"),
        last_check_in_at=utcnow() if data.get("check_in_every_hours") else None,
    )
    session.add(person)
    session.flush()
    key = crypto_of(session).keys.create(session, person.id, "individual")
    values = {name: data.get(name) for name in FIELDS}
    _seal(session, person, values, key)
    _index_names(session, person, values)
    history.record(
        session,
        actor=actor,
        individual_id=person.id,
        kind="individual.created",
        summary="Person registered",
        subject_type="individual",
        subject_id=person.id,
        changes={k: _plain(v) for k, v in values.items() if v not in (None, [])},
    )
    audit.record(
        session,
        actor=actor,
        action="individual.create",
        subject_type="individual",
        subject_id=person.id,
    )
    _reassess(session, actor, person, "individual.created")
    return person


def _reassess(session: Session, actor: Any, person: Individual, trigger: str) -> None:
    from app.risk import service as risk

    risk.reassess(session, person.id, trigger=trigger, actor=actor)


def read(session: Session, actor: Any, individual_id: uuid.UUID) -> dict[str, Any]:
    person = get_visible(session, actor, individual_id)
    audit.record(
        session,
        actor=actor,
        action="individual.read",
        subject_type="individual",
        subject_id=person.id,
    )
    return present(session, actor, person)


def update_person(
    session: Session, actor: Any, individual_id: uuid.UUID, changes: dict[str, Any]
) -> dict[str, Any]:
    person = get_visible(session, actor, individual_id, OWN)
    current = open_fields(session, person)
    hidden = hidden_fields(session, actor, person)
    if hidden & changes.keys():
        raise NotFound()  # a field the caller may not see cannot be changed by them either
    diff: dict[str, Any] = {}
    for name, value in changes.items():
        if name in FIELDS and _plain(value) != current.get(name):
            diff[name] = {"from": current.get(name), "to": _plain(value)}
            current[name] = _plain(value)
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
        _seal(session, person, sealed_changes)
        if {"full_name", "aliases", "native_name"} & sealed_changes.keys():
            _index_names(session, person, current)
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
    if RISK_FIELDS & diff.keys():
        _reassess(session, actor, person, "individual.updated")
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
    actor: Any,
    *,
    name: str | None = None,
    document_number: str | None = None,
    country: str | None = None,
    risk_level: str | None = None,
    limit: int = 50,
    cursor: uuid.UUID | None = None,
) -> tuple[list[dict[str, Any]], uuid.UUID | None]:
    """Exact-match search inside the caller's scope: blind-index candidates, then compare."""
    from app.documents.service import holders_of

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
    found: list[dict[str, Any]] = []
    last: uuid.UUID | None = None
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
        if len(found) == limit:
            more = True
            break
        found.append(present(session, actor, person, values))
        last = person.id
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
    return found, (last if more else None)


def erase(session: Session, actor: Any, individual_id: uuid.UUID, reason: str) -> None:
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


def _erase_one(session: Session, actor: Any, person: Individual, reason: str) -> None:
    from app.cases.attachments import delete_files_of

    delete_files_of(session, person.id)
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


def cases_of(session: Session, actor: Any, individual_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(Case.id).where(
                Case.individual_id == individual_id, Case.id.in_(visible_cases(actor))
            )
        )
    )
