"""Cases: the list (a lawyer's "my cases"), a case's page with its whole timeline, notes,
attachments and assignments, and the forms that add to them.

Exports and attachment downloads are links to the API itself (GET, with the session cookie;
see ``app.web.cookies.ApiCookieBridge``): one implementation of each, with its audit and its
hash header.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, Request
from python_multipart.multipart import parse_options_header
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.actor import Actor
from app.auth import roles
from app.auth.roles import Action
from app.auth.scope import SECTIONS
from app.cases import assignments, attachments, notes, schemas, timeline
from app.cases import service as cases
from app.cases.attachment_routes import _body, _events, _filename, _part_data
from app.errors import Unprocessable
from app.i18n import _
from app.individuals import service as individuals
from app.limits import megabytes
from app.records.sharing import sections_for_case
from app.referrals import service as referrals
from app.web import cookies
from app.web import referrals as web_referrals
from app.web.render import CsrfRefused, FormError, WebRoute, render, see_other
from app.web.session import SessionForm, signed_in, submit_form, text, values_of

router = APIRouter(route_class=WebRoute)
LIST_LIMIT = 100


@router.get("/cases")
def case_list(request: Request) -> Response:
    with signed_in(request, Action.CASES_READ) as (session, actor):
        items, _ = cases.list_cases(session, actor, limit=LIST_LIMIT)
        return render(request, "cases/list.html", actor=actor, cases=items, limit=LIST_LIMIT)


@router.post("/cases")
def open_case(request: Request, form: SessionForm) -> Response:
    values = values_of(form, ("individual_id", "title", "priority"))
    with signed_in(request, Action.CASES_WRITE) as (session, actor):
        data = {k: v for k, v in values.items() if v}
        body = schemas.CaseCreate.model_validate(data)
        case = cases.open_case(session, actor, body.model_dump())
    return see_other(f"/cases/{case['id']}", done="case")


def case_context(
    session: Session, actor: Actor, case_id: uuid.UUID, as_of: dt.datetime | None = None
) -> dict[str, Any]:
    """Everything the case's page shows, each part read through its own service.

    A case of another organisation, seen through a referral, shows the referral's banner and
    the referred sections only: notes and history with ``history``, never its attachments,
    export or referrals."""
    case, row = cases.read_case_record(session, actor, case_id)
    case.setdefault("title", None)
    person = web_referrals.with_defaults(individuals.read(session, actor, case["individual_id"]))
    own = row.organisation_id == actor.organisation_id
    shown = set(SECTIONS) if own else set(sections_for_case(session, actor, row) or ())
    may_assign = roles.allows(actor.role, Action.CASES_ASSIGN) and assignments.may_assign(
        session, actor, row
    )
    context: dict[str, Any] = {
        "case": case,
        "person": person,
        "entries": [],
        "notes": notes.list_notes(session, actor, case_id) if "history" in shown else [],
        "attachments": attachments.list_attachments(session, actor, row) if own else [],
        "candidates": [],
        "may_assign": may_assign,
        "own": own,
        "sections_shown": shown,
        "referral": None if own else referrals.referral_for_case(session, actor, case_id),
        "referrals": [],
        "may_refer": False,
        "section_labels": web_referrals.SECTION_LABELS,
    }
    if own:
        refer = web_referrals.may_refer(actor, row, may_assign)
        context.update(web_referrals.case_context(session, actor, row, may_refer=refer))
    if roles.allows(actor.role, Action.HISTORY_READ) and "history" in shown:
        context["entries"] = timeline.case_history(session, actor, case_id, as_of=as_of)
    context["as_of"] = as_of
    if may_assign:
        context["candidates"] = assignments.candidates(session, actor, row)
    return context


def _case_page(
    request: Request, session: Session, actor: Actor, case_id: uuid.UUID, **extra: Any
) -> Response:
    status = extra.pop("status", 200)
    context = case_context(session, actor, case_id, extra.pop("as_of", None))
    limit = request.app.state.settings.max_attachment_bytes  # shown beside the file field
    return render(
        request,
        "cases/case.html",
        actor=actor,
        status=status,
        max_upload=limit,
        max_upload_text=megabytes(limit),
        **context,
        **extra,
    )


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: uuid.UUID, as_of: str | None = None) -> Response:
    """The case; with ``as_of`` (the history's picker), its history as it stood then."""
    moment = _moment(as_of)
    with signed_in(request, Action.CASES_READ) as (session, actor):
        return _case_page(request, session, actor, case_id, as_of=moment)


def _moment(text: str | None) -> dt.datetime | None:
    """The picker's date and time (UTC when it names no offset); empty is none."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text[:64])
    except ValueError:
        raise Unprocessable(_("as_of: give a date and time such as 2026-12-01T09:30")) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


# A form on the case's page shown again: the whole page, as one who may read the case.
AGAIN_AS = (Action.CASES_READ,)


def _failed_page(
    request: Request,
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    exc: FormError,
    **extra: Any,
) -> Response:
    return _case_page(
        request,
        session,
        actor,
        case_id,
        status=extra.pop("status", 422),
        **exc.shown(_("Check the field marked below.")),
        **extra,
    )


@router.post("/cases/{case_id}/notes")
def add_note(request: Request, case_id: uuid.UUID, form: SessionForm) -> Response:
    body = text(form, "body")

    def save(session: Session, actor: Actor) -> Response:
        note = schemas.NoteCreate.model_validate({"body": body})
        notes.add_note(session, actor, case_id, note.body)
        return see_other(f"/cases/{case_id}#notes", done="note")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _failed_page(request, session, actor, case_id, exc, values={"body": body})

    return submit_form(
        request,
        Action.NOTES_WRITE,
        Action.LEGAL_NOTES_WRITE,
        save=save,
        again=again,
        again_as=AGAIN_AS,
    )


@router.post("/cases/{case_id}/assignments")
def assign(request: Request, case_id: uuid.UUID, form: SessionForm) -> Response:
    values = values_of(form, ("user_id",))

    def save(session: Session, actor: Actor) -> Response:
        user_id, _, role = values["user_id"].partition(":")
        body = schemas.AssignmentCreate.model_validate({"user_id": user_id, "role": role})
        assignments.assign(session, actor, case_id, body.user_id, body.role.value)
        return see_other(f"/cases/{case_id}#assignments", done="assigned")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        errors = {"user_id": next(iter(exc.errors.values()), exc.message or _("Choose a person."))}
        return _failed_page(request, session, actor, case_id, FormError(errors), values=values)

    return submit_form(request, Action.CASES_ASSIGN, save=save, again=again, again_as=AGAIN_AS)


@router.post("/cases/{case_id}/assignments/{user_id}/remove")
def unassign(
    request: Request, case_id: uuid.UUID, user_id: uuid.UUID, form: SessionForm
) -> Response:
    with signed_in(request, Action.CASES_ASSIGN) as (session, actor):
        assignments.unassign(session, actor, case_id, user_id)
    return see_other(f"/cases/{case_id}#assignments", done="unassigned")


@router.post("/cases/{case_id}/referrals")
def refer(request: Request, case_id: uuid.UUID, form: SessionForm) -> Response:
    values = web_referrals.referral_values(form)

    def save(session: Session, actor: Actor) -> Response:
        body = web_referrals.referral_body(values)
        referrals.create(session, actor, case_id, body)
        return see_other(f"/cases/{case_id}#referrals", done="referred")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _failed_page(request, session, actor, case_id, exc, values=values, status=exc.status)

    return submit_form(request, Action.REFERRALS_WRITE, save=save, again=again, again_as=AGAIN_AS)


# Attachments ----------------------------------------------------------------------------------
class _Upload:
    """The form's parts as they stream in: the CSRF token first (it precedes the file in the
    form) is checked before anything else; then the file goes straight into the encrypting
    writer, as the API's upload does (never spooled to disk in the clear)."""

    def __init__(self, request: Request) -> None:
        _, params = parse_options_header(request.headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if not boundary:
            raise CsrfRefused()
        self.events = _events(_body(request), boundary)
        for kind, value in self.events:
            if kind == "headers":
                self.disposition = value.get(b"content-disposition", b"")
                _, self.options = parse_options_header(self.disposition)
                break
        else:
            raise CsrfRefused()
        if self.options.get(b"name") != b"csrf_token":
            raise CsrfRefused()
        presented = b"".join(_part_data(self.events)).decode("latin-1")
        secret, session = request.app.state.web_secret, cookies.session_token(request)
        if not cookies.csrf_matches(secret, "session", session, presented):
            raise CsrfRefused()

    def file(self) -> attachments.Upload:
        for kind, value in self.events:
            if kind != "headers":
                continue
            disposition = value.get(b"content-disposition", b"")
            _value, options = parse_options_header(disposition)
            if options.get(b"name") == b"file":
                filename = _filename(disposition, options)
                if not filename:
                    break
                return attachments.Upload(filename, _part_data(self.events))
        raise FormError({"file": _("Choose a file to attach.")})


@router.post("/cases/{case_id}/attachments")
def upload(request: Request, case_id: uuid.UUID) -> Response:
    parts = _Upload(request)

    def save(session: Session, actor: Actor) -> Response:
        # The case is found in scope before the file is read, as by the API.
        attachments.upload(session, actor, case_id, parts.file)
        return see_other(f"/cases/{case_id}#attachments", done="attachment")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _failed_page(request, session, actor, case_id, exc)

    return submit_form(request, Action.ATTACHMENTS_WRITE, save=save, again=again, again_as=AGAIN_AS)
