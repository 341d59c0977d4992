"""Organisations: every user, case and person belongs to one."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey

DEFAULT_ORGANISATION = "Default organisation"


class Organisation(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "organisation"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    is_default: Mapped[bool] = mapped_column(default=False)
    # Defaults for its staff who have not chosen their own (IANA zone, locale); None: UTC, English.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))
