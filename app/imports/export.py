"""Leaving with one's data: every person of the organisation in an XLSX file whose columns are
the ones an import reads (``app.imports.mapping.PEOPLE_COLUMNS``), so the file can be imported
into another Haven as it is.

Supervisors only; each person written is audited as a read of their record, the export itself
as a high-risk action, and the organisation's supervisors are alerted (``PeopleExported``).
The file is plaintext by nature: it is created with mode 0600 and the command says so.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.actor import Actor
from app.audit import service as audit
from app.crypto import CryptoError, Pad, crypto_of
from app.crypto.envelope import header_key_id
from app.documents import service as documents
from app.events import PeopleExported
from app.imports import references
from app.imports.mapping import (
    DOCUMENT_PARTS,
    MAX_DOCUMENTS,
    PEOPLE_COLUMNS,
    document_prefix,
)
from app.imports.service import check_supervisor
from app.models.document import TravelDocument
from app.models.individual import Individual
from app.records.people import open_fields
from app.unhcr.service import current_status

CHUNK = 500


def _people(session: Session, organisation_id: uuid.UUID) -> Iterator[list[Individual]]:
    last: uuid.UUID | None = None
    while True:
        query = (
            select(Individual)
            .where(
                Individual.organisation_id == organisation_id,
                Individual.erased_at.is_(None),
                Individual.merged_into_id.is_(None),
            )
            .order_by(Individual.id)
            .limit(CHUNK)
        )
        if last is not None:
            query = query.where(Individual.id > last)
        chunk = list(session.scalars(query))
        if not chunk:
            return
        yield chunk
        last = chunk[-1].id


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) or None
    if isinstance(value, dt.date | int | float | str):
        return value
    return str(value)


def _text_cell(sheet: Any, value: Any) -> Any:
    """Text stays text: openpyxl would write "=…" as a formula (a name typed as "=HYPERLINK(…)"
    must not become one in the spreadsheet that opens the export)."""
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def person_cells(session: Session, person: Individual) -> dict[str, Any]:
    """The person's row by column name."""
    values: dict[str, Any] = dict(open_fields(session, person))
    if person.external_reference_ct is not None:
        try:
            values["external_reference"] = crypto_of(session).open(
                session,
                references.REFERENCE,
                person.id,
                person.id,
                person.external_reference_ct,
                pad=Pad.SHORT,
            )
        except CryptoError:
            values["external_reference"] = None
    values["check_in_every_hours"] = person.check_in_every_hours
    held = session.scalars(
        select(TravelDocument)
        .where(TravelDocument.individual_id == person.id)
        .order_by(TravelDocument.created_at, TravelDocument.id)
        .limit(MAX_DOCUMENTS)
    )
    for index, document in enumerate(held, start=1):
        shown = documents.present(session, document)
        prefix = document_prefix(index)
        for part in DOCUMENT_PARTS:
            values[f"{prefix}_{part}"] = shown.get(part)
    status = current_status(session, person)
    if status is not None:
        values["unhcr_status"] = status["status"]
        values["unhcr_effective_date"] = status["effective_date"]
        values["unhcr_reference"] = status["unhcr_reference"]
        values["unhcr_expires_on"] = status["expires_on"]
    return {name: values.get(name) for name in PEOPLE_COLUMNS if name in values}


def export_people(session: Session, actor: Actor, path: Path) -> int:
    """Write the organisation's people to ``path`` (a new file); returns how many."""
    check_supervisor(actor)
    export_id = uuid.uuid4()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("people")
    sheet.append(list(PEOPLE_COLUMNS))
    crypto = crypto_of(session)
    count = 0
    for chunk in _people(session, actor.organisation_id):
        crypto.keys.load_many(
            session,
            {header_key_id(p.full_name_ct): p.id for p in chunk if p.full_name_ct is not None},
        )
        for person in chunk:
            row = person_cells(session, person)
            sheet.append([_text_cell(sheet, _cell(row.get(name))) for name in PEOPLE_COLUMNS])
            audit.record(
                session,
                actor=actor,
                action="individual.read",
                subject_type="individual",
                subject_id=person.id,
                details={"via": "export", "export": str(export_id)},
            )
            count += 1
        audit.flush(session)
    # The file holds every record in the clear: only its owner may read it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        book.save(out)
    audit.record(
        session,
        actor=actor,
        action="export.people",
        details={"export": str(export_id), "people": count, "columns": len(PEOPLE_COLUMNS)},
        high_risk=True,
    )
    events.publish(
        session,
        PeopleExported(
            actor=actor,
            export_id=export_id,
            organisation_id=actor.organisation_id,
            user_id=actor.id,
        ),
    )
    return count
