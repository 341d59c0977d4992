"""`haven demo`: the fictional demonstration data set."""

from __future__ import annotations

import typer
from sqlalchemy.orm import Session, sessionmaker


def load(sessions: sessionmaker[Session], *, people: int = 0) -> None:
    # The scenarios of MISSION.md need the case record; until it lands there is nothing to load.
    typer.echo("haven demo: the demonstration data set is not available in this version yet")
