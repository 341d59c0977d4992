"""Name-token rows for the people registered before that index existed (run at start-up)."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.models.individual import Individual, IndividualNameToken
from app.records.name_tokens import index_tokens
from app.records.people import open_fields


def backfill(session: Session, *, batch: int = 500) -> int:
    """Token rows for the people registered before the index existed (run at start-up:
    cheap when there are none); returns how many people were indexed."""
    without = select(Individual).where(
        Individual.erased_at.is_(None),
        ~exists().where(IndividualNameToken.individual_id == Individual.id),
    )
    done = 0
    names = frozenset({"full_name", "native_name", "aliases"})
    while people := list(session.scalars(without.limit(batch))):
        for person in people:
            values = open_fields(session, person, names)
            index_tokens(
                session,
                person.id,
                [values["full_name"], values["native_name"], *(values["aliases"] or [])],
            )
        session.flush()
        done += len(people)
    return done
