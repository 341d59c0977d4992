"""/cases/{id}/export: the lawyer's bundle as JSON, a signed PDF or an evidence bag (ZIP), as of
now or of a past moment, with its SHA-256 in a header; /export-keys: the signing keys (JWKS).

The PDF (also inside the evidence bag) is written in ``lang`` (en, km, th), by default the
caller's language (their profile's, else their organisation's, else English); the JSON bundle is
data and stays English whatever ``lang`` says."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from app import i18n
from app.actor import Actor
from app.auth import profile
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
    lang: Annotated[
        Literal["en", "km", "th"] | None,
        Query(
            description="The language of the PDF's headings, labels and sentences (the data "
            "stays as recorded); by default the caller's profile language, else English. The "
            "JSON bundle is always English."
        ),
    ] = None,
) -> Response:
    code = lang or (
        i18n.choose(profile.effective(session, actor.id)[1]) if actor.kind == "user" else None
    )
    with i18n.using(code or i18n.DEFAULT):
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
