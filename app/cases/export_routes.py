"""/cases/{id}/export: the lawyer's bundle as JSON, a signed PDF or an evidence bag (ZIP), as of
now or of a past moment, with its SHA-256 in a header; /export-keys: the signing keys (JWKS)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.cases import export, signing
from app.config import SettingsDep
from app.db import SessionDep, writes

router = APIRouter(tags=["cases"])


@router.get(
    "/cases/{case_id}/export",
    response_class=Response,
    responses={
        200: {
            "description": "The bundle; its SHA-256 (hex) is in header X-Content-SHA256, and a "
            "JSON bundle's detached JWS (RFC 7797, EdDSA) in header X-JWS-Signature.",
            "content": {"application/json": {}, "application/pdf": {}, "application/zip": {}},
        }
    },
)
@writes
def export_case(
    case_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.EXPORT)],
    session: SessionDep,
    fmt: Annotated[export.Format, Query(alias="format")] = "json",
    as_of: Annotated[
        dt.datetime | None,
        Query(description="The moment the record shows (ISO 8601; UTC when no offset)."),
    ] = None,
) -> Response:
    result = export.export_case(session, actor, case_id, fmt, as_of)
    headers = {
        "X-Content-SHA256": result.sha256,
        "Content-Disposition": f'attachment; filename="{result.filename}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if result.signature is not None:
        headers["X-JWS-Signature"] = result.signature
    return Response(content=result.body, media_type=result.media_type, headers=headers)


@router.get("/export-keys", tags=["cases"])
def export_keys(
    _actor: Annotated[Actor, require(Action.WHOAMI)], settings: SettingsDep
) -> dict[str, Any]:
    """The public keys exports are signed with, current and retired, as a JWK Set (RFC 7517),
    each with its certificate chain (x5c): what `haven verify-export --jwks` checks against."""
    return signing.jwks(signing.published(settings.data_dir))
