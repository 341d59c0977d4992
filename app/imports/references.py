"""A person's external reference: the organisation's own case number for them, kept sealed.

An import stores it (sealed with the person's key, plus a blind-index value) so that the same
file imported twice, or an incidents sheet naming people by it, finds the person again:
candidates by index value inside the organisation, then opened and compared, as every search
over sealed fields goes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.crypto import Crypto, CryptoError, DataKey, FieldSlot, Pad, crypto_of
from app.crypto.blind_index import EXTERNAL_REFERENCE, fold_document_number
from app.crypto.envelope import header_key_id
from app.events import PersonErased
from app.models.individual import Individual, IndividualReferenceIndex

REFERENCE = FieldSlot("individual", "external_reference")
CHUNK = 500


def fold(reference: str) -> str:
    return fold_document_number(reference)


def seal_with(crypto: Crypto, key: DataKey, person_id: uuid.UUID, reference: str) -> bytes:
    """The reference sealed under the person's key (the key their name is sealed with)."""
    return crypto.seal(key, REFERENCE, person_id, reference, pad=Pad.SHORT)


def index_row(
    crypto: Crypto, person_id: uuid.UUID, reference: str
) -> IndividualReferenceIndex | None:
    """The blind-index row that finds the person by the reference on a second run."""
    value = crypto.blind_index(EXTERNAL_REFERENCE, reference)
    return None if value is None else IndividualReferenceIndex(individual_id=person_id, value=value)


def find(
    session: Session, organisation_id: uuid.UUID, references: Iterable[str]
) -> dict[str, uuid.UUID]:
    """The live people of the organisation holding each reference (by folded reference)."""
    crypto = crypto_of(session)
    wanted: dict[int, set[str]] = {}
    for reference in references:
        token = crypto.blind_index(EXTERNAL_REFERENCE, reference)
        if token is not None and fold(reference):
            wanted.setdefault(token, set()).add(fold(reference))
    found: dict[str, uuid.UUID] = {}
    tokens = sorted(wanted)
    for start in range(0, len(tokens), CHUNK):
        rows = session.execute(
            select(Individual.id, Individual.external_reference_ct)
            .join(IndividualReferenceIndex, IndividualReferenceIndex.individual_id == Individual.id)
            .where(
                IndividualReferenceIndex.value.in_(tokens[start : start + CHUNK]),
                Individual.organisation_id == organisation_id,
                Individual.erased_at.is_(None),
                Individual.merged_into_id.is_(None),
                Individual.external_reference_ct.is_not(None),
            )
        ).all()
        crypto.keys.load_many(
            session, {header_key_id(ct): pid for pid, ct in rows if ct is not None}
        )
        for person_id, sealed in rows:
            if sealed is None:
                continue
            try:
                value = crypto.open(session, REFERENCE, person_id, person_id, sealed, pad=Pad.SHORT)
            except CryptoError:
                continue
            folded = fold(value)
            if any(folded in names for names in wanted.values()):
                found.setdefault(folded, person_id)
    return found


def on_person_erased(session: Session, event: PersonErased) -> None:
    """The erased person's reference goes with the rest (its index rows went with the keys)."""
    session.execute(
        update(Individual)
        .where(Individual.id == event.individual_id)
        .values(external_reference_ct=None)
        .execution_options(synchronize_session=False)
    )
