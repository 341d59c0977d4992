"""Consent: appended, never overwritten; the newest by the day it was given governs.

The decision itself (store, share with partners, method) is sealed with the person's key as
one fixed-length value, so stored rows do not tell a withdrawal from an agreement by length.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ScalarSelect, delete, select
from sqlalchemy.orm import Session

from app import events
from app.actor import Actor
from app.audit import service as audit
from app.auth.scope import OWN, OWN_READ
from app.consent.schemas import ConsentCreate, ConsentRead, ErasurePath
from app.crypto import CryptoError, FieldSlot, Pad, crypto_of
from app.events import ConsentRecorded, PersonErased
from app.models.base import utcnow
from app.models.consent import Consent
from app.records import history as case_history
from app.records.people import get_visible

TERMS = FieldSlot("consent", "terms")
NOTE = FieldSlot("consent", "note")


def _ordered(individual_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return (
        select(Consent)
        .where(Consent.individual_id == individual_id)
        .order_by(Consent.recorded_on.desc(), Consent.recorded_at.desc())
    )


def _present(session: Session, row: Consent) -> ConsentRead:
    crypto = crypto_of(session)
    owner = row.individual_id
    store, share, method = crypto.open(
        session, TERMS, row.id, owner, row.terms_ct, pad=Pad.CATEGORY
    )
    note = (
        None
        if row.note_ct is None
        else crypto.open(session, NOTE, row.id, owner, row.note_ct, pad=Pad.TEXT)
    )
    return ConsentRead(
        id=row.id,
        store=store,
        share_with_partners=share,
        method=method,
        recorded_on=row.recorded_on,
        note=note,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
        erasure=None if store else ErasurePath(href=f"/api/v1/individuals/{owner}"),
    )


def current(session: Session, individual_id: uuid.UUID) -> ConsentRead | None:
    """The consent that governs now, without a scope check (for internal callers)."""
    return present_current(session, session.scalar(_ordered(individual_id).limit(1)))


def current_id(individual_id: Any) -> ScalarSelect[uuid.UUID]:
    """The id of the consent that governs now, as a subquery (``individual_id`` may be a
    column of the enclosing query): a person's page reads it with the person."""
    return (
        select(Consent.id)
        .where(Consent.individual_id == individual_id)
        .order_by(Consent.recorded_on.desc(), Consent.recorded_at.desc())
        .limit(1)
        .correlate_except(Consent)  # also in a query that joins Consent itself
        .scalar_subquery()
    )


def present_current(session: Session, row: Consent | None) -> ConsentRead | None:
    """``current``, given the row ``current_id`` names."""
    if row is None:
        return None
    try:
        return _present(session, row)
    except CryptoError:
        return None  # erased: nothing governs a record that can no longer be read


def allows_sharing(session: Session, individual_id: uuid.UUID) -> bool:
    consent = current(session, individual_id)
    return consent is not None and consent.store and consent.share_with_partners


def history(session: Session, actor: Actor, individual_id: uuid.UUID) -> list[ConsentRead]:
    """Every recorded decision, newest first; 404 outside the actor's scope.

    Consent is no referral section: a partner seeing the case through a referral never
    reads it (the referral itself stands for the consent to share)."""
    person = get_visible(session, actor, individual_id, OWN_READ)
    audit.record(
        session,
        actor=actor,
        action="consent.read",
        subject_type="individual",
        subject_id=person.id,
    )
    return [_present(session, row) for row in session.scalars(_ordered(person.id))]


def record(
    session: Session, actor: Actor, individual_id: uuid.UUID, body: ConsentCreate
) -> ConsentRead:
    person = get_visible(session, actor, individual_id, OWN)
    before = current(session, person.id)
    crypto = crypto_of(session)
    key = crypto.keys.current(session, person.id)
    row = Consent(
        id=uuid.uuid4(),
        individual_id=person.id,
        recorded_on=body.recorded_on,
        recorded_by=actor.id,
        recorded_at=utcnow(),
    )
    terms = [body.store, body.share_with_partners, body.method.value]
    row.terms_ct = crypto.seal(key, TERMS, row.id, terms, pad=Pad.CATEGORY)
    if body.note:
        row.note_ct = crypto.seal(key, NOTE, row.id, body.note, pad=Pad.TEXT)
    session.add(row)
    session.flush()
    after = current(session, person.id)
    assert after is not None
    case_history.record(
        session,
        actor=actor,
        individual_id=person.id,
        kind="consent.recorded",
        summary="Consent recorded",
        subject_type="consent",
        subject_id=row.id,
        changes={
            "store": {"from": before.store if before else None, "to": body.store},
            "share_with_partners": {
                "from": before.share_with_partners if before else None,
                "to": body.share_with_partners,
            },
            "method": body.method.value,
            "recorded_on": body.recorded_on,
        },
        key=key,
    )
    audit.record(
        session,
        actor=actor,
        action="consent.record",
        subject_type="individual",
        subject_id=person.id,
    )
    withdrawn = before is not None and before.share_with_partners and not after.share_with_partners
    events.publish(
        session,
        ConsentRecorded(actor=actor, individual_id=person.id, sharing_withdrawn=withdrawn),
    )
    return _present(session, row)


def on_person_erased(session: Session, event: PersonErased) -> None:
    """The erased person's consent history goes (when, and how it was given)."""
    session.execute(
        delete(Consent)
        .where(Consent.individual_id == event.individual_id)
        .execution_options(synchronize_session=False)
    )
