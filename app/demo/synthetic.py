"""`haven demo --people N`: many invented people, quickly, through the real encryption.

Rows are built in memory and written with one multi-row INSERT per table and batch, with key
ids reserved up front (they go into every ciphertext's AAD before the row exists). Every field
is sealed exactly as the services seal it, so benchmarks run against realistic ciphertext.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from app.crypto import Crypto, DataKey, Pad
from app.crypto.blind_index import DOCUMENT_NUMBER
from app.crypto.keyring import wrap_aad
from app.models.base import utcnow
from app.models.bulk import insert_rows, note_written, reserve_ids
from app.models.document import DocumentStatusChange, TravelDocument
from app.models.history import HistoryEntry
from app.models.individual import Individual, IndividualNameIndex, IndividualNameToken
from app.models.keys import RecordKey
from app.records.documents import ISSUING_COUNTRY, NUMBER
from app.records.people import FIELDS, SLOTS, name_index

FAMILY = [
    "Sok",
    "Chan",
    "Kim",
    "Meas",
    "Ouk",
    "Pen",
    "Prak",
    "Ros",
    "Seng",
    "Touch",
    "Vong",
    "Heng",
]
GIVEN = [
    "Dara",
    "Sophal",
    "Vannak",
    "Bopha",
    "Chanthou",
    "Rithy",
    "Sreymom",
    "Veasna",
    "Kosal",
    "Pisey",
    "Ratanak",
    "Sokha",
    "Chenda",
    "Narith",
    "Phalla",
    "Samnang",
]
HOSTS = ["THA", "MYS", "IDN"]
# (level, lowest score, highest score, share of people)
RISK = [
    ("low", 5, 29, 0.5),
    ("medium", 30, 54, 0.3),
    ("high", 55, 79, 0.15),
    ("critical", 80, 98, 0.05),
]


def _risk(rng: random.Random) -> tuple[str, int]:
    level, low, high, _ = rng.choices(RISK, weights=[r[3] for r in RISK])[0]
    return level, rng.randint(low, high)


def _person(rng: random.Random, index: int) -> dict[str, Any]:
    family, given = rng.choice(FAMILY), rng.choice(GIVEN)
    born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 55))
    return {
        "full_name": f"{family} {given} {index:06d}",
        "aliases": [f"{given} {family}"] if rng.random() < 0.3 else [],
        "native_name": None,
        "date_of_birth": born,
        "sex": rng.choice(["female", "male"]),
        "nationalities": ["KHM"],
        "affiliation": "Opposition party (dissolved)" if rng.random() < 0.6 else None,
        "affiliation_role": rng.choice(["member", "organiser", None]),
        "current_country": rng.choice(HOSTS),
        "current_location": f"District {rng.randrange(1, 50)}",
        "contact": None,
        "notes": None,
    }


def add_people(
    session: Session,
    crypto: Crypto,
    *,
    count: int,
    organisation_id: uuid.UUID,
    created_by: uuid.UUID | None,
    batch: int = 2000,
    advance: Callable[[int], None] | None = None,
    seed: int | None = None,
) -> list[str]:
    """Insert ``count`` people with one passport each; returns the passport numbers."""
    rng = random.Random(seed)
    provider = crypto.provider
    version = provider.current_kek_version()
    numbers: list[str] = []
    now = utcnow()
    done = 0
    while done < count:
        size = min(batch, count - done)
        key_ids = reserve_ids(session, RecordKey.id, size)
        keys, people, names, tokens, docs, changes, history = [], [], [], [], [], [], []
        for offset in range(size):
            person_id, doc_id, key_id = uuid.uuid4(), uuid.uuid4(), key_ids[offset]
            material = os.urandom(32)
            key = DataKey.from_bytes(key_id, person_id, material)
            keys.append(
                {
                    "id": key_id,
                    "owner_id": person_id,
                    "owner_type": "individual",
                    "kek_version": version,
                    "wrapped": provider.wrap(
                        version, material, wrap_aad(person_id, key_id, version)
                    ),
                    "created_at": now,
                }
            )
            values = _person(rng, done + offset)
            level, score = _risk(rng)
            row: dict[str, Any] = {
                "id": person_id,
                "organisation_id": organisation_id,
                "created_by": created_by,
                "created_at": now,
                "updated_at": now - dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 365)),
                "risk_level": level,
                "risk_score": score,
            }
            for name, pad in FIELDS.items():
                value = values.get(name)
                if value is None and name not in ("aliases", "nationalities"):
                    row[f"{name}_ct"] = None
                    continue
                row[f"{name}_ct"] = crypto.seal(key, SLOTS[name], person_id, value or [], pad=pad)
            people.append(row)
            whole, words = name_index(crypto, values).rows(person_id)
            names += whole
            tokens += words
            number = f"N{rng.randrange(10**7, 10**8)}{done + offset:06d}"
            numbers.append(number)
            docs.append(
                {
                    "id": doc_id,
                    "individual_id": person_id,
                    "organisation_id": organisation_id,
                    "type": "passport",
                    "status": "valid",
                    "status_date": None,
                    "created_at": now,
                    "updated_at": now,
                    "expires_on": dt.date(2030, 1, 1),
                    "number_ct": crypto.seal(key, NUMBER, doc_id, number, pad=Pad.SHORT),
                    "number_index": crypto.blind_index(DOCUMENT_NUMBER, number),
                    "issuing_country_ct": crypto.seal(
                        key, ISSUING_COUNTRY, doc_id, "KHM", pad=Pad.CATEGORY
                    ),
                    "issued_on_ct": None,
                    "mrz_ct": None,
                    "status_source_ct": None,
                }
            )
            changes.append(
                {
                    "id": uuid.uuid4(),
                    "document_id": doc_id,
                    "status": "valid",
                    "status_date": None,
                    "changed_by": created_by,
                    "changed_at": now,
                }
            )
            history.append(
                {
                    "at": now,
                    "individual_id": person_id,
                    "actor_id": created_by,
                    "actor_label": "haven demo",
                    "kind": "individual.created",
                    "subject_type": "individual",
                    "subject_id": person_id,
                    "summary": "Person registered (synthetic demonstration data)",
                }
            )
        for table, rows in (
            (RecordKey, keys),
            (Individual, people),
            (IndividualNameIndex, names),
            (IndividualNameToken, tokens),
            (TravelDocument, docs),
            (DocumentStatusChange, changes),
            (HistoryEntry, history),
        ):
            core = table.__table__
            assert isinstance(core, Table)  # every model maps one table
            insert_rows(session, core, rows)  # no ORM per row; COPY on PostgreSQL
            note_written(session, core, len(rows))
        session.flush()
        done += size
        if advance:
            advance(size)
    return numbers
