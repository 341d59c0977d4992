"""The lawyer's bundle: everything about a case and its person, as JSON or PDF, with its hash.

The bundle is what the caller may see, opened for them: the case, the person (restricted fields
withheld as in the API), travel documents with their status histories, the UNHCR status
history, incidents, notes, attachment metadata and the case's timeline. The export itself is
audited (with the SHA-256 of the exact bytes handed out) and recorded on the timeline.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import __version__
from app.actor import Actor
from app.audit import service as audit
from app.auth.scope import SECTIONS, visible_individuals
from app.cases import attachments, notes, timeline
from app.cases import service as cases
from app.cases.export_pdf import render_pdf
from app.cases.schemas import NoteView
from app.documents import service as documents
from app.documents.schemas import DocumentView
from app.incidents import service as incidents
from app.incidents.schemas import IncidentView
from app.individuals import service as individuals
from app.models.base import utcnow
from app.models.case import Case, CaseNote
from app.models.document import TravelDocument
from app.models.incident import Incident, IncidentSubject
from app.records import cases as case_records
from app.records import history, people
from app.records.sharing import (
    notes_for_reader,
    ordered,
    sections_for_case,
    staff_labels,
    withheld_person_fields,
)
from app.unhcr import service as unhcr

FORMAT = "haven.case-export"
FORMAT_VERSION = 1
Format = Literal["json", "pdf"]
MEDIA_TYPES: dict[str, str] = {"json": "application/json", "pdf": "application/pdf"}


@dataclass(frozen=True)
class Export:
    body: bytes
    media_type: str
    filename: str
    sha256: str


def build_bundle(session: Session, actor: Actor, case: Case) -> dict[str, Any]:
    """The bundle as plain data (ids, dates and enums still typed).

    Exported through a referral, the bundle holds the referred sections only: the parts
    outside them (and attachments, never referred) are left out, not emptied."""
    person = people.get_visible(session, actor, case.individual_id)
    sections = sections_for_case(session, actor, case)
    shown = set(SECTIONS) if sections is None else sections
    # How the exporter reached the case says nothing about it.
    case_data = {k: v for k, v in cases.present(session, actor, case).items() if k != "access"}
    hidden = people.hidden_fields(session, actor, person)
    bundle: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "haven_version": __version__,
        "generated_at": utcnow(),
        "generated_by": {"id": actor.id, "username": actor.username, "role": actor.role},
        "case": case_data,
        "person": individuals.present(session, actor, person),
        "withheld_fields": sorted(hidden | withheld_person_fields(sections)),
    }
    if sections is not None:
        bundle["referred_sections"] = ordered(sections)
    if "documents" in shown:
        bundle["documents"] = _documents(session, actor, person.id)
    if "unhcr_status" in shown:
        bundle["unhcr_status_history"] = unhcr.status_history(session, person)
    if "incidents" in shown:
        bundle["incidents"] = _incidents(session, actor, person.id)
    if "history" in shown:
        bundle["notes"] = notes_for_reader(session, actor, _notes(session, case))
    if sections is None:
        bundle["attachments"] = attachments.list_for_case(session, case)
    if "history" in shown:
        # As GET /cases/{id}/history, through the same filter (referred sections only).
        bundle["timeline"] = timeline.read_timeline(session, actor, case)
    return bundle


def _documents(session: Session, actor: Actor, individual_id: uuid.UUID) -> list[DocumentView]:
    rows = session.scalars(
        select(TravelDocument)
        .where(TravelDocument.individual_id == individual_id)
        .order_by(TravelDocument.created_at, TravelDocument.id)
    )
    out = [documents.present(session, row, with_history=True) for row in rows]
    # Who changed a status, when of another organisation: not named (an id is a name too).
    changes = [change for item in out for change in item.get("status_history") or []]
    labels = staff_labels(session, actor, [change["changed_by"] for change in changes])
    for change in changes:
        if change["changed_by"] in labels:
            change["changed_by"] = None
    return out


def _incidents(session: Session, actor: Actor, individual_id: uuid.UUID) -> list[IncidentView]:
    """The person's incidents, oldest first; other people named only when in scope."""
    ids = select(IncidentSubject.incident_id).where(IncidentSubject.individual_id == individual_id)
    rows = list(
        session.scalars(
            select(Incident)
            .where(Incident.id.in_(ids))
            .order_by(Incident.occurred_on, Incident.created_at, Incident.id)
        )
    )
    subjects: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if rows:
        pairs = session.execute(
            select(IncidentSubject.incident_id, IncidentSubject.individual_id)
            .where(
                IncidentSubject.incident_id.in_([row.id for row in rows]),
                IncidentSubject.individual_id.in_(visible_individuals(actor, "incidents")),
            )
            .order_by(IncidentSubject.individual_id)
        )
        for incident_id, subject_id in pairs:
            subjects[incident_id].append(subject_id)
    # Their recorders of another organisation appear as that organisation.
    labels = staff_labels(session, actor, [row.created_by for row in rows])
    out = [incidents.present(session, row, subjects[row.id]) for row in rows]
    for row, item in zip(rows, out, strict=True):
        if row.created_by in labels:
            item["created_by"] = labels[row.created_by]
    return out


def _notes(session: Session, case: Case) -> list[NoteView]:
    rows = session.scalars(
        select(CaseNote)
        .where(CaseNote.case_id == case.id)
        .order_by(CaseNote.created_at, CaseNote.id)
    )
    return [notes.present(session, case, row) for row in rows]


# JSON -------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot export values of type {type(value).__name__}")


def plain(bundle: Any) -> Any:
    """The bundle with every value JSON can carry (dates as ISO 8601, ids as strings)."""
    return json.loads(canonical_json(bundle))


def canonical_json(bundle: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: one body for one bundle."""
    return json.dumps(
        bundle, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
    ).encode()


# The use case -----------------------------------------------------------------------------------
def export_case(session: Session, actor: Actor, case_id: uuid.UUID, fmt: Format) -> Export:
    # No export through a break-glass grant: it is for reading, there and then.
    case = case_records.get_visible_case(session, actor, case_id, emergency=False)
    bundle = build_bundle(session, actor, case)
    body = render_pdf(plain(bundle)) if fmt == "pdf" else canonical_json(bundle)
    digest = hashlib.sha256(body).hexdigest()
    history.record(
        session,
        actor=actor,
        individual_id=case.individual_id,
        case_id=case.id,
        kind="case.exported",
        summary=f"Export generated ({fmt})",
        subject_type="case",
        subject_id=case.id,
        changes={"format": fmt, "sha256": digest},
    )
    audit.record(
        session,
        actor=actor,
        action="case.export",
        subject_type="case",
        subject_id=case.id,
        details={"format": fmt, "sha256": digest, "bytes": len(body)},
        high_risk=True,
    )
    stamp = bundle["generated_at"].strftime("%Y%m%dT%H%M%SZ")
    return Export(body, MEDIA_TYPES[fmt], f"haven-case-{case.id}-{stamp}.{fmt}", digest)
