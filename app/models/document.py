"""Travel documents and every change of their status."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey, utcnow


class TravelDocument(UUIDPrimaryKey, CreatedAt, Base):
    """A passport or other document, sealed with its holder's key."""

    __tablename__ = "travel_document"

    individual_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("individual.id"), index=True, info={"owner": True}
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    number_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    number_index: Mapped[int | None] = mapped_column(
        Integer, index=True, info={"blind_index": True}
    )
    issuing_country_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    issued_on_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    mrz_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Plain: the expiry rules run over them; a date alone identifies nobody.
    expires_on: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(String(16))
    status_date: Mapped[dt.date | None]
    status_source_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DocumentStatusChange(UUIDPrimaryKey, Base):
    """One status change of a document, never overwritten."""

    __tablename__ = "document_status_change"

    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("travel_document.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    status_date: Mapped[dt.date | None]
    source_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    changed_by: Mapped[uuid.UUID | None]
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revocation_list_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
