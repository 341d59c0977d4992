"""The lawyer's bundle: everything about a case and its person, as JSON (with its detached
JWS), a signed PDF or an evidence bag, now or as of a past moment, with its hash.

The bundle is what the caller may see, opened for them: the case, the person (restricted fields
withheld as in the API), travel documents with their status histories, the UNHCR status
history, incidents, notes, attachment metadata and the case's timeline (each entry with its
sentence, ``readable``); as of a moment, as it stood then (``as_of_state``). Signing is
``signing``, the bag ``bag``, checking them ``verify``. The export itself is audited (with the
SHA-256 of the exact bytes handed out, and who signed) and recorded on the timeline.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal, Required, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import __version__
from app.actor import Actor
from app.audit import service as audit
from app.auth.scope import SECTIONS, visible_individuals
from app.cases import as_of_state, attachments, notes, readable, signing, timeline
from app.cases import service as cases
from app.cases.export_pdf import render_pdf
from app.cases.schemas import AttachmentView, NoteView
from app.documents import service as documents
from app.documents.schemas import DocumentView
from app.errors import Unprocessable
from app.incidents import service as incidents
from app.incidents.schemas import IncidentView
from app.individuals import service as individuals
from app.individuals.schemas import PersonView
from app.models.base import utcnow
from app.models.case import Case, CaseNote
from app.models.document import TravelDocument
from app.models.incident import Incident, IncidentSubject
from app.models.organisation import Organisation
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
from app.unhcr.service import UnhcrStatusView

FORMAT = "haven.case-export"
FORMAT_VERSION = 2  # 2: as_of, the organisation, readable timeline sentences
Format = Literal["json", "pdf", "bag"]
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "pdf": "application/pdf",
    "bag": "application/zip",
}
EXTENSIONS: dict[str, str] = {"json": "json", "pdf": "pdf", "bag": "zip"}


@dataclass(frozen=True)
class Export:
    body: bytes
    media_type: str
    filename: str
    sha256: str
    signature: str | None = None  # the JSON's detached JWS (RFC 7797), for a JSON export


class GeneratedBy(TypedDict):
    id: uuid.UUID
    username: str
    role: str
    organisation: str


class Bundle(TypedDict, total=False):
    """The export as data: what the caller may see of the case as it stood at ``as_of``."""

    format: Required[str]
    format_version: Required[int]
    haven_version: Required[str]
    generated_at: Required[dt.datetime]
    generated_by: Required[GeneratedBy]
    as_of: Required[dt.datetime]  # the moment the record shows: generated_at unless asked
    as_of_requested: Required[bool]
    case: Required[dict[str, object]]  # a CaseView without ``access``
    person: Required[PersonView]
    withheld_fields: Required[list[str]]
    referred_sections: list[str]
    documents: list[DocumentView]
    unhcr_status_history: list[UnhcrStatusView]
    incidents: list[IncidentView]
    notes: list[NoteView]
    attachments: list[AttachmentView]
    timeline: list[dict[str, Any]]


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def checked_as_of(as_of: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """``as_of`` in UTC; 422 in the future or out of range."""
    if as_of is None:
        return None
    try:
        as_of = _utc(as_of)
    except OverflowError:
        raise Unprocessable("as_of is out of range") from None
    if as_of > now:
        raise Unprocessable("as_of must not be in the future")
    return as_of


def build_bundle(
    session: Session, actor: Actor, case: Case, as_of: dt.datetime | None = None
) -> Bundle:
    """The bundle as plain data (ids, dates and enums still typed), as it stood at ``as_of``.

    Exported through a referral, the bundle holds the referred sections only: the parts
    outside them (and attachments, never referred) are left out, not emptied. As of a moment,
    it holds what had been recorded by then; the person's and the case's fields are wound back
    through the changes the timeline recorded after it."""
    now = utcnow()
    as_of = checked_as_of(as_of, now)
    sections = sections_for_case(session, actor, case)
    if as_of is not None and as_of < _utc(case.created_at):
        raise Unprocessable("as_of is before the case was opened")
    # The state at a moment is read from the history: without it, no as-of record.
    if as_of is not None and sections is not None and "history" not in sections:
        raise Unprocessable("an as-of export needs the case's history, which was not referred")
    moment = as_of or now
    person = people.get_visible(session, actor, case.individual_id)
    shown = set(SECTIONS) if sections is None else sections
    # How the exporter reached the case says nothing about it.
    case_data: dict[str, object] = {
        k: v for k, v in cases.present(session, actor, case).items() if k != "access"
    }
    hidden = people.hidden_fields(session, actor, person)
    organisation = session.get(Organisation, actor.organisation_id)
    bundle: Bundle = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "haven_version": __version__,
        "generated_at": now,
        "generated_by": {
            "id": actor.id,
            "username": actor.username,
            "role": actor.role,
            "organisation": organisation.name if organisation else "",
        },
        "as_of": moment,
        "as_of_requested": as_of is not None,
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
    if as_of is not None:
        as_of_state.wind_back(bundle, as_of)
    for entry in bundle.get("timeline", []):
        entry["text"] = readable.sentence(entry)  # as the PDF says it
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
def export_case(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    fmt: Format,
    as_of: dt.datetime | None = None,
) -> Export:
    # No export through a break-glass grant: it is for reading, there and then.
    case = case_records.get_visible_case(session, actor, case_id, emergency=False)
    bundle = build_bundle(session, actor, case, as_of)
    identity = signing.identity_for(session)
    body, signature, inner = render(session, actor, bundle, fmt, identity)
    digest = hashlib.sha256(body).hexdigest()
    moment = bundle["as_of"].isoformat() if bundle["as_of_requested"] else None
    history.record(
        session,
        actor=actor,
        individual_id=case.individual_id,
        case_id=case.id,
        kind="case.exported",
        summary=f"Export generated ({fmt})",
        subject_type="case",
        subject_id=case.id,
        changes={"format": fmt, "sha256": digest, "as_of": moment},
    )
    audit.record(
        session,
        actor=actor,
        action="case.export",
        subject_type="case",
        subject_id=case.id,
        details={
            "format": fmt,
            "sha256": digest,
            "bytes": len(body),
            "as_of": moment,
            "signed_by": identity.fingerprint,
            # A bag's PDF and JSON, found by their own digests when checked on their own.
            "contains": inner,
        },
        high_risk=True,
    )
    stamp = bundle["generated_at"].strftime("%Y%m%dT%H%M%SZ")
    name = f"haven-case-{case.id}-{stamp}.{EXTENSIONS[fmt]}"
    return Export(body, MEDIA_TYPES[fmt], name, digest, signature)


def render(
    session: Session, actor: Actor, bundle: Bundle, fmt: Format, identity: signing.Identity
) -> tuple[bytes, str | None, list[str]]:
    """The export's bytes, signed by ``identity``; for JSON its detached JWS, for a bag the
    SHA-256 of the PDF and JSON inside."""
    if fmt == "json":
        body = canonical_json(bundle)
        return body, signing.sign_json(identity, body), []
    pdf = signed_pdf(bundle, identity)
    if fmt == "pdf":
        return pdf, None, []
    from app.cases import bag  # the bag reads the attachments' files: only when asked for

    body = canonical_json(bundle)
    inner = [hashlib.sha256(pdf).hexdigest(), hashlib.sha256(body).hexdigest()]
    return bag.build(session, actor, bundle, pdf, body, identity), None, inner


def signed_pdf(bundle: Bundle, identity: signing.Identity) -> bytes:
    data = plain(bundle)
    reason = f"Haven case export, as of {data['as_of']}"
    body = render_pdf(data, signer=identity.signer)
    return signing.sign_pdf(identity, body, reason=reason, location="Haven")
