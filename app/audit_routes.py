"""/audit and /audit/verify: the audit trail for auditors (routes over app.audit.service)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from app.actor import Actor
from app.audit import service as audit
from app.auth.deps import require
from app.auth.roles import Action
from app.db import SessionDep
from app.validation import NO_CONTROL_PATTERN

router = APIRouter(tags=["audit"])


class AuditEntryRead(BaseModel):
    seq: int
    at: dt.datetime
    actor_id: uuid.UUID | None
    actor: str | None
    actor_role: str | None
    action: str
    subject_type: str | None
    subject_id: uuid.UUID | None
    outcome: str
    request_id: str | None
    details: dict[str, Any] | None
    entry_hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    next_cursor: int | None = None


class VerifyRead(BaseModel):
    ok: bool
    entries: int
    head: str | None
    first_bad: int | None = None
    reason: str | None = None
    witness: str | None = None


@router.get("/audit", response_model=AuditPage)
def list_audit(
    actor: Annotated[Actor, require(Action.AUDIT_READ)],
    session: SessionDep,
    actor_id: Annotated[uuid.UUID | None, Query(alias="actor")] = None,
    subject: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=64, pattern=NO_CONTROL_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,  # a 64-bit sequence
) -> AuditPage:
    page, next_cursor = audit.read_entries(
        session,
        actor,
        actor_id=actor_id,
        subject=subject,
        action=action,
        limit=limit,
        cursor=cursor,
    )
    return AuditPage(
        items=[
            AuditEntryRead(
                seq=r.seq,
                at=r.at,
                actor_id=r.actor_id,
                actor=r.actor_label,
                actor_role=r.actor_role,
                action=r.action,
                subject_type=r.subject_type,
                subject_id=r.subject_id,
                outcome=r.outcome,
                request_id=r.request_id,
                details=json.loads(r.details) if r.details else None,
                entry_hash=r.entry_hash.hex(),
            )
            for r in page
        ],
        next_cursor=next_cursor,
    )


@router.get("/audit/verify", response_model=VerifyRead)
def verify_audit(
    request: Request, actor: Annotated[Actor, require(Action.AUDIT_READ)], session: SessionDep
) -> dict[str, Any]:
    state = request.app.state
    settings = state.settings
    result = audit.verify_trail(
        session, actor, state.crypto.provider, settings.data_dir, settings.audit_witness
    )
    return result.as_json()
