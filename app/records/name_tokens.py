"""The name-token blind index: each whole word of a person's names, padded per person.

``NAME_TOKEN`` (11 bits) over every folded word of the full name, native name and aliases.
Each person holds exactly ``TOKENS_PER_PERSON`` rows: the real words' values and, for the
rest, random values, so the table does not say how many words anyone's names have (a person
with more words than that holds one row per word). The leakage budget is written in the
README's security model.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable

from sqlalchemy import Select, delete, false, select
from sqlalchemy.orm import Session

from app.crypto import Crypto, crypto_of
from app.crypto.blind_index import NAME_TOKEN, TOKENS_PER_PERSON, name_tokens
from app.models.individual import Individual, IndividualNameToken

MAX_QUERY_WORDS = 6


def token_values(crypto: Crypto, names: Iterable[str | None]) -> list[int]:
    """The index values of the names' words, padded with random values to
    ``TOKENS_PER_PERSON`` (a random value matches a search by chance only, like a real
    coincidence, and is compared away the same way)."""
    real = {crypto.blind_index(NAME_TOKEN, word) for word in name_tokens(*names)}
    values = sorted(v for v in real if v is not None)
    padding = [secrets.randbelow(2**NAME_TOKEN.bits) for _ in range(TOKENS_PER_PERSON)]
    return values + padding[: max(0, TOKENS_PER_PERSON - len(values))]


def index_tokens(session: Session, person_id: uuid.UUID, names: Iterable[str | None]) -> None:
    """Replace the person's token rows with those of ``names``."""
    session.execute(
        delete(IndividualNameToken).where(IndividualNameToken.individual_id == person_id)
    )
    for value in token_values(crypto_of(session), names):
        session.add(IndividualNameToken(individual_id=person_id, value=value))


def matching_all(session: Session, words: list[str]) -> Select[uuid.UUID]:
    """Ids of the people with a token row for each of ``words`` (candidates: index
    coincidences and padding are compared away after decryption)."""
    crypto = crypto_of(session)
    query = select(Individual.id)
    for word in words:
        value = crypto.blind_index(NAME_TOKEN, word)
        if value is None:
            return select(Individual.id).where(false())
        query = query.where(
            Individual.id.in_(
                select(IndividualNameToken.individual_id).where(IndividualNameToken.value == value)
            )
        )
    return query
