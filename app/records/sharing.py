"""What a reader sees of a record it reaches through a referral: the referred sections only.

``sections_for_person`` / ``sections_for_case`` answer None when the reader sees the record as
its own organisation's (nothing changes), else the sections of the active referrals through
which it sees it. The ``strip_*`` functions remove, rather than blank, every field outside
those sections, so a referred reader's responses do not even carry their keys.

- identity: names, aliases, date of birth, sex, nationalities, affiliation, current country;
- documents, unhcr_status, incidents: those records and their searches;
- history: the case's timeline, its notes and its title (and each timeline entry's values
  only when the section of what it is about is referred too).

Contact details, current location, the person's notes, check-ins, risk and attachments are
never shared through a referral.
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
from app.models.referral import Referral

PersonT = TypeVar("PersonT", bound=Mapping[str, Any])
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
# The section a timeline entry's values belong to, by the first part of its kind.
ENTRY_SECTIONS = {
    "individual": "identity",
    "document": "documents",
    "unhcr_status": "unhcr_status",
    "incident": "incidents",
    "case": "history",
    "referral": "history",
}


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


def strip_timeline(
    entries: list[dict[str, Any]], sections: frozenset[str] | None
) -> list[dict[str, Any]]:
    """Entries keep their facts; values only where their section is referred too."""
    if sections is None:
        return entries
    out = []
    for entry in entries:
        entry = dict(entry)
        section = ENTRY_SECTIONS.get(entry["kind"].split(".", 1)[0])
        changes = entry.pop("changes", None)
        if changes is not None and section in sections:
            if section == "identity":
                changes = {k: v for k, v in changes.items() if k in IDENTITY_FIELDS}
            entry["changes"] = changes
        out.append(entry)
    return out
