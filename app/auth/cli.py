"""`haven users list|disable|enable|unlock|reset-password|reset-mfa`: an operator's care of
staff accounts at the console (argument parsing only; the work is app.auth.users').

Accounts are named by username. The operator acts as no user: each change is audited with no
actor, as `haven users create` is. Errors are ``HavenError``s, printed by ``app.cli.main`` as
one line.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.audit import service as audit
from app.auth import users
from app.db import transaction
from app.errors import BadRequest
from app.models.organisation import Organisation
from app.models.user import User

Sessions = Callable[[], sessionmaker[Session]]
Username = Annotated[str, typer.Argument(help="The account's sign-in name.")]


def when(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def state(user: User, locked: dt.datetime | None) -> str:
    if user.disabled:
        return "disabled"
    if locked is not None:
        return f"locked until {when(locked)}"
    return "active"


def register(group: typer.Typer, sessions: Sessions) -> None:
    """Add the account commands to ``group`` (`haven users`); ``sessions`` opens the
    configured database (called only when a command runs)."""

    @group.command("list")
    def users_list() -> None:
        """Every account: role, organisation, state (disabled, locked until when), two-factor."""
        with transaction(sessions()) as session:
            rows = list(session.scalars(select(User).order_by(User.username)))
            orgs = dict(session.execute(select(Organisation.id, Organisation.name)).tuples().all())
            locked = users.lockouts(session, rows)
            table = [
                (
                    u.username,
                    u.role,
                    orgs.get(u.organisation_id, "?"),
                    state(u, locked.get(u.id)),
                    "on" if u.totp_enabled else "off",
                    when(u.last_login_at) if u.last_login_at else "never",
                    str(u.id),
                )
                for u in rows
            ]
            audit.record(session, actor=None, action="user.list", details={"count": len(rows)})
        header = ("USERNAME", "ROLE", "ORGANISATION", "STATE", "2FA", "LAST SIGN-IN", "ID")
        widths = [max(len(r[i]) for r in (header, *table)) for i in range(len(header))]
        for row in (header, *table):
            typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())

    @group.command("disable")
    def users_disable(username: Username) -> None:
        """Disable an account: it cannot sign in, and its sessions end at once."""
        with transaction(sessions()) as session:
            users.disable_user(session, None, users.find_user(session, username).id)
        typer.echo(f"disabled {username}; its sessions have ended")

    @group.command("enable")
    def users_enable(username: Username) -> None:
        """Enable a disabled account again."""
        with transaction(sessions()) as session:
            users.enable_user(session, None, users.find_user(session, username).id)
        typer.echo(f"enabled {username}")

    @group.command("unlock")
    def users_unlock(username: Username) -> None:
        """End a sign-in lockout (too many wrong passwords) now instead of at its end."""
        with transaction(sessions()) as session:
            user = users.find_user(session, username)
            until = users.locked_until(session, user)
            was_locked = users.unlock(session, None, user.id)
        if was_locked and until is not None:
            typer.echo(f"unlocked {username} (the lockout would have ended at {when(until)})")
        else:
            typer.echo(f"{username} was not locked; its count of failed sign-ins is reset")

    @group.command("reset-password")
    def users_reset_password(
        username: Username,
        password_stdin: Annotated[
            bool,
            typer.Option("--password-stdin", help="Read the new password from standard input."),
        ] = False,
    ) -> None:
        """Set a new password (read from standard input): the account's sessions end and a
        lockout is lifted. Give it to its holder by a channel other than the one it protects."""
        if not password_stdin:
            raise BadRequest("give the new password on standard input with --password-stdin")
        password = sys.stdin.readline().rstrip("\r\n")
        with transaction(sessions()) as session:
            users.reset_password(session, None, users.find_user(session, username).id, password)
        typer.echo(f"new password set for {username}; its sessions have ended")

    @group.command("reset-mfa")
    def users_reset_mfa(username: Username) -> None:
        """Turn an account's two-factor sign-in off (a lost phone): its sessions end and its
        organisation's supervisors are alerted. It sets two-factor up again when it signs in."""
        with transaction(sessions()) as session:
            users.reset_mfa(session, None, users.find_user(session, username).id)
        typer.echo(f"two-factor sign-in is off for {username}; its sessions have ended")
