"""The engine loop run inside `haven serve` or alone by `haven worker`.

Each tick evaluates the time-based rules and delivers what the outbox holds. The rules and the
delivery channels arrive with the alerts; until then a tick has nothing to do.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings


class Engine:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
