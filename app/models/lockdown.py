"""The deployment's lock-down state: one row every process reads (app.lockdown)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class DeploymentLock(Base):
    """Row 1: whether Haven is locked down. ``generation`` rises with every lock and unlock,
    so a process knows it has missed one even between two of its checks."""

    __tablename__ = "deployment_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    generation: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    changed_at: Mapped[dt.datetime | None]
