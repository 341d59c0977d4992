"""Moving in from a spreadsheet, for supervisors: upload, a preview of the first rows as mapped,
the dry run's report, then the import (``app.imports``).

The uploaded file is sealed at once (``app.imports.uploads``) and deleted, its key destroyed,
after the import or when discarded. Large files belong to ``haven import`` (a progress bar, no
request timeout); this page takes up to 10 MB.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import Response

from app.actor import Actor
from app.auth.roles import Action
from app.i18n import N_, _
from app.imports import incidents, service, uploads
from app.imports.mapping import INCIDENT_COLUMNS, PEOPLE_COLUMNS, Mapping, MappingError
from app.imports.preview import preview
from app.imports.reading import ReadError, read
from app.web.render import FormError, WebRoute, render, see_other
from app.web.session import SessionForm, signed_in, submit_form, text

router = APIRouter(route_class=WebRoute)
KINDS = (("people", N_("People (one row per person)")), ("incidents", N_("Incidents")))
# Supervisors (service.check_supervisor); the action only lets the role check run first.
ACTION = Action.REVOCATIONS_APPLY


def _mapping(text_: str, kind: str) -> Mapping:
    known = PEOPLE_COLUMNS if kind == "people" else INCIDENT_COLUMNS
    try:
        return Mapping.from_toml(text_, known) if text_.strip() else Mapping()
    except MappingError as exc:
        raise FormError({"mapping": str(exc)}) from None


def _upload_page(request: Request, actor: Actor, *, status: int = 200, **context: Any) -> Response:
    return render(
        request,
        "imports/upload.html",
        actor=actor,
        status=status,
        kinds=[(value, _(text_)) for value, text_ in KINDS],
        **context,
    )


@router.get("/supervisor/import")
def upload_page(request: Request) -> Response:
    with signed_in(request, ACTION) as (_, actor):
        service.check_supervisor(actor)
        return _upload_page(request, actor, values={"kind": "people"})


@router.post("/supervisor/import")
def upload(request: Request, form: SessionForm) -> Response:
    kind = text(form, "kind") or "people"
    mapping_text = form.get("mapping")
    mapping_text = mapping_text if isinstance(mapping_text, str) else ""
    values = {"kind": kind, "mapping": mapping_text}

    def save(session: Session, actor: Actor) -> Response:
        service.check_supervisor(actor)
        if kind not in dict(KINDS):
            raise FormError({"kind": _("Choose people or incidents.")})
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            raise FormError({"file": _("Choose a CSV or XLSX file.")})
        raw = file.file.read(uploads.MAX_BYTES + 1)
        if len(raw) > uploads.MAX_BYTES:
            raise FormError({"file": _("The file is larger than 10 MB; use `haven import`.")})
        mapping = _mapping(mapping_text, kind)
        try:
            sheet = read(raw, name=file.filename)
            preview(sheet, mapping, kind, limit=1)
        except ReadError as exc:
            reason = _("The file cannot be read: %(reason)s.") % {"reason": exc}
            raise FormError({"file": reason}) from None
        except MappingError as exc:
            raise FormError({"mapping": str(exc)}) from None
        upload_id = uploads.store(
            session, actor, kind=kind, name=file.filename, mapping=mapping_text, raw=raw
        )
        return see_other(f"/supervisor/import/{upload_id}")

    def again(_: Session, actor: Actor, exc: FormError) -> Response:
        return _upload_page(request, actor, status=422, values=values, **exc.shown())

    return submit_form(request, ACTION, save=save, again=again)


def _report_page(
    request: Request,
    session: Session,
    actor: Actor,
    upload_id: uuid.UUID,
    *,
    report: service.ImportReport | None = None,
    status: int = 200,
) -> Response:
    held = uploads.load(session, actor, upload_id)
    sheet = read(held.raw, name=held.name)
    shown = preview(sheet, _mapping(held.mapping, held.kind), held.kind)
    return render(
        request,
        "imports/preview.html",
        actor=actor,
        status=status,
        upload=held,
        preview=shown,
        report=report,
        statuses=service,
    )


@router.get("/supervisor/import/{upload_id}")
def preview_page(request: Request, upload_id: uuid.UUID) -> Response:
    with signed_in(request, ACTION) as (session, actor):
        service.check_supervisor(actor)
        return _report_page(request, session, actor, upload_id)


def _run(
    session: Session, actor: Actor, upload_id: uuid.UUID, *, dry_run: bool, skip_invalid: bool
) -> tuple[uploads.Upload, service.ImportReport]:
    held = uploads.load(session, actor, upload_id)
    run = service.import_people if held.kind == "people" else incidents.import_incidents
    report = run(
        session,
        actor,
        read(held.raw, name=held.name),
        _mapping(held.mapping, held.kind),
        dry_run=dry_run,
        skip_invalid=skip_invalid,
    )
    return held, report


@router.post("/supervisor/import/{upload_id}/check")
def check(request: Request, upload_id: uuid.UUID, form: SessionForm) -> Response:
    del form  # the CSRF check is the point
    with signed_in(request, ACTION) as (session, actor):
        service.check_supervisor(actor)
        _, report = _run(session, actor, upload_id, dry_run=True, skip_invalid=False)
        return _report_page(request, session, actor, upload_id, report=report)


@router.post("/supervisor/import/{upload_id}/run")
def run_import(request: Request, upload_id: uuid.UUID, form: SessionForm) -> Response:
    skip_invalid = text(form, "skip_invalid") == "yes"
    try:
        with signed_in(request, ACTION) as (session, actor):
            service.check_supervisor(actor)
            held, report = _run(session, actor, upload_id, dry_run=False, skip_invalid=skip_invalid)
            if report.written or not report.problems:
                uploads.discard(session, upload_id)  # imported: the file goes, and its key
                return render(request, "imports/done.html", actor=actor, report=report, upload=held)
    except service.ImportFailed as exc:
        report = exc.report  # rolled back: the upload stays for another try
    with signed_in(request, ACTION) as (session, actor):
        return _report_page(request, session, actor, upload_id, report=report, status=422)


@router.post("/supervisor/import/{upload_id}/discard")
def discard(request: Request, upload_id: uuid.UUID, form: SessionForm) -> Response:
    del form
    with signed_in(request, ACTION) as (session, actor):
        service.check_supervisor(actor)
        uploads.load(session, actor, upload_id)  # 404 unless it is this supervisor's
        uploads.discard(session, upload_id)
    return see_other("/supervisor/import")
