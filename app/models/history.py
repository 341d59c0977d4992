"""The case timeline: append-only entries, values sealed, summaries free of personal data."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class HistoryEntry(Base):
    """One change concerning a person (and so every case of that person).

    ``changes_ct`` holds the before/after values, sealed with the person's key: readers who
    may not see a field get the entry without its values, and erasure leaves only the fact.
    """

    __tablename__ = "history_entry"
    __table_args__ = (Index("ix_history_entry_individual_id_id", "individual_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    individual_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("individual.id"))
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("case.id"), index=True)
    actor_id: Mapped[uuid.UUID | None]
    actor_label: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(48))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID | None]
    summary: Mapped[str] = mapped_column(String(300))
    changes_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
