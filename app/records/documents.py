"""Travel documents' sealed fields and the lookup of a number among the people in scope.

Shared by the documents' use cases (``app.documents``), the search and duplicate checks of
people (``app.individuals``) and the time rules of alerts (``app.alerts.timed``).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from contextlib import suppress

from sqlalchemy import ColumnElement, Row, Select, bindparam, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.auth.scope import bound, stand_in, visible_individuals
from app.crypto import CryptoError, FieldSlot, Pad, crypto_of
from app.crypto.blind_index import DOCUMENT_NUMBER, fold_document_number
from app.crypto.envelope import header_key_id
from app.models.document import TravelDocument
from app.models.individual import Individual

NUMBER = FieldSlot("travel_document", "number")
ISSUING_COUNTRY = FieldSlot("travel_document", "issuing_country")
ISSUED_ON = FieldSlot("travel_document", "issued_on")
MRZ_TEXT = FieldSlot("travel_document", "mrz")
STATUS_SOURCE = FieldSlot("travel_document", "status_source")
CHANGE_SOURCE = FieldSlot("document_status_change", "source")


def holders_of(session: Session, actor: Actor, number: str) -> list[uuid.UUID]:
    """Ids of the people in the actor's scope holding a document with this number.

    The blind index gives candidates; their numbers are opened and compared, so index
    coincidences never reach the search results. A list, not a subquery: a query that puts
    it beside the scope then starts from these few people, where a subquery let the planner
    walk the whole organisation first (9 ms at 20,000 people, 200 ms at 100,000).
    """
    crypto = crypto_of(session)
    token = crypto.blind_index(DOCUMENT_NUMBER, number)
    if token is None:
        return []
    wanted = fold_document_number(number)
    rows = session.execute(_holders_statement(actor.role), {**bound(actor), "token": token}).all()
    # The index is truncated: the bucket holds other holders' documents too (about six at
    # 100,000 documents), whose keys come in one query rather than a round trip each.
    crypto.keys.load_many(session, _key_ids(rows))
    found = {
        row.individual_id
        for row in rows
        if row.number_ct is not None
        and _opened_number(session, row.id, row.individual_id, row.number_ct) == wanted
    }
    return sorted(found)


@functools.cache
def _holders_statement(role: str) -> Select[uuid.UUID, uuid.UUID, bytes | None]:
    """The documents in a number's index bucket whose holder an actor of ``role`` may see,
    built once per role (``stand_in``) with the actor and the bucket bound when it runs."""
    return select(TravelDocument.id, TravelDocument.individual_id, TravelDocument.number_ct).where(
        TravelDocument.number_index == bindparam("token"), held_in_scope(stand_in(role))
    )


def held_in_scope(actor: Actor) -> ColumnElement[bool]:
    """The document's holder is in the actor's scope, as a condition per document.

    Correlated, so the planner starts from the number index; a plain ``IN`` over the scope
    lets SQLite walk every person of the organisation instead.
    """
    return (
        visible_individuals(actor, "documents")
        .where(Individual.id == TravelDocument.individual_id)
        .exists()
    )


def _key_ids(
    rows: Sequence[Row[uuid.UUID, uuid.UUID, bytes | None]],
) -> dict[int, uuid.UUID]:
    """The data key each sealed number names, with its holder (a malformed one is left for
    opening to refuse, as it would be)."""
    keys: dict[int, uuid.UUID] = {}
    for _document, holder, sealed in rows:
        if sealed is not None:
            with suppress(CryptoError):
                keys[header_key_id(sealed)] = holder
    return keys


def _opened_number(
    session: Session, document_id: uuid.UUID, owner_id: uuid.UUID, sealed: bytes
) -> str | None:
    try:
        number = crypto_of(session).open(
            session, NUMBER, document_id, owner_id, sealed, pad=Pad.SHORT
        )
    except CryptoError:
        return None  # the holder was erased: their documents can no longer be read
    return fold_document_number(number)
