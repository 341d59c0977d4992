"""POST /api/v1/lock: a supervisor or administrator locks Haven down, with their password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app import lockdown
from app.actor import Actor
from app.auth import passwords
from app.auth.deps import require
from app.auth.roles import Action
from app.db import SessionDep

router = APIRouter(tags=["operations"])


class LockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=passwords.MAX_PASSWORD)
    destroy_local_keyring: bool = False


class LockRead(BaseModel):
    locked: bool
    generation: int
    sessions_revoked: int
    api_keys_revoked: int
    keyring_destroyed: bool


@router.post("/lock", response_model=LockRead)
def lock(
    body: LockRequest,
    request: Request,
    actor: Annotated[Actor, require(Action.LOCKDOWN)],
    session: SessionDep,
) -> LockRead:
    """Lock Haven down (a raid): every process stops serving record data within 2 seconds,
    every session and API key is revoked, supervisors are alerted. With
    ``destroy_local_keyring`` the keyring file is overwritten and deleted too: only
    ``haven unlock`` with the keyring back (from escrow) restores service."""
    report = lockdown.lock_confirmed(
        session, actor, body.password, destroy_keyring=body.destroy_local_keyring
    )
    state = request.app.state

    def after_commit(_session: Session) -> None:
        if body.destroy_local_keyring:
            lockdown.destroy_file(state.settings.key_file)
        state.lockdown.observe(True, report.generation)

    session.info.setdefault("after_commit", []).append(after_commit)
    return LockRead(
        locked=True,
        generation=report.generation,
        sessions_revoked=report.sessions_revoked,
        api_keys_revoked=report.api_keys_revoked,
        keyring_destroyed=body.destroy_local_keyring,
    )
