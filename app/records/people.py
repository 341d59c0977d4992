"""A person's record: its sealed fields, opening and sealing them, the person in scope.

Every domain that reads or writes something about a person (documents, incidents, risk,
alerts, consent …) comes here rather than to ``app.individuals.service``, which holds the
use cases (register, read, update, search, erase).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, insert, or_, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.auth.roles import Role
from app.auth.scope import registered_without_case, sees_contact_details, visible_individuals
from app.crypto import Crypto, DataKey, FieldSlot, Pad, crypto_of
from app.crypto.blind_index import PERSON_NAME
from app.crypto.envelope import header_key_id
from app.errors import NotFound
from app.models.case import Case, CaseAssignment
from app.models.individual import Individual, IndividualNameIndex, IndividualNameToken
from app.records.name_tokens import token_values

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
NAME_FIELDS = frozenset({"full_name", "aliases", "native_name"})


def get_visible(
    session: Session,
    actor: Actor,
    individual_id: uuid.UUID,
    section: str | None = None,
    *,
    emergency: bool = True,
) -> Individual:
    """The person if the actor's scope includes them; 404 otherwise, whatever the reason.

    ``section``, ``emergency``: as in ``app.auth.scope`` (``OWN`` for what no referral or
    break-glass grant ever reaches: every write)."""
    person = session.scalar(select(Individual).where(*in_scope(actor, individual_id, section)))
    if person is None:
        raise NotFound()
    return person


def in_scope(
    actor: Actor, individual_id: uuid.UUID, section: str | None = None, *, emergency: bool = True
) -> tuple[ColumnElement[bool], ...]:
    """The conditions ``get_visible`` puts on a query of Individual (for a query that reads
    more with the person, such as the person's page)."""
    return (
        Individual.id == individual_id,
        # The scope narrowed to this id: one index probe, whatever the organisation's size.
        Individual.id.in_(
            visible_individuals(actor, section, emergency=emergency).where(
                Individual.id == individual_id
            )
        ),
        Individual.merged_into_id.is_(None),  # a merged duplicate lives on as its survivor
    )


def assigned_to(actor: Actor) -> ColumnElement[bool]:
    """``is_assigned`` as a condition on the Individual of the enclosing query."""
    return or_(
        registered_without_case(actor),
        exists().where(
            CaseAssignment.case_id == Case.id,
            Case.individual_id == Individual.id,
            CaseAssignment.user_id == actor.id,
            CaseAssignment.removed_at.is_(None),
        ),
    )


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
            key = crypto.keys.by_id(session, header_key_id(sealed), person.id)
        values[name] = crypto.open_with(key, SLOTS[name], person.id, sealed, pad=pad)
    return values


def seal_fields(
    session: Session, person: Individual, values: dict[str, Any], key: DataKey | None = None
) -> None:
    """Seal ``values`` (the person's fields, by name) into their columns."""
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
            crypto.seal(key, SLOTS[name], person.id, plain(value), pad=FIELDS[name]),
        )


def plain(value: Any) -> Any:
    """An enum member's value; anything else as it is."""
    return value.value if hasattr(value, "value") else value


def index_names(session: Session, person: Individual, values: dict[str, Any]) -> None:
    """The blind-index tokens of the person's names, replacing any earlier ones."""
    session.execute(
        delete(IndividualNameIndex).where(IndividualNameIndex.individual_id == person.id)
    )
    session.execute(
        delete(IndividualNameToken).where(IndividualNameToken.individual_id == person.id)
    )
    name_index(crypto_of(session), values).write(session, person.id)


@dataclass(frozen=True)
class NameIndex:
    """The blind-index values of a person's names: each whole name, and each word of them (for
    "Sok" finding Sok Dara)."""

    names: list[int]
    words: list[int]

    def rows(self, person_id: uuid.UUID) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The person's rows of ``individual_name_index`` and ``individual_name_token``."""
        return (
            [{"individual_id": person_id, "value": v} for v in self.names],
            [{"individual_id": person_id, "value": v} for v in self.words],
        )

    def write(self, session: Session, person_id: uuid.UUID) -> None:
        write_name_rows(session, *self.rows(person_id))


def name_index(crypto: Crypto, values: dict[str, Any]) -> NameIndex:
    names = [values.get("full_name"), values.get("native_name"), *(values.get("aliases") or [])]
    whole = {crypto.blind_index(PERSON_NAME, n) for n in names if n}
    return NameIndex(sorted(t for t in whole if t is not None), token_values(crypto, names))


def write_name_rows(
    session: Session, names: list[dict[str, Any]], words: list[dict[str, Any]]
) -> None:
    """Index rows of people already written (an import passes a batch's), one statement a
    table."""
    for model, rows in ((IndividualNameIndex, names), (IndividualNameToken, words)):
        if rows:
            session.execute(insert(model), rows)


def is_assigned(session: Session, actor: Actor, person: Individual) -> bool:
    """Whether the actor is currently assigned to a case of this person (or registered them
    and no case is open for them yet). A break-glass grant is no assignment."""
    if session.scalar(
        select(exists().where(Individual.id == person.id, registered_without_case(actor)))
    ):
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


def hidden_fields(
    session: Session, actor: Actor, person: Individual, *, assigned: bool | None = None
) -> frozenset[str]:
    """The fields withheld from this actor: contact and location unless they work the case;
    those and the notes when the person is seen through a referral. ``assigned``: whether the
    actor is assigned to the person, when already read (``assigned_to``)."""
    if person.organisation_id != actor.organisation_id:
        return RESTRICTED | {"notes"}  # seen through a referral
    if actor.role == Role.SUPERVISOR:
        return frozenset()  # whoever is assigned (sees_contact_details)
    if assigned is None:
        assigned = is_assigned(session, actor, person)
    if sees_contact_details(actor, assigned=assigned):
        return frozenset()
    return RESTRICTED
