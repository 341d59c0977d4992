"""How risk reacts to facts: every change the policy reads reassesses the people it concerns.

Listed in ``app.reactions``, before the alerts' reactions, so that a rise is raised (and can be
muted, or mute) in the same order as the change that caused it. The trigger names are stored on
each assessment.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.events import (
    CountryEventRecorded,
    DocumentAdded,
    DocumentStatusChanged,
    IncidentRecorded,
    ListMatched,
    PeopleImported,
    PersonRegistered,
    ProfileChanged,
    RevocationListApplied,
    UnhcrStatusChanged,
)
from app.risk.service import reassess, reassess_many

# Changes to a person's record that the risk policy reads.
PROFILE_FIELDS = frozenset(
    {"nationalities", "current_country", "affiliation", "affiliation_role", "check_in_every_hours"}
)


def on_person_registered(session: Session, event: PersonRegistered) -> None:
    reassess(session, event.individual_id, trigger="individual.created", actor=event.actor)


def on_profile_changed(session: Session, event: ProfileChanged) -> None:
    if PROFILE_FIELDS & event.fields:
        reassess(session, event.individual_id, trigger="individual.updated", actor=event.actor)


def on_unhcr_status(session: Session, event: UnhcrStatusChanged) -> None:
    reassess(session, event.individual_id, trigger="unhcr_status", actor=event.actor)


def on_document_added(session: Session, event: DocumentAdded) -> None:
    reassess(session, event.individual_id, trigger="document", actor=event.actor)


def on_document_status(session: Session, event: DocumentStatusChanged) -> None:
    reassess(session, event.individual_id, trigger="document", actor=event.actor)


def on_revocation_list(session: Session, event: RevocationListApplied) -> None:
    reassess_many(session, event.individual_ids, trigger="revocation", actor=event.actor)


def on_incident(session: Session, event: IncidentRecorded) -> None:
    for individual_id in event.individual_ids:
        reassess(session, individual_id, trigger="incident", actor=event.actor)


def on_list_matched(session: Session, event: ListMatched) -> None:
    reassess_many(session, event.individual_ids, trigger="list.matched", actor=event.actor)


def on_country_event(session: Session, event: CountryEventRecorded) -> None:
    reassess_many(
        session, event.individual_ids, trigger="country_event", actor=event.actor, now=event.at
    )


def on_people_imported(session: Session, event: PeopleImported) -> None:
    """Everyone an import wrote or named, assessed once at its end; the rises are announced as
    one group (the backfill rule keeps years-old incidents from raising the alert level)."""
    reassess_many(
        session,
        event.individual_ids,
        trigger="import",
        actor=event.actor,
        group_key=str(event.import_id),
    )
