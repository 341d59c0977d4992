"""Spreadsheets made on the fly for the import tests: CSV in the encodings and delimiters
spreadsheets export, and XLSX written with openpyxl."""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import random
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from openpyxl import Workbook

from app.actor import Actor
from app.db import transaction
from app.imports import service
from app.imports.mapping import Mapping
from app.imports.reading import read
from tests.factories import Member

HEADER = (
    "Reference",
    "Full name",
    "Date of birth",
    "Sex",
    "Nationality",
    "current_country",
    "document_type",
    "Passport number",
    "document_issuing_country",
    "document_expires_on",
    "unhcr_status",
    "unhcr_effective_date",
)


def person(**fields: Any) -> dict[str, Any]:
    """A valid row (every cell text), ``fields`` win."""
    tag = uuid.uuid4().hex[:8]
    row: dict[str, Any] = {
        "Reference": f"REF-{tag}",
        "Full name": f"Sok Dara {tag}",
        "Date of birth": "1984-03-12",
        "Sex": "female",
        "Nationality": "Cambodia",
        "current_country": "THA",
        "document_type": "passport",
        "Passport number": "N" + "".join(random.choices("0123456789", k=8)),
        "document_issuing_country": "KHM",
        "document_expires_on": "2031-05-01",
        "unhcr_status": "asylum_seeker",
        "unhcr_effective_date": "2023-01-10",
    }
    row.update(fields)
    return row


def csv_bytes(
    rows: Sequence[dict[str, Any]],
    *,
    header: Sequence[str] = HEADER,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    text = out.getvalue()
    if encoding == "utf-16":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    if encoding == "utf-8-sig":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    return text.encode(encoding)


def xlsx_bytes(rows: Sequence[dict[str, Any]], *, header: Sequence[str] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        values = []
        for h in header:
            value = row.get(h)
            # Dates as real date cells, as a spreadsheet holds them.
            if isinstance(value, str) and h in ("Date of birth", "document_expires_on"):
                with contextlib.suppress(ValueError):
                    value = dt.date.fromisoformat(value)
            values.append(value)
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def actor_of(member: Member) -> Actor:
    user = member.user
    return Actor(user.id, user.username, user.role, user.organisation_id)


def run_people(
    app: FastAPI,
    member: Member,
    raw: bytes,
    *,
    name: str = "people.csv",
    mapping: Mapping | None = None,
    **options: Any,
) -> service.ImportReport:
    """Import in a transaction of its own, as the command does; a failed run is rolled back
    and its report returned."""
    try:
        with transaction(app.state.sessionmaker) as session:
            return service.import_people(
                session, actor_of(member), read(raw, name=name), mapping or Mapping(), **options
            )
    except service.ImportFailed as exc:
        return exc.report
