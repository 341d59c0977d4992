"""What a reader sees of a record it reaches through a referral: the referred sections only.

``sections_for_person`` / ``sections_for_case`` answer None when the reader sees the record as
its own organisation's (nothing changes), else the sections of the active referrals through
which it sees it. The ``strip_*`` functions remove, rather than blank, every field outside
those sections, so a referred reader's responses do not even carry their keys.

- identity: names, aliases, date of birth, sex, nationalities, affiliation, current country;
- documents, unhcr_status, incidents: those records and their searches;
- history: the case's timeline, its notes and its title. The timeline holds only the entries
  of referred sections (``for_reader``): a person-record change only for its identity fields,
  never an entry about risk, alerts, check-ins, consent, attachments or break-glass.

Contact details, current location, the person's notes, check-ins, risk, alerts, consent and
attachments are never shared through a referral. Staff of the other organisation (either way)
are shown as their organisation's name, never by username or id (``staff_labels``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.auth.scope import SECTIONS, active_referrals
from app.models.case import Case
from app.models.individual import Individual
from app.models.organisation import Organisation
from app.models.referral import Referral
from app.models.user import ApiKey, User

PersonT = TypeVar("PersonT", bound=Mapping[str, Any])
NoteT = TypeVar("NoteT", bound=Mapping[str, Any])
IDENTITY_FIELDS = frozenset(
    {
        "full_name",
        "aliases",
        "native_name",
        "date_of_birth",
        "sex",
        "nationalities",
        "affiliation",
        "affiliation_role",
        "current_country",
    }
)
NEVER_REFERRED = frozenset(
    {
        "current_location",
        "contact",
        "notes",
        "check_in_every_hours",
        "last_check_in_at",
        "risk",
        "consent",
        "possible_duplicates",
    }
)
# The section a timeline entry belongs to, by the first part of its kind. Any other kind
# (risk.*, alert.*, check_in.*, consent.*, attachment.*, list.*, country_event.* …) belongs to
# no section and never reaches a referred reader.
ENTRY_SECTIONS = {
    "individual": "identity",
    "document": "documents",
    "unhcr_status": "unhcr_status",
    "incident": "incidents",
    "case": "history",
    "referral": "history",
}
# Kinds of a referred section that still never cross: emergency access by the sending side.
NEVER_REFERRED_KINDS = frozenset({"case.break_glass"})
# The summary of ``individual.updated``: this, then the changed field names.
PERSON_CHANGED = "Person's record changed: "
OTHER_ORGANISATION = "another organisation"


def parse(sections: str) -> frozenset[str]:
    return frozenset(s for s in sections.split(",") if s in SECTIONS)


def ordered(sections: Iterable[str]) -> list[str]:
    wanted = set(sections)
    return [s for s in SECTIONS if s in wanted]


def _union(rows: Iterable[str]) -> frozenset[str]:
    found: set[str] = set()
    for row in rows:
        found |= parse(row)
    return frozenset(found)


def sections_for_case(session: Session, actor: Actor, case: Case) -> frozenset[str] | None:
    if case.organisation_id == actor.organisation_id:
        return None
    return _union(
        session.scalars(
            select(Referral.sections).where(
                Referral.case_id == case.id, Referral.id.in_(active_referrals(actor))
            )
        )
    )


def sections_for_person(
    session: Session, actor: Actor, person: Individual
) -> frozenset[str] | None:
    if person.organisation_id == actor.organisation_id:
        return None
    return sections_for_individual_id(session, actor, person.id)


def sections_for_individual_id(
    session: Session, actor: Actor, individual_id: uuid.UUID
) -> frozenset[str]:
    return _union(
        session.scalars(
            select(Referral.sections).where(
                Referral.case_id.in_(select(Case.id).where(Case.individual_id == individual_id)),
                Referral.id.in_(active_referrals(actor)),
            )
        )
    )


def strip_person(item: PersonT, sections: frozenset[str] | None) -> PersonT:
    """The person as a referred reader may see them (unchanged for the own organisation)."""
    if sections is None:
        return item
    hidden = set(NEVER_REFERRED)
    if "identity" not in sections:
        hidden |= IDENTITY_FIELDS
    if "unhcr_status" not in sections:
        hidden.add("unhcr_status")
    # The same kind of mapping, with fewer keys (every key a referred reader may lack is optional).
    return cast(PersonT, {k: v for k, v in item.items() if k not in hidden})


def withheld_person_fields(sections: frozenset[str] | None) -> frozenset[str]:
    if sections is None:
        return frozenset()
    hidden = frozenset({"current_location", "contact", "notes"})
    return hidden | (frozenset() if "identity" in sections else IDENTITY_FIELDS)


def staff_labels(
    session: Session, reader: Actor, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """For each user or API key among ``ids`` not of the reader's organisation: that
    organisation's name (staff of the other side are their organisation, never a username)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    found: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
    for model in (User, ApiKey):
        rows = session.execute(
            select(model.id, model.organisation_id, Organisation.name)
            .join(Organisation, Organisation.id == model.organisation_id)
            .where(model.id.in_(wanted))
        )
        found |= {row_id: (org_id, name) for row_id, org_id, name in rows}
    labels = {}
    for staff_id in wanted:
        org_id, name = found.get(staff_id, (None, OTHER_ORGANISATION))
        if org_id != reader.organisation_id:
            labels[staff_id] = name
    return labels


def for_reader(
    session: Session,
    reader: Actor,
    entries: Iterable[Mapping[str, Any]],
    sections: frozenset[str] | None,
) -> list[dict[str, Any]]:
    """The one filter of every timeline handed to a reader (history, exports, pages).

    Through a referral (``sections`` not None) only the entries of referred sections remain,
    a person-record change only with its identity fields. Whoever reads, staff of another
    organisation are shown as that organisation; entries lose their ``actor_id``."""
    kept = [dict(e) for e in entries]
    if sections is not None:
        kept = [e for e in (_referred_entry(e, sections) for e in kept) if e is not None]
    people = [e.get("actor_id") for e in kept]
    people += [e.get("subject_id") for e in kept if e.get("subject_type") == "user"]
    labels = staff_labels(session, reader, people)
    for entry in kept:
        actor_id = entry.pop("actor_id", None)
        if actor_id in labels:
            entry["actor"] = labels[actor_id]
        if entry.get("subject_type") == "user" and entry.get("subject_id") in labels:
            label = labels[entry["subject_id"]]
            entry["subject_id"] = None
            if isinstance(entry.get("changes"), dict) and "user" in entry["changes"]:
                entry["changes"] = {**entry["changes"], "user": label}
    return kept


def notes_for_reader(session: Session, reader: Actor, notes: Iterable[NoteT]) -> list[NoteT]:
    """Case notes with their authors of another organisation shown as that organisation."""
    items = [dict(note) for note in notes]
    labels = staff_labels(session, reader, [note.get("author_id") for note in items])
    for note in items:
        if note.get("author_id") in labels:
            note["author"], note["author_id"] = labels[note["author_id"]], None
    # The same kind of mapping, the same keys: only two values changed.
    return [cast(NoteT, note) for note in items]


def _referred_entry(entry: dict[str, Any], sections: frozenset[str]) -> dict[str, Any] | None:
    kind = entry["kind"]
    section = ENTRY_SECTIONS.get(kind.split(".", 1)[0])
    if section is None or section not in sections or kind in NEVER_REFERRED_KINDS:
        return None
    if section != "identity":
        return entry
    changes = entry.pop("changes", None)
    if kind == "individual.updated":
        summary = entry["summary"]
        named = (
            summary.removeprefix(PERSON_CHANGED).split(", ")
            if summary.startswith(PERSON_CHANGED)
            else []
        )
        fields = sorted(IDENTITY_FIELDS & (set(named) | set(changes or ())))
        if not fields:
            return None  # location, contact, notes, check-in interval: never referred
        entry["summary"] = PERSON_CHANGED + ", ".join(fields)
    if changes is not None:
        entry["changes"] = {k: v for k, v in changes.items() if k in IDENTITY_FIELDS}
    return entry
