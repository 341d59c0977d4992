"""UNHCR status: appended, never overwritten; the newest by effective date governs."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any, TypedDict

from sqlalchemy import ScalarSelect, delete, select
from sqlalchemy.orm import Session

from app import events
from app.actor import Actor
from app.audit import service as audit
from app.auth.scope import OWN
from app.crypto import DataKey, FieldSlot, Pad, crypto_of
from app.events import PersonErased, UnhcrStatusChanged
from app.models.individual import Individual
from app.models.unhcr import UnhcrStatus
from app.records import history
from app.records.people import get_visible


class Status(enum.StrEnum):
    NONE = "none"
    ASYLUM_SEEKER = "asylum_seeker"
    PERSON_OF_CONCERN = "person_of_concern"
    REFUGEE = "refugee"
    REJECTED = "rejected"
    RESETTLEMENT_SUBMITTED = "resettlement_submitted"
    RESETTLED = "resettled"
    CLOSED = "closed"


STATUS = FieldSlot("unhcr_status", "status")
REFERENCE = FieldSlot("unhcr_status", "unhcr_reference")
NOTE = FieldSlot("unhcr_status", "note")


def _ordered(individual_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return (
        select(UnhcrStatus)
        .where(UnhcrStatus.individual_id == individual_id)
        .order_by(UnhcrStatus.effective_date.desc(), UnhcrStatus.recorded_at.desc())
    )


class UnhcrStatusView(TypedDict):
    """One UNHCR status as the service hands it out (the fields of UnhcrStatusRead)."""

    id: uuid.UUID
    status: str | None
    effective_date: dt.date
    unhcr_reference: str | None
    expires_on: dt.date | None
    note: str | None
    recorded_at: dt.datetime


def _present(session: Session, row: UnhcrStatus) -> UnhcrStatusView:
    crypto = crypto_of(session)
    owner = row.individual_id

    def opened(slot: FieldSlot, sealed: bytes | None, pad: Pad) -> Any:
        return (
            None if sealed is None else crypto.open(session, slot, row.id, owner, sealed, pad=pad)
        )

    return {
        "id": row.id,
        "status": opened(STATUS, row.status_ct, Pad.CATEGORY),
        "effective_date": row.effective_date,
        "unhcr_reference": opened(REFERENCE, row.unhcr_reference_ct, Pad.SHORT),
        "expires_on": row.expires_on,
        "note": opened(NOTE, row.note_ct, Pad.TEXT),
        "recorded_at": row.recorded_at,
    }


def current_status(session: Session, person: Individual) -> UnhcrStatusView | None:
    return present_current(session, session.scalar(_ordered(person.id).limit(1)))


def current_id(individual_id: Any) -> ScalarSelect[uuid.UUID]:
    """The id of the person's current status, as a subquery (``individual_id`` may be a column
    of the enclosing query): a person's page reads it with the person."""
    return (
        select(UnhcrStatus.id)
        .where(UnhcrStatus.individual_id == individual_id)
        .order_by(UnhcrStatus.effective_date.desc(), UnhcrStatus.recorded_at.desc())
        .limit(1)
        .correlate_except(UnhcrStatus)  # also in a query that joins UnhcrStatus itself
        .scalar_subquery()
    )


def present_current(session: Session, row: UnhcrStatus | None) -> UnhcrStatusView | None:
    return _present(session, row) if row is not None else None


def status_history(session: Session, person: Individual) -> list[UnhcrStatusView]:
    return [_present(session, row) for row in session.scalars(_ordered(person.id))]


def add_status(
    session: Session, actor: Actor, person: Individual, data: dict[str, Any]
) -> UnhcrStatusView:
    key = crypto_of(session).keys.current(session, person.id)
    previous = current_status(session, person)
    row, entry = build_status(session, actor, person, data, key, previous=previous)
    session.add(row)
    session.flush()
    history.record_many(session, actor=actor, entries=[entry])
    events.publish(session, UnhcrStatusChanged(actor=actor, individual_id=person.id))
    audit_added(session, actor, person)
    return _present(session, row)


def build_status(
    session: Session,
    actor: Actor,
    person: Individual,
    data: dict[str, Any],
    key: DataKey,
    *,
    previous: UnhcrStatusView | None,
) -> tuple[UnhcrStatus, history.Entry]:
    """A status row sealed under the person's key, and its history entry (``previous``: the
    status it follows, if any)."""
    crypto = crypto_of(session)
    row = UnhcrStatus(
        id=uuid.uuid4(),
        individual_id=person.id,
        effective_date=data["effective_date"],
        expires_on=data.get("expires_on"),
        recorded_by=actor.id,
    )
    status = Status(data["status"]).value
    row.status_ct = crypto.seal(key, STATUS, row.id, status, pad=Pad.CATEGORY)
    if data.get("unhcr_reference"):
        row.unhcr_reference_ct = crypto.seal(
            key, REFERENCE, row.id, data["unhcr_reference"], pad=Pad.SHORT
        )
    if data.get("note"):
        row.note_ct = crypto.seal(key, NOTE, row.id, data["note"], pad=Pad.TEXT)
    entry = history.Entry(
        individual_id=person.id,
        kind="unhcr_status.added",
        summary="UNHCR status recorded",
        subject_type="unhcr_status",
        subject_id=row.id,
        changes={
            "status": {"from": previous["status"] if previous else None, "to": status},
            "effective_date": data["effective_date"],
            "expires_on": data.get("expires_on"),
        },
        key=key,
    )
    return row, entry


def audit_added(session: Session, actor: Actor, person: Individual) -> None:
    audit.record(
        session,
        actor=actor,
        action="unhcr_status.add",
        subject_type="individual",
        subject_id=person.id,
    )


# Use cases by the person's id (the API's routes and the web pages) ------------------------------
def add_for_person(
    session: Session, actor: Actor, individual_id: uuid.UUID, data: dict[str, Any]
) -> UnhcrStatusView:
    """``add_status`` for a person of the actor's own organisation (404 through a referral or
    outside the scope)."""
    person = get_visible(session, actor, individual_id, OWN)
    return add_status(session, actor, person, data)


def read_history(session: Session, actor: Actor, individual_id: uuid.UUID) -> list[UnhcrStatusView]:
    """The person's UNHCR status history, newest first, audited as ``unhcr_status.read``; 404
    unless the person is in scope with the ``unhcr_status`` section."""
    person = get_visible(session, actor, individual_id, "unhcr_status")
    audit.record(
        session,
        actor=actor,
        action="unhcr_status.read",
        subject_type="individual",
        subject_id=person.id,
    )
    return status_history(session, person)


def on_person_erased(session: Session, event: PersonErased) -> None:
    """The erased person's UNHCR statuses go (their dates and expiry are plain columns)."""
    session.execute(
        delete(UnhcrStatus)
        .where(UnhcrStatus.individual_id == event.individual_id)
        .execution_options(synchronize_session=False)
    )
