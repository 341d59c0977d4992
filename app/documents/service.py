"""Travel documents (being built)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.models.document import TravelDocument


def holders_of(session: Session, actor: Any, number: str) -> Select[Any]:
    """Ids of people holding a document with this number (blind-index candidates)."""
    from app.crypto import crypto_of
    from app.crypto.blind_index import DOCUMENT_NUMBER

    token = crypto_of(session).blind_index(DOCUMENT_NUMBER, number)
    return select(TravelDocument.individual_id).where(TravelDocument.number_index == token)
