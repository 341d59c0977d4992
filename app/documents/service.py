"""Travel documents: add one (with its MRZ checked), read them, change their status.

Number, issuing country, issue date, MRZ and status sources are sealed with the holder's key;
the number is also kept as a blind index so a search or a government list finds it. Every
status, the first included, is a ``DocumentStatusChange`` row and a history entry.
Government revocation lists are applied in ``app.documents.revocations``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pycountry
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app import events
from app.actor import Actor
from app.audit import service as audit
from app.auth.scope import OWN, visible_individuals
from app.crypto import DataKey, FieldSlot, Pad, crypto_of
from app.crypto.blind_index import DOCUMENT_NUMBER, fold_document_number
from app.documents import mrz
from app.documents.schemas import DocumentView, StatusChangeView
from app.errors import NotFound, Unprocessable
from app.events import DocumentAdded, DocumentStatusChanged, PersonErased
from app.models.base import utcnow
from app.models.document import DocumentStatusChange, TravelDocument
from app.models.individual import Individual
from app.records import history
from app.records.documents import (
    CHANGE_SOURCE,
    ISSUED_ON,
    ISSUING_COUNTRY,
    MRZ_TEXT,
    NUMBER,
    STATUS_SOURCE,
)
from app.records.people import get_visible as get_visible_person
from app.records.people import open_fields
from app.records.sharing import staff_labels


def get_visible(
    session: Session, actor: Actor, document_id: uuid.UUID, section: str = "documents"
) -> TravelDocument:
    """The document if its holder is in the actor's scope; 404 otherwise, whatever the reason.

    Through a referral only with its ``documents`` section, and never to change it (``OWN``)."""
    document = session.scalar(
        select(TravelDocument).where(
            TravelDocument.id == document_id,
            TravelDocument.individual_id.in_(visible_individuals(actor, section)),
        )
    )
    if document is None:
        raise NotFound()
    return document


def parse_mrz(text: str) -> mrz.MRZ:
    """The MRZ, or 422 naming the field at fault."""
    try:
        return mrz.parse(text)
    except mrz.MRZError as exc:
        raise Unprocessable(f"mrz: {exc}", field=exc.field) from None


def _is_country(code: str) -> bool:
    return mrz.is_icao_only(code) or pycountry.countries.get(alpha_3=code) is not None


@dataclass(frozen=True)
class CheckedDocument:
    """A document as it will be stored: its MRZ read, what the MRZ supplies filled in."""

    data: dict[str, Any]
    parsed: mrz.MRZ | None
    number: str | None
    country: str | None
    expires_on: dt.date | None
    status: str


def add_document(
    session: Session, actor: Actor, person: Individual, data: dict[str, Any]
) -> DocumentView:
    """Register a document; an MRZ that disagrees with the typed fields is refused (422)."""
    held = (
        open_fields(session, person, frozenset({"date_of_birth", "nationalities"}))
        if data.get("mrz")
        else {}
    )
    checked = check_document(
        data, born=held.get("date_of_birth"), nationalities=held.get("nationalities") or []
    )
    key = crypto_of(session).keys.current(session, person.id)
    document, entry = build_document(session, actor, person, checked, key)
    session.add(document)
    session.flush()
    session.add(status_change(session, actor, document, key, source=data.get("status_source")))
    history.record_many(session, actor=actor, entries=[entry])
    events.publish(
        session, DocumentAdded(actor=actor, individual_id=person.id, document_id=document.id)
    )
    _audit(session, actor, "document.create", document)
    item = present(session, document)
    item["warnings"] = []  # kept in the answer; contradictions are refused now
    return item


def check_document(
    data: dict[str, Any], *, born: dt.date | None, nationalities: list[str]
) -> CheckedDocument:
    """The document checked against its MRZ and its holder's date of birth and nationalities
    (422 naming the field at fault); no session, so an import checks every row first."""
    parsed = parse_mrz(data["mrz"]) if data.get("mrz") else None
    number = data.get("number")
    country = data.get("issuing_country")
    expires_on = data.get("expires_on")
    if parsed is not None:
        if country is None and not _is_country(parsed.issuing_state):
            raise Unprocessable(
                "mrz: issuing_state is not a known country code", field="mrz.issuing_state"
            )
        _contradictions(parsed, number, country, expires_on, born, nationalities)
        number = number or parsed.document_number
        country = country or parsed.issuing_state
        expires_on = expires_on or parsed.expires_on
    issued_on = data.get("issued_on")
    if issued_on and expires_on and expires_on < issued_on:
        source = "the MRZ's date of expiry" if parsed and not data.get("expires_on") else "it"
        raise Unprocessable(
            f"expires_on: {source} precedes the issue date (issued_on)", field="expires_on"
        )
    status = _plain(data.get("status") or "valid")
    return CheckedDocument(data, parsed, number, country, expires_on, status)


def build_document(
    session: Session, actor: Actor, person: Individual, checked: CheckedDocument, key: DataKey
) -> tuple[TravelDocument, history.Entry]:
    """The document's row, sealed under its holder's key, and its history entry."""
    crypto = crypto_of(session)
    data, number = checked.data, checked.number
    document = TravelDocument(
        id=uuid.uuid4(),
        individual_id=person.id,
        organisation_id=person.organisation_id,
        type=_plain(data["type"]),
        number_index=None if number is None else crypto.blind_index(DOCUMENT_NUMBER, number),
        expires_on=checked.expires_on,
        status=checked.status,
        status_date=data.get("status_date"),
        updated_at=utcnow(),
    )
    sealed = {
        "number_ct": (NUMBER, number, Pad.SHORT),
        "issuing_country_ct": (ISSUING_COUNTRY, checked.country, Pad.CATEGORY),
        "issued_on_ct": (ISSUED_ON, data.get("issued_on"), Pad.CATEGORY),
        "mrz_ct": (MRZ_TEXT, checked.parsed.text if checked.parsed else None, Pad.SHORT),
        "status_source_ct": (STATUS_SOURCE, data.get("status_source"), Pad.SHORT),
    }
    for column, (slot, value, pad) in sealed.items():
        if value is not None:
            setattr(document, column, crypto.seal(key, slot, document.id, value, pad=pad))
    entry = history.Entry(
        individual_id=person.id,
        kind="document.added",
        summary=f"Travel document added ({document.type}, {checked.status})",
        subject_type="travel_document",
        subject_id=document.id,
        changes={
            "type": document.type,
            "number": number,
            "issuing_country": checked.country,
            "issued_on": data.get("issued_on"),
            "expires_on": checked.expires_on,
            "status": checked.status,
            "status_date": document.status_date,
            "status_source": data.get("status_source"),
            "mrz": bool(checked.parsed),
        },
        key=key,
    )
    return document, entry


def _contradictions(
    parsed: mrz.MRZ,
    number: str | None,
    country: str | None,
    expires_on: dt.date | None,
    born: dt.date | None,
    nationalities: list[str],
) -> None:
    """422 naming the first field where the MRZ and what was typed (or the person's record)
    disagree: a typed number that is not the MRZ's would be stored, and a revocation list
    naming the MRZ's number would miss the passport. Leaving a field empty takes the MRZ's."""
    found = []
    if number and fold_document_number(number) != parsed.document_number:
        found.append(("number", "number: differs from the MRZ's document number"))
    if country and country != parsed.issuing_state:
        found.append(("issuing_country", "issuing_country: differs from the MRZ's issuing state"))
    if expires_on and expires_on != parsed.expires_on:
        found.append(("expires_on", "expires_on: differs from the MRZ's date of expiry"))
    if born and parsed.date_of_birth and born != parsed.date_of_birth:
        found.append(
            ("mrz.date_of_birth", "mrz: date_of_birth differs from the person's date of birth")
        )
    if (
        nationalities
        and parsed.nationality not in nationalities
        and not mrz.is_icao_only(parsed.nationality)
    ):
        found.append(("mrz.nationality", "mrz: nationality is not among the person's"))
    if found:
        field, detail = found[0]
        raise Unprocessable(detail, field=field)


def record_change(
    session: Session,
    actor: Actor,
    document: TravelDocument,
    key: DataKey,
    *,
    source: str | None,
    list_id: uuid.UUID | None = None,
) -> DocumentStatusChange:
    """The document's current status as a row of its status history."""
    change = status_change(session, actor, document, key, source=source, list_id=list_id)
    session.add(change)
    return change


def status_change(
    session: Session,
    actor: Actor | None,
    document: TravelDocument,
    key: DataKey,
    *,
    source: str | None,
    list_id: uuid.UUID | None = None,
) -> DocumentStatusChange:
    """The row ``record_change`` adds, for a caller that adds a batch of them."""
    change = DocumentStatusChange(
        id=uuid.uuid4(),
        document_id=document.id,
        status=document.status,
        status_date=document.status_date,
        changed_by=actor.id if actor else None,
        changed_at=utcnow(),
        revocation_list_id=list_id,
    )
    if source is not None:
        change.source_ct = crypto_of(session).seal(
            key, CHANGE_SOURCE, change.id, source, pad=Pad.SHORT
        )
    return change


def change_status(
    session: Session, actor: Actor, document_id: uuid.UUID, data: dict[str, Any]
) -> DocumentView:
    document = get_visible(session, actor, document_id, OWN)
    crypto = crypto_of(session)
    status, status_date = _plain(data["status"]), data["status_date"]
    source = data.get("status_source")
    before = {
        "status": document.status,
        "status_date": document.status_date,
        "status_source": _open(session, document, STATUS_SOURCE, "status_source_ct"),
    }
    after = {"status": status, "status_date": status_date, "status_source": source}
    diff = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    if diff:
        key = crypto.keys.current(session, document.individual_id)
        document.status, document.status_date = status, status_date
        document.status_source_ct = (
            None
            if source is None
            else crypto.seal(key, STATUS_SOURCE, document.id, source, pad=Pad.SHORT)
        )
        document.updated_at = utcnow()
        record_change(session, actor, document, key, source=source)
        history.record(
            session,
            actor=actor,
            individual_id=document.individual_id,
            kind="document.status_changed",
            summary=f"Document status changed to {status}",
            subject_type="travel_document",
            subject_id=document.id,
            changes=diff,
        )
        if "status" in diff:
            events.publish(
                session,
                DocumentStatusChanged(
                    actor=actor,
                    individual_id=document.individual_id,
                    document_id=document.id,
                    organisation_id=document.organisation_id,
                    status=status,
                ),
            )
    _audit(session, actor, "document.status_change", document, fields=sorted(diff))
    return present(session, document, with_history=True)


def read_document(session: Session, actor: Actor, document_id: uuid.UUID) -> DocumentView:
    document = get_visible(session, actor, document_id)
    _audit(session, actor, "document.read", document)
    item = present(session, document, with_history=True)
    # Through a referral: who of the other organisation changed the status is not shown.
    history = item["status_history"]
    other_side = staff_labels(session, actor, [change["changed_by"] for change in history])
    for change in history:
        if change["changed_by"] in other_side:
            change["changed_by"] = None
    return item


def list_documents(session: Session, actor: Actor, person: Individual) -> list[DocumentView]:
    documents = session.scalars(
        select(TravelDocument)
        .where(TravelDocument.individual_id == person.id)
        .order_by(TravelDocument.created_at, TravelDocument.id)
    ).all()
    audit.record(
        session,
        actor=actor,
        action="document.list",
        subject_type="individual",
        subject_id=person.id,
        details={"results": len(documents)},
    )
    return [present(session, document) for document in documents]


def present(
    session: Session, document: TravelDocument, *, with_history: bool = False
) -> DocumentView:
    """The document with its sealed fields opened."""
    item: DocumentView = {
        "id": document.id,
        "individual_id": document.individual_id,
        "type": document.type,
        "number": _open(session, document, NUMBER, "number_ct"),
        "issuing_country": _open(session, document, ISSUING_COUNTRY, "issuing_country_ct"),
        "issued_on": _open(session, document, ISSUED_ON, "issued_on_ct"),
        "expires_on": document.expires_on,
        "status": document.status,
        "status_date": document.status_date,
        "status_source": _open(session, document, STATUS_SOURCE, "status_source_ct"),
        "mrz": _open(session, document, MRZ_TEXT, "mrz_ct"),
        "created_at": document.created_at,
        "updated_at": document.updated_at,
    }
    if with_history:
        item["status_history"] = status_history(session, document)
    return item


def status_history(session: Session, document: TravelDocument) -> list[StatusChangeView]:
    """Every status the document has had, oldest first."""
    crypto = crypto_of(session)
    changes = session.scalars(
        select(DocumentStatusChange)
        .where(DocumentStatusChange.document_id == document.id)
        .order_by(DocumentStatusChange.changed_at, DocumentStatusChange.id)
    )
    return [
        {
            "status": change.status,
            "status_date": change.status_date,
            "status_source": None
            if change.source_ct is None
            else crypto.open(
                session,
                CHANGE_SOURCE,
                change.id,
                document.individual_id,
                change.source_ct,
                pad=Pad.SHORT,
            ),
            "changed_at": change.changed_at,
            "changed_by": change.changed_by,
            "revocation_list_id": change.revocation_list_id,
        }
        for change in changes
    ]


_PADS = {NUMBER: Pad.SHORT, ISSUING_COUNTRY: Pad.CATEGORY, ISSUED_ON: Pad.CATEGORY}


def _open(session: Session, document: TravelDocument, slot: FieldSlot, column: str) -> Any:
    sealed = getattr(document, column)
    if sealed is None:
        return None
    pad = _PADS.get(slot, Pad.SHORT)
    return crypto_of(session).open(
        session, slot, document.id, document.individual_id, sealed, pad=pad
    )


def audit_added(session: Session, actor: Actor, document: TravelDocument) -> None:
    _audit(session, actor, "document.create", document)


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    document: TravelDocument,
    fields: list[str] | None = None,
) -> None:
    details: dict[str, Any] = {"document_id": str(document.id)}
    if fields is not None:
        details["fields"] = fields
    audit.record(
        session,
        actor=actor,
        action=action,
        subject_type="individual",
        subject_id=document.individual_id,
        details=details,
    )


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


# Use cases by the holder's id (the API's routes and the web pages) ------------------------------
def add_to_person(
    session: Session, actor: Actor, individual_id: uuid.UUID, data: dict[str, Any]
) -> DocumentView:
    """``add_document`` for a person of the actor's own organisation (404 through a referral
    or outside the scope)."""
    person = get_visible_person(session, actor, individual_id, OWN)
    return add_document(session, actor, person, data)


def list_for_person(session: Session, actor: Actor, individual_id: uuid.UUID) -> list[DocumentView]:
    """The person's documents, audited as ``document.list``; 404 unless the person is in scope
    with the ``documents`` section."""
    person = get_visible_person(session, actor, individual_id, "documents")
    return list_documents(session, actor, person)


def on_person_erased(session: Session, event: PersonErased) -> None:
    """The erased person's documents go: type, expiry and status are plain columns, and a
    status change links them to a government revocation list."""
    held = select(TravelDocument.id).where(TravelDocument.individual_id == event.individual_id)
    session.execute(
        delete(DocumentStatusChange)
        .where(DocumentStatusChange.document_id.in_(held))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(TravelDocument)
        .where(TravelDocument.individual_id == event.individual_id)
        .execution_options(synchronize_session=False)
    )
