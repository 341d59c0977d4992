"""`haven demo`: the fictional demonstration data set (scenarios of MISSION.md, invented names)."""

from __future__ import annotations

from dataclasses import dataclass

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import organisations
from app.actor import Actor
from app.audit import service as audit
from app.auth.users import create_user
from app.config import Settings
from app.crypto import crypto_of
from app.db import transaction
from app.demo.scenarios import load_scenarios
from app.demo.synthetic import add_people
from app.models.user import User

DEMO_PASSWORD = "haven demo password"  # noqa: S105 - printed to the operator; demo data only
ROLES = ("supervisor", "caseworker", "lawyer", "analyst", "auditor", "admin")


@dataclass
class DemoAccounts:
    by_role: dict[str, Actor]


def ensure_accounts(session: Session) -> tuple[DemoAccounts, bool]:
    """One demo account per role in the default organisation; True when newly made."""
    org = organisations.default_organisation(session)
    accounts: dict[str, Actor] = {}
    new = False
    for role in ROLES:
        username = f"demo-{role}"
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            new = True
            user = create_user(
                session, username=username, role=role, password=DEMO_PASSWORD, organisation=org
            )
        accounts[role] = Actor(user.id, user.username, user.role, user.organisation_id)
    return DemoAccounts(accounts), new


def load(
    sessions: sessionmaker[Session], settings: Settings, *, people: int = 0, scenarios: bool = True
) -> None:
    with transaction(sessions) as session:
        accounts, new = ensure_accounts(session)
        if scenarios and not new:
            typer.echo("the demonstration scenarios are already loaded; not adding them twice")
        elif scenarios:
            loaded = load_scenarios(session, accounts, settings)
            typer.echo(f"loaded {loaded} scenarios of MISSION.md (dated relative to today)")
        audit.record(
            session,
            actor=accounts.by_role["supervisor"],
            action="demo.load",
            details={"scenarios": scenarios, "synthetic_people": people},
        )
    if people:
        supervisor = accounts.by_role["supervisor"]
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        ) as progress:
            task = progress.add_task("adding synthetic people", total=people)
            with transaction(sessions) as session:
                add_people(
                    session,
                    crypto_of(session),
                    count=people,
                    organisation_id=supervisor.organisation_id,
                    created_by=supervisor.id,
                    advance=lambda n: progress.advance(task, n),
                )
        typer.echo(f"added {people} synthetic people")
    typer.echo(
        "demo accounts: "
        + ", ".join(f"demo-{r}" for r in ROLES)
        + f" (password: {DEMO_PASSWORD!r})"
    )
    typer.echo(f"start the server with `haven serve`, then sign in at {settings.public_url}/login")
