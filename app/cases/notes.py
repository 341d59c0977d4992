"""Case notes: caseworkers' and supervisors' notes, lawyers' legal notes, sealed with the
person's key so erasing the person erases them."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.auth import roles
from app.auth.roles import Action
from app.cases.schemas import NoteView
from app.crypto import FieldSlot, Pad
from app.errors import Forbidden
from app.models.case import Case, CaseNote
from app.records import history
from app.records.cases import get_visible_case, open_sealed, seal_for
from app.records.sharing import notes_for_reader

BODY = FieldSlot("case_note", "body")


def note_kind(role: str) -> str:
    """Case workers write notes; a role that may only write legal notes (counsel) writes those."""
    return "note" if roles.allows(role, Action.NOTES_WRITE) else "legal"


def add_note(session: Session, actor: Actor, case_id: uuid.UUID, body: str) -> NoteView:
    # Never through a break-glass grant (read-only); through a referral, see below.
    case = get_visible_case(session, actor, case_id, "history", emergency=False)
    kind = note_kind(actor.role)
    if case.organisation_id != actor.organisation_id and kind != "legal":
        # Through a referral (with its history section) counsel adds legal notes; nobody
        # else of the receiving organisation writes to the case.
        raise Forbidden("only counsel may add notes to a referred case")
    note = CaseNote(
        id=uuid.uuid4(),
        case_id=case.id,
        author_id=actor.id,
        author_label=actor.username,
        kind=kind,
    )
    note.body_ct = seal_for(session, case, BODY, note.id, body, Pad.TEXT)
    session.add(note)
    session.flush()
    history.record(
        session,
        actor=actor,
        individual_id=case.individual_id,
        case_id=case.id,
        kind="case.legal_note_added" if kind == "legal" else "case.note_added",
        summary="Legal note added" if kind == "legal" else "Note added",
        subject_type="case_note",
        subject_id=note.id,
        changes={"body": body},
    )
    audit.record(
        session,
        actor=actor,
        action="case_note.create",
        subject_type="case",
        subject_id=case.id,
        details={"note_id": str(note.id), "kind": kind},
    )
    return present(session, case, note)


def present(session: Session, case: Case, note: CaseNote) -> NoteView:
    return {
        "id": note.id,
        "kind": note.kind,
        "body": open_sealed(session, BODY, note.id, case, note.body_ct, Pad.TEXT),
        "author": note.author_label,
        "author_id": note.author_id,
        "created_at": note.created_at,
    }


def list_notes(session: Session, actor: Actor, case_id: uuid.UUID) -> list[NoteView]:
    """Every note of the case, oldest first (through a referral: with its history section)."""
    case = get_visible_case(session, actor, case_id, "history")
    notes = session.scalars(
        select(CaseNote)
        .where(CaseNote.case_id == case.id)
        .order_by(CaseNote.created_at, CaseNote.id)
    )
    items = notes_for_reader(session, actor, [present(session, case, note) for note in notes])
    audit.record(
        session,
        actor=actor,
        action="case_note.read",
        subject_type="case",
        subject_id=case.id,
        details={"results": len(items)},
    )
    return items
