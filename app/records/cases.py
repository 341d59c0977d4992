"""A case in scope, and values sealed with its person's key."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.auth.scope import visible_cases
from app.crypto import CryptoError, FieldSlot, Pad, crypto_of
from app.errors import NotFound
from app.models.case import Case


def get_visible_case(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    section: str | None = None,
    *,
    emergency: bool = True,
) -> Case:
    """The case if the actor's scope includes it; 404 otherwise, whatever the reason.

    ``section``, ``emergency``: as in ``app.auth.scope`` (``OWN`` for what no referral or
    break-glass grant ever reaches: every write)."""
    case = session.scalar(
        # The scope narrowed to this id: one index probe, whatever the organisation's size.
        select(Case).where(
            Case.id == case_id,
            Case.id.in_(
                visible_cases(actor, section, emergency=emergency).where(Case.id == case_id)
            ),
        )
    )
    if case is None:
        raise NotFound()
    return case


def open_sealed(
    session: Session, slot: FieldSlot, row_id: uuid.UUID, case: Case, sealed: bytes | None, pad: Pad
) -> Any:
    """A value sealed with the case's person's key; None once the person is erased."""
    if sealed is None:
        return None
    try:
        return crypto_of(session).open(session, slot, row_id, case.individual_id, sealed, pad=pad)
    except CryptoError:
        return None


def seal_for(
    session: Session, case: Case, slot: FieldSlot, row_id: uuid.UUID, value: Any, pad: Pad
) -> bytes:
    """``value`` sealed with the case's person's current key."""
    crypto = crypto_of(session)
    key = crypto.keys.current(session, case.individual_id)
    return crypto.seal(key, slot, row_id, value, pad=pad)
