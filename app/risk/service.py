"""Risk reassessment (being built)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.orm import Session


def reassess(session: Session, individual_id: uuid.UUID, *, trigger: str, actor: Any = None) -> Any:
    """Recompute and store the person's risk; raise risk_escalated when it rises."""
    return None


def sweep(session: Session, now: dt.datetime, *, limit: int = 500) -> int:
    """Reassess people whose last assessment is older than a day (time decay)."""
    return 0
