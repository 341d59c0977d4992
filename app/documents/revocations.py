"""A government's list of annulled documents, applied in one transaction.

Matching runs in batches, never a query per number: every number's blind-index token is
computed first, candidates inside the caller's scope are fetched with one ``IN`` query per
chunk of tokens, then opened (the holders' data keys loaded with one query per batch) and
compared on the folded number and the issuing country. Applying a list twice changes nothing
the second time. The numbers on the list are not stored: those that match nothing are only
echoed back.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.actor import Actor
from app.audit import service as audit
from app.crypto import CryptoError, DataKey, Pad, crypto_of
from app.crypto.blind_index import DOCUMENT_NUMBER, fold_document_number
from app.crypto.envelope import header_key_id
from app.documents.service import record_change
from app.events import RevocationListApplied
from app.models.base import utcnow
from app.models.bulk import collector_spared
from app.models.document import TravelDocument
from app.records import history
from app.records.documents import ISSUING_COUNTRY, NUMBER, STATUS_SOURCE, held_in_scope

REVOKED = "revoked"
CHUNK = 500  # tokens per IN (...) query: far below every engine's parameter limit
KEY_BATCH = 1000  # candidates whose keys are loaded together: well within the key cache


@collector_spared()  # one event, list or revocation list may touch everyone
def apply_revocations(
    session: Session,
    actor: Actor,
    *,
    issuing_country: str,
    numbers: Sequence[str],
    effective_date: dt.date,
    source: str,
) -> dict[str, Any]:
    """Revoke every document in scope on the list; already revoked ones count as matched."""
    crypto = crypto_of(session)
    list_id = uuid.uuid4()
    wanted = {fold_document_number(n) for n in numbers} - {""}
    tokens = sorted(
        {t for n in wanted if (t := crypto.blind_index(DOCUMENT_NUMBER, n)) is not None}
    )
    matched: list[tuple[uuid.UUID, uuid.UUID, str, DataKey]] = []
    hit: set[str] = set()
    for chunk in _chunks(tokens, CHUNK):
        rows = session.execute(
            select(
                TravelDocument.id,
                TravelDocument.individual_id,
                TravelDocument.number_ct,
                TravelDocument.issuing_country_ct,
                TravelDocument.status,
            ).where(TravelDocument.number_index.in_(chunk), held_in_scope(actor))
        ).all()
        for batch in _chunks(rows, KEY_BATCH):
            _load_keys(session, batch)
            for row in batch:
                opened = _open_candidate(session, row)
                if opened is None:
                    continue
                number, country, key = opened
                if number in wanted and country == issuing_country:
                    hit.add(number)
                    matched.append((row.id, row.individual_id, row.status, key))

    to_revoke = {doc_id: key for doc_id, _, status, key in matched if status != REVOKED}
    revoked = _revoke(session, actor, to_revoke, effective_date, source, list_id)
    people = sorted({document.individual_id for document in revoked})
    events.publish(
        session, RevocationListApplied(actor=actor, list_id=list_id, individual_ids=tuple(people))
    )
    unmatched = _unmatched(numbers, hit)
    audit.record(
        session,
        actor=actor,
        action="document.revocations.apply",
        details={
            "list_id": str(list_id),
            "numbers": len(numbers),
            "matched": len(matched),
            "newly_revoked": len(revoked),
            "unmatched": len(unmatched),
        },
    )
    return {
        "matched": len(matched),
        "unmatched": unmatched,
        "newly_revoked": len(revoked),
        "list_id": list_id,
    }


def _load_keys(session: Session, rows: Sequence[Any]) -> None:
    """The holders' data keys in one query per thousand, not a round trip per candidate."""
    owners = {
        header_key_id(row.number_ct): row.individual_id for row in rows if row.number_ct is not None
    }
    crypto_of(session).keys.load_many(session, owners)


def _open_candidate(session: Session, row: Any) -> tuple[str, str | None, DataKey] | None:
    """Folded number, issuing country and the holder's key; None if it cannot be opened."""
    if row.number_ct is None:
        return None
    crypto = crypto_of(session)
    try:
        # Data keys are cached by id, so a holder with several candidates is unwrapped once.
        key = crypto.keys.by_id(session, header_key_id(row.number_ct), row.individual_id)
        number = crypto.open_with(key, NUMBER, row.id, row.number_ct, pad=Pad.SHORT)
        country = (
            None
            if row.issuing_country_ct is None
            else crypto.open_with(
                key, ISSUING_COUNTRY, row.id, row.issuing_country_ct, pad=Pad.CATEGORY
            )
        )
    except CryptoError:
        return None  # an erased holder: nothing left to match
    return fold_document_number(number), country, key


def _revoke(
    session: Session,
    actor: Actor,
    to_revoke: dict[uuid.UUID, DataKey],
    effective_date: dt.date,
    source: str,
    list_id: uuid.UUID,
) -> list[TravelDocument]:
    """Revoke these documents; returns those it changed."""
    crypto = crypto_of(session)
    revoked: list[tuple[TravelDocument, str]] = []
    for chunk in _chunks(sorted(to_revoke), CHUNK):
        # Locked and read again: a list applied at the same moment may have got there first.
        locked = select(TravelDocument).where(TravelDocument.id.in_(chunk)).with_for_update()
        for document in session.scalars(locked):
            if document.status == REVOKED:
                continue
            key = to_revoke[document.id]
            revoked.append((document, document.status))
            document.status, document.status_date = REVOKED, effective_date
            document.status_source_ct = crypto.seal(
                key, STATUS_SOURCE, document.id, source, pad=Pad.SHORT
            )
            document.updated_at = utcnow()
            record_change(session, actor, document, key, source=source, list_id=list_id)
    # One flush writes every document and status change, one more every timeline entry.
    session.flush()
    history.record_many(
        session,
        actor=actor,
        entries=[
            history.Entry(
                individual_id=document.individual_id,
                kind="document.revoked",
                summary="Document revoked by a government list",
                subject_type="travel_document",
                subject_id=document.id,
                key=to_revoke[document.id],
                changes={
                    "status": {"from": previous, "to": REVOKED},
                    "status_date": effective_date,
                    "status_source": source,
                    "revocation_list_id": list_id,
                },
            )
            for document, previous in revoked
        ],
    )
    for document, _ in revoked:
        audit.record(
            session,
            actor=actor,
            action="document.revoke",
            subject_type="individual",
            subject_id=document.individual_id,
            details={"document_id": str(document.id), "list_id": str(list_id)},
        )
    return [document for document, _ in revoked]


def _unmatched(numbers: Sequence[str], hit: set[str]) -> list[str]:
    """The caller's own numbers that found nothing, as given, each once."""
    seen: set[str] = set()
    out = []
    for number in numbers:
        if number in seen or fold_document_number(number) in hit:
            continue
        seen.add(number)
        out.append(number)
    return out


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
