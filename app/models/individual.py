"""People at risk: every identifying field is sealed with the person's own data key."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey, utcnow

_BIDX = {"blind_index": True}


class Individual(UUIDPrimaryKey, CreatedAt, Base):
    """A person at risk. Plaintext here is only what scope and workflow need."""

    __tablename__ = "individual"
    __table_args__ = (Index("ix_individual_organisation_id_id", "organisation_id", "id"),)

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"), index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Sealed fields (AAD: individual/<column>/<id>/<id>).
    full_name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    aliases_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    native_name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    date_of_birth_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    sex_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    nationalities_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    affiliation_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    affiliation_role_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    current_country_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    current_location_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    notes_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The organisation's own reference for the person (a spreadsheet's case number), set by an
    # import; found again through ``IndividualReferenceIndex``.
    external_reference_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Workflow state, kept plain for filtering, alerting and statistics.
    risk_level: Mapped[str | None] = mapped_column(String(16), index=True)
    risk_score: Mapped[int | None]
    check_in_every_hours: Mapped[int | None] = mapped_column(Integer)
    last_check_in_at: Mapped[dt.datetime | None]
    # Erasure leaves a tombstone: the id (for history) and who erased it, nothing else.
    erased_at: Mapped[dt.datetime | None]
    erased_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"))
    # A duplicate merged into another record: hidden from lists, its history kept and shown
    # on the surviving record.
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("individual.id"), index=True
    )
    merged_at: Mapped[dt.datetime | None]
    merged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"))


class IndividualNameIndex(Base):
    """Blind-index values of a person's names (full name, each alias, native name)."""

    __tablename__ = "individual_name_index"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    individual_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("individual.id"), index=True, info={"owner": True}
    )
    value: Mapped[int | None] = mapped_column(Integer, index=True, info=_BIDX)


class IndividualReferenceIndex(Base):
    """Blind-index value of a person's external reference (imports find people by it)."""

    __tablename__ = "individual_reference_index"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    individual_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("individual.id"), index=True, info={"owner": True}
    )
    value: Mapped[int | None] = mapped_column(Integer, index=True, info=_BIDX)


class IndividualNameToken(Base):
    """Blind-index values of each whole word of a person's names (``NAME_TOKEN``), padded with
    random values to the same number of rows for everyone."""

    __tablename__ = "individual_name_token"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    individual_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("individual.id"), index=True, info={"owner": True}
    )
    value: Mapped[int | None] = mapped_column(Integer, index=True, info=_BIDX)
