"""KEK rotation: a new version becomes current and every data key is re-wrapped under it.

Each row records the KEK version that wraps it, so a rotation killed midway resumes where it
stopped: ``rotate`` first finishes any rows still under an older version, and only starts a new
version when none are left. Batches commit one by one; the service stays up throughout, since
every version stays in the keyring until an operator retires it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.crypto.keyring import KeyProvider, wrap_aad
from app.models.base import utcnow
from app.models.keys import KeyEncryptionKey, RecordKey

# PostgreSQL: one statement per batch. An executemany is one UPDATE per row there, and most of
# a rotation's time; here the batch travels as three arrays in binary format (``%b``: text
# arrays of bytea cost ~15 µs a key to escape), with the same guard on every row. The id range
# lets the planner read only the batch's rows by primary key instead of the whole table.
_PG_REWRAP = """
UPDATE record_key SET wrapped = batch.wrapped, kek_version = %(version)s
FROM unnest(%(ids)b::bigint[], %(olds)b::integer[], %(wrapped)b::bytea[])
    AS batch(id, old, wrapped)
WHERE record_key.id = batch.id
  AND record_key.kek_version = batch.old
  AND record_key.wrapped IS NOT NULL
  AND record_key.id BETWEEN %(first)s AND %(last)s
"""


@dataclass
class RotationReport:
    version: int
    resumed: bool
    rewrapped: int
    total: int


def _outdated(version: int) -> ColumnElement[bool]:
    return (RecordKey.kek_version != version) & RecordKey.wrapped.is_not(None)


def pending(session: Session, version: int) -> int:
    return (
        session.scalar(select(func.count()).select_from(RecordKey).where(_outdated(version))) or 0
    )


def rotate(
    factory: sessionmaker[Session],
    provider: KeyProvider,
    *,
    batch_size: int = 5000,
    start: Callable[[int, int, bool], None] | None = None,
    advance: Callable[[int], None] | None = None,
    new_version: bool = True,
) -> RotationReport:
    """Rotate (or resume a rotation). ``start(version, total, resumed)`` and ``advance(n)``
    report progress."""
    version = provider.current_kek_version()
    with factory.begin() as session:
        remaining = pending(session, version)
    resumed = remaining > 0
    if not resumed and new_version:
        version = provider.add_kek_version()
        with factory.begin() as session:
            remaining = pending(session, version)
    with factory.begin() as session:
        if session.get(KeyEncryptionKey, version) is None:
            session.add(KeyEncryptionKey(version=version))
    if start:
        start(version, remaining, resumed)

    statement = (
        update(RecordKey)
        .where(
            RecordKey.id == bindparam("b_id"),
            RecordKey.kek_version == bindparam("b_old"),
            # An erasure between our read and this write must win: never resurrect a key.
            RecordKey.wrapped.is_not(None),
        )
        .values(wrapped=bindparam("b_wrapped"), kek_version=version)
    )
    done, last_id = 0, -1
    while True:
        with factory.begin() as session:
            rows = session.execute(
                select(RecordKey.id, RecordKey.owner_id, RecordKey.kek_version, RecordKey.wrapped)
                .where(_outdated(version), RecordKey.id > last_id)
                .order_by(RecordKey.id)
                .limit(batch_size)
            ).all()
            if not rows:
                break
            params = []
            for key_id, owner_id, old, wrapped in rows:
                assert wrapped is not None  # _outdated leaves erased keys out
                material = provider.unwrap(old, wrapped, wrap_aad(owner_id, key_id, old))
                params.append(
                    {
                        "b_id": key_id,
                        "b_old": old,
                        "b_wrapped": provider.wrap(
                            version, material, wrap_aad(owner_id, key_id, version)
                        ),
                    }
                )
            connection = session.connection()
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(
                    _PG_REWRAP,
                    {
                        "version": version,
                        "ids": [p["b_id"] for p in params],
                        "olds": [p["b_old"] for p in params],
                        "wrapped": [p["b_wrapped"] for p in params],
                        "first": rows[0].id,
                        "last": rows[-1].id,
                    },
                )
            else:
                connection.execute(statement, params)
            last_id = rows[-1].id
        done += len(rows)
        if advance:
            advance(len(rows))
    with factory.begin() as session:
        if pending(session, version) == 0:
            kek = session.get(KeyEncryptionKey, version)
            if kek is not None:
                kek.rotation_completed_at = utcnow()
    return RotationReport(version=version, resumed=resumed, rewrapped=done, total=remaining)
