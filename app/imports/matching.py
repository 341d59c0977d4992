"""Who among the rows is already on the organisation's records, found as the API finds them.

By external reference (the row is that person: already imported), and by the duplicate rules
of ``app.individuals.duplicates``: the same document number, or a shared name (full name,
alias or native name) with the same date of birth. Candidates come from the blind indexes,
a few hundred rows at a time, and are opened and compared, so index coincidences never count.
Within the file itself the same rules compare the rows with one another (no index needed).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from app.crypto import CryptoError, Pad, crypto_of
from app.crypto.blind_index import DOCUMENT_NUMBER, PERSON_NAME, fold_document_number, fold_name
from app.crypto.envelope import header_key_id
from app.imports import references
from app.imports.rows import PersonRow
from app.models.document import TravelDocument
from app.models.individual import Individual, IndividualNameIndex
from app.records.documents import NUMBER
from app.records.people import open_fields

IDENTITY = frozenset({"full_name", "aliases", "native_name", "date_of_birth"})
CHUNK = 500  # ids per IN (...) query, and keys opened at a time (well within the key cache)


@dataclass
class Match:
    already: uuid.UUID | None = None  # the person holding this row's external reference
    existing: set[uuid.UUID] = field(default_factory=set)  # possible duplicates on record
    rows: set[int] = field(default_factory=set)  # earlier rows of the file, same person?


def names_of(values: dict[str, Any]) -> set[str]:
    named = [values.get("full_name"), values.get("native_name"), *(values.get("aliases") or [])]
    return {fold_name(n) for n in named if n} - {""}


def numbers_of(row: PersonRow) -> set[str]:
    return {fold_document_number(d.number) for d in row.documents if d.number} - {""}


def _live(organisation_id: uuid.UUID) -> list[ColumnElement[bool]]:
    return [
        Individual.organisation_id == organisation_id,
        Individual.erased_at.is_(None),
        Individual.merged_into_id.is_(None),
    ]


def within_file(rows: Sequence[PersonRow], matches: dict[int, Match]) -> None:
    """Rows of the file that may be the same person as an earlier row."""
    by_number: dict[str, int] = {}
    by_name: dict[tuple[str, dt.date], int] = {}
    for row in rows:
        earlier: set[int] = set()
        for number in numbers_of(row):
            earlier.add(by_number.setdefault(number, row.row))
        born = row.person.get("date_of_birth")
        if born is not None:
            for name in names_of(row.person):
                earlier.add(by_name.setdefault((name, born), row.row))
        earlier.discard(row.row)
        if earlier:
            matches.setdefault(row.row, Match()).rows |= earlier


def on_record(
    session: Session, organisation_id: uuid.UUID, rows: Sequence[PersonRow]
) -> dict[int, Match]:
    """For each row (by number) that matches someone on record: who."""
    matches: dict[int, Match] = {}
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        held = references.find(
            session, organisation_id, [r.reference for r in chunk if r.reference]
        )
        for row in chunk:
            if row.reference and (found := held.get(references.fold(row.reference))):
                matches.setdefault(row.row, Match()).already = found
        _by_number(session, organisation_id, chunk, matches)
        _by_name_and_birth(session, organisation_id, chunk, matches)
    return matches


def _by_number(
    session: Session, organisation_id: uuid.UUID, rows: Sequence[PersonRow], out: dict[int, Match]
) -> None:
    crypto = crypto_of(session)
    wanted: dict[str, list[int]] = defaultdict(list)
    for given in rows:
        for number in numbers_of(given):
            wanted[number].append(given.row)
    tokens = sorted(
        t for t in {crypto.blind_index(DOCUMENT_NUMBER, n) for n in wanted} if t is not None
    )
    if not tokens:
        return
    found = session.execute(
        select(TravelDocument.id, TravelDocument.individual_id, TravelDocument.number_ct)
        .join(Individual, Individual.id == TravelDocument.individual_id)
        .where(
            TravelDocument.number_index.in_(tokens),
            TravelDocument.number_ct.is_not(None),
            *_live(organisation_id),
        )
    ).all()
    for start in range(0, len(found), CHUNK):
        part = found[start : start + CHUNK]
        crypto.keys.load_many(session, {header_key_id(r.number_ct): r.individual_id for r in part})
        for doc_id, owner, sealed in part:
            if sealed is None:
                continue
            try:
                number = crypto.open(session, NUMBER, doc_id, owner, sealed, pad=Pad.SHORT)
            except CryptoError:
                continue
            for number_row in wanted.get(fold_document_number(number), ()):
                out.setdefault(number_row, Match()).existing.add(owner)


def _by_name_and_birth(
    session: Session, organisation_id: uuid.UUID, rows: Sequence[PersonRow], out: dict[int, Match]
) -> None:
    crypto = crypto_of(session)
    wanted: dict[tuple[str, dt.date], list[int]] = defaultdict(list)
    for given in rows:
        born = given.person.get("date_of_birth")
        if born is None:
            continue
        for name in names_of(given.person):
            wanted[(name, born)].append(given.row)
    tokens = sorted(
        t for t in {crypto.blind_index(PERSON_NAME, name) for name, _ in wanted} if t is not None
    )
    if not tokens:
        return
    for start in range(0, len(tokens), CHUNK):
        people = session.scalars(
            select(Individual).where(
                Individual.id.in_(
                    select(IndividualNameIndex.individual_id).where(
                        IndividualNameIndex.value.in_(tokens[start : start + CHUNK])
                    )
                ),
                *_live(organisation_id),
            )
        ).all()
        for first in range(0, len(people), CHUNK):
            part = people[first : first + CHUNK]
            crypto.keys.load_many(
                session,
                {header_key_id(p.full_name_ct): p.id for p in part if p.full_name_ct is not None},
            )
            for person in part:
                try:
                    theirs = open_fields(session, person, IDENTITY)
                except CryptoError:
                    continue
                born = theirs.get("date_of_birth")
                for name in names_of(theirs):
                    for name_row in wanted.get((name, born), ()) if born else ():
                        out.setdefault(name_row, Match()).existing.add(person.id)
