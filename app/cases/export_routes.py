"""/cases/{id}/export: the lawyer's bundle as JSON or PDF, with its SHA-256 in a header."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.cases import export
from app.db import SessionDep, writes

router = APIRouter(tags=["cases"])


@router.get(
    "/cases/{case_id}/export",
    response_class=Response,
    responses={
        200: {
            "description": "The bundle; its SHA-256 (hex) is in header X-Content-SHA256.",
            "content": {"application/json": {}, "application/pdf": {}},
        }
    },
)
@writes
def export_case(
    case_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.EXPORT)],
    session: SessionDep,
    fmt: Annotated[export.Format, Query(alias="format")] = "json",
) -> Response:
    result = export.export_case(session, actor, case_id, fmt)
    return Response(
        content=result.body,
        media_type=result.media_type,
        headers={
            "X-Content-SHA256": result.sha256,
            "Content-Disposition": f'attachment; filename="{result.filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
