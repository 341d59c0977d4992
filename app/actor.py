"""Who is acting: the one type every service takes as ``actor``.

It sits below every other module of Haven (it imports none of them), so audit, scope,
services, routes and the alert engine can all name it without an import circle.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    CASEWORKER = "caseworker"
    LAWYER = "lawyer"
    ANALYST = "analyst"
    AUDITOR = "auditor"
    SERVICE = "service"


@dataclass(frozen=True)
class Actor:
    """The authenticated caller: a signed-in user or an automated system's API key."""

    id: uuid.UUID
    username: str
    role: str
    organisation_id: uuid.UUID
    kind: str = "user"
    token_id: uuid.UUID | None = None
