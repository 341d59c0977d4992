"""`haven users reset-passkeys USERNAME`: the operator removes an account's passkeys at the
console (a lost security key), audited with no actor, as the other account commands are."""

from __future__ import annotations

from collections.abc import Callable

import typer
from sqlalchemy.orm import Session, sessionmaker

from app.auth import passkeys, users
from app.auth.cli import Username
from app.db import transaction


def register(group: typer.Typer, sessions: Callable[[], sessionmaker[Session]]) -> None:
    @group.command("reset-passkeys")
    def users_reset_passkeys(username: Username) -> None:
        """Remove every passkey of an account: its sessions end and its organisation's
        supervisors are alerted. It signs in with its password and adds a passkey again."""
        with transaction(sessions()) as session:
            removed = passkeys.reset(session, None, users.find_user(session, username))
        typer.echo(f"{removed} passkey(s) removed for {username}; its sessions have ended")
