"""Verification of the whole audit chain."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.config import Settings
from app.crypto import Crypto


@dataclass
class Verification:
    ok: bool
    entries: int
    head: str | None = None
    first_bad: int | None = None
    reason: str | None = None

    def summary(self) -> str:
        if not self.ok:
            return f"audit chain BROKEN at entry {self.first_bad}: {self.reason}"
        if self.entries == 0:
            return "audit chain: no entries"
        return f"audit chain intact: {self.entries} entries, head {self.head}"


def verify_all(session: Session, settings: Settings, crypto: Crypto) -> Verification:
    # The chain itself arrives with the identity and audit work; an empty one is intact.
    return Verification(ok=True, entries=0)
