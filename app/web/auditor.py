"""Auditors' page: the audit trail (app.audit.service.read_entries, the entries of the
auditor's organisation unless a deployment-wide grant) with filters, and a button that checks
the whole chain (verify_trail, as GET /audit/verify)."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.audit import service as audit
from app.auth.roles import Action
from app.i18n import _
from app.web.render import WebRoute, render, uuid_or_none
from app.web.session import SessionForm, signed_in

router = APIRouter(route_class=WebRoute)
PAGE = 50
ACTION = re.compile(r"^[a-z_.]{1,64}$")


def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    action = (q.get("action") or "").strip()
    cursor = q.get("after") or ""
    return {
        "actor": uuid_or_none(q.get("actor")) if q.get("actor") else None,
        "subject": uuid_or_none(q.get("subject")) if q.get("subject") else None,
        "action": action if ACTION.match(action) else None,
        "cursor": int(cursor) if cursor.isdigit() and len(cursor) < 19 else None,
    }


def _trail(request: Request, *, verification: Any = None, status: int = 200) -> Response:
    with signed_in(request, Action.AUDIT_READ) as (session, actor):
        chosen = _filters(request)
        entries, next_cursor = audit.read_entries(
            session,
            actor,
            actor_id=chosen["actor"],
            subject=chosen["subject"],
            action=chosen["action"],
            limit=PAGE,
            cursor=chosen["cursor"],
        )
        rows = [
            {
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor_label or (_("the console") if e.actor_id is None else ""),
                "actor_id": e.actor_id,
                "role": e.actor_role,
                "action": e.action,
                "subject_type": e.subject_type,
                "subject_id": e.subject_id,
                "outcome": e.outcome,
                "details": json.loads(e.details) if e.details else None,
            }
            for e in entries
        ]
        values = {k: str(v) for k, v in chosen.items() if v is not None and k != "cursor"}
        query = "&".join(f"{k}={v}" for k, v in values.items())
        return render(
            request,
            "auditor/trail.html",
            actor=actor,
            status=status,
            entries=rows,
            values=values,
            next_link=f"/audit?{query + '&' if query else ''}after={next_cursor}"
            if next_cursor is not None
            else None,
            verification=verification,
        )


@router.get("/audit")
def trail(request: Request) -> Response:
    return _trail(request)


@router.post("/audit/verify")
def verify(request: Request, form: SessionForm) -> Response:
    state = request.app.state
    settings = state.settings
    with signed_in(request, Action.AUDIT_READ) as (session, actor):
        result = audit.verify_trail(
            session, actor, state.crypto.provider, settings.data_dir, settings.audit_witness
        )
        verification = {"ok": result.ok, "summary": result.summary(), **result.as_json()}
    return _trail(request, verification=verification)
