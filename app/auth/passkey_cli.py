"""`haven users reset-passkeys USERNAME` (the operator removes an account's passkeys: a lost
security key) and `haven users link-sso USERNAME SUBJECT` (the account signs in through the
identity provider as that subject), audited with no actor, as the other account commands are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from app.auth import oidc, passkeys, users
from app.auth.cli import Username
from app.db import transaction
from app.errors import BadRequest


def register(group: typer.Typer, sessions: Callable[[], sessionmaker[Session]]) -> None:
    @group.command("reset-passkeys")
    def users_reset_passkeys(username: Username) -> None:
        """Remove every passkey of an account: its sessions end and its organisation's
        supervisors are alerted. It signs in with its password and adds a passkey again."""
        with transaction(sessions()) as session:
            removed = passkeys.reset(session, None, users.find_user(session, username))
        typer.echo(f"{removed} passkey(s) removed for {username}; its sessions have ended")

    @group.command("link-sso")
    def users_link_sso(
        username: Username,
        subject: Annotated[str, typer.Argument(help="The provider's subject (sub) of the user.")],
    ) -> None:
        """Link an account to its identity at HAVEN_OIDC_ISSUER: single sign-on as that subject
        signs in to this account (a link it had before is replaced)."""
        with transaction(sessions()) as session:
            provider = oidc.configured(session.info.get("settings"))
            if provider is None:
                raise BadRequest("single sign-on is not set up (HAVEN_OIDC_ISSUER, _CLIENT_ID)")
            user = users.find_user(session, username)
            oidc.link(session, None, user.id, provider.issuer, subject.strip())
        typer.echo(f"{username} now signs in through {provider.issuer} as {subject.strip()}")
