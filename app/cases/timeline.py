"""Reading a case's history: the person's whole timeline plus the case's own entries."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.errors import NotFound, Unprocessable
from app.models.base import utcnow
from app.models.case import Case
from app.models.individual import Individual
from app.records import history
from app.records.cases import get_visible_case
from app.records.people import hidden_fields
from app.records.sharing import for_reader, sections_for_case


def case_history(
    session: Session, actor: Actor, case_id: uuid.UUID, *, as_of: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Oldest first. Entries of the person's other cases are left out; values the reader may
    not see (current location, contact) are withheld."""
    case = get_visible_case(session, actor, case_id, "history")
    if as_of is not None:
        try:  # in UTC: an offset can carry a time at the edge of the calendar past it
            as_of = (
                as_of.replace(tzinfo=dt.UTC) if as_of.tzinfo is None else as_of.astimezone(dt.UTC)
            )
        except OverflowError:
            raise Unprocessable("as_of is out of range") from None
        if as_of > utcnow():
            raise Unprocessable("as_of must not be in the future")
    entries = read_timeline(session, actor, case, as_of=as_of)
    audit.record(
        session,
        actor=actor,
        action="case.history.read",
        subject_type="case",
        subject_id=case.id,
        details={"entries": len(entries), "as_of": as_of is not None},
    )
    return entries


def read_timeline(
    session: Session, actor: Actor, case: Case, *, as_of: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The case's timeline as ``actor`` may read it: the one path of the history, the exports
    and the pages. Through a referral only the referred sections' entries remain; staff of
    another organisation are shown as that organisation (``sharing.for_reader``)."""
    person = session.get(Individual, case.individual_id)
    if person is None:
        raise NotFound()
    entries = [
        entry
        for entry in history.timeline(
            session,
            case.individual_id,
            as_of=as_of,
            hidden_fields=hidden_fields(session, actor, person),
        )
        if entry["case_id"] in (None, case.id)
    ]
    entries = _with_merged(session, actor, person, entries, as_of)
    return for_reader(session, actor, entries, sections_for_case(session, actor, case))


def _with_merged(
    session: Session,
    actor: Actor,
    person: Individual,
    entries: list[dict[str, Any]],
    as_of: dt.datetime | None,
) -> list[dict[str, Any]]:
    """The timelines of duplicates merged into the person, woven in: both histories stay."""
    merged = session.scalars(select(Individual).where(Individual.merged_into_id == person.id))
    extra = [
        entry
        for other in merged
        for entry in history.timeline(
            session, other.id, as_of=as_of, hidden_fields=hidden_fields(session, actor, other)
        )
    ]
    if not extra:
        return entries
    return sorted(entries + extra, key=lambda entry: entry["at"])
