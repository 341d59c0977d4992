"""A user's own recent sign-ins, read from the audit trail: when, how, and from which client
(the audit trail's keyed tag of the address, never the address), so a user notices a sign-in
that was not theirs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.models.audit import AuditEntry

METHODS = {
    "auth.login": "password",
    "auth.passkey_login": "passkey",
    "auth.oidc_login": "single sign-on",
}
RECENT = 20


@dataclass(frozen=True)
class SignIn:
    at: dt.datetime
    method: str
    client: str | None


def recent(session: Session, actor: Actor, limit: int = RECENT) -> list[SignIn]:
    rows = session.execute(
        select(AuditEntry.at, AuditEntry.action, AuditEntry.client)
        .where(
            AuditEntry.actor_id == actor.id,
            AuditEntry.action.in_(METHODS),
            AuditEntry.outcome == "ok",
        )
        .order_by(AuditEntry.seq.desc())
        .limit(limit)
    )
    return [SignIn(at, METHODS[action], client) for at, action, client in rows]
