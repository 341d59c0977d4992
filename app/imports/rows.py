"""A spreadsheet row as the API would receive it: read through the mapping, then validated by
the API's own models (IndividualCreate, DocumentCreate, UnhcrStatusCreate, IncidentCreate),
with every problem named by row number and column. No session: pure checks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pycountry
from pydantic import BaseModel, ValidationError

from app.documents import mrz
from app.documents.schemas import DocumentCreate
from app.documents.service import CheckedDocument, check_document
from app.errors import Unprocessable
from app.imports.mapping import (
    DOCUMENT_PARTS,
    MAX_DOCUMENTS,
    PERSON_FIELDS,
    UNHCR_FIELDS,
    Layout,
    Mapping,
    Problem,
    column_of,
    document_prefix,
    read_row,
)
from app.imports.reading import Cell
from app.incidents.schemas import IncidentCreate
from app.individuals.schemas import IndividualCreate
from app.unhcr.schemas import UnhcrStatusCreate

# The API's UNHCR body names its fields without the prefix the spreadsheet's columns carry.
_UNHCR = {
    "unhcr_status": "status",
    "unhcr_effective_date": "effective_date",
    "unhcr_reference": "unhcr_reference",
    "unhcr_expires_on": "expires_on",
}


@dataclass
class PersonRow:
    row: int
    person: dict[str, Any]
    documents: list[CheckedDocument] = field(default_factory=list)
    unhcr: dict[str, Any] | None = None
    reference: str | None = None


@dataclass
class IncidentRow:
    row: int
    incident: dict[str, Any]  # IncidentCreate without individual_ids
    references: list[str]


def _validate(
    model: type[BaseModel],
    data: dict[str, Any],
    row: int,
    column: dict[str, str],
    whole: str,
    problems: list[Problem],
) -> dict[str, Any] | None:
    """``model`` over ``data``; each error a problem in the column of the field it names."""
    try:
        return model.model_validate(data).model_dump()
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            loc = error["loc"]
            name = str(loc[0]) if loc else ""
            where = column.get(name, whole)
            problems.append(Problem(row, where, _message(error["msg"])))
        return None


def _message(text: str) -> str:
    return text.removeprefix("Value error, ")


def person_row(
    number: int, cells: tuple[Cell, ...], where: Layout, mapping: Mapping
) -> tuple[PersonRow | None, list[Problem]]:
    problems: list[Problem] = []
    values = read_row(number, cells, where, mapping, problems)
    failed = {p.column for p in problems}
    person = {k: values[k] for k in PERSON_FIELDS if k in values and k != "external_reference"}
    columns = {k: column_of(where, k) for k in PERSON_FIELDS}
    if "full_name" not in values and column_of(where, "full_name") not in failed:
        problems.append(Problem(number, column_of(where, "full_name"), "a name is required"))
    checked = _validate(IndividualCreate, person, number, columns, "full_name", problems)
    result = PersonRow(number, checked or {}, reference=values.get("external_reference"))
    for index in range(1, MAX_DOCUMENTS + 1):
        prefix = document_prefix(index)
        given = {p: values[f"{prefix}_{p}"] for p in DOCUMENT_PARTS if f"{prefix}_{p}" in values}
        if not given and not any(
            column_of(where, f"{prefix}_{p}") in failed for p in DOCUMENT_PARTS
        ):
            continue
        if set(given) <= {"type", "status"} and f"{prefix}_type" in mapping.defaults:
            continue  # only the mapping's defaults: no document in this row
        if isinstance(given.get("mrz"), str):
            given["mrz"] = _mrz_lines(given["mrz"])
        doc_columns = {p: column_of(where, f"{prefix}_{p}") for p in DOCUMENT_PARTS}
        document = _validate(
            DocumentCreate, given, number, doc_columns, doc_columns["number"], problems
        )
        before = len(problems)
        if document is not None and document.get("mrz"):
            _check_mrz(document, number, doc_columns["mrz"], problems)
        if document is not None and len(problems) == before and checked is not None:
            ready = _check_document(document, checked, number, doc_columns, problems)
            if ready is not None:
                result.documents.append(ready)
    unhcr = {_UNHCR[k]: values[k] for k in UNHCR_FIELDS if k in values}
    if unhcr:
        unhcr_columns = {_UNHCR[k]: column_of(where, k) for k in UNHCR_FIELDS}
        result.unhcr = _validate(
            UnhcrStatusCreate, unhcr, number, unhcr_columns, unhcr_columns["status"], problems
        )
    if problems or checked is None:
        return None, problems
    return result, problems


def _mrz_lines(text: str) -> str:
    """A passport MRZ typed into one cell: its two lines of 44 as the API takes them, whether
    the cell breaks the line, separates the halves with a space, or runs them together."""
    compact = "".join(text.split())
    if "\n" not in text.strip() and len(compact) == 88:
        return compact[:44] + "\n" + compact[44:]
    return text


def _check_document(
    document: dict[str, Any],
    person: dict[str, Any],
    row: int,
    columns: dict[str, str],
    problems: list[Problem],
) -> CheckedDocument | None:
    """The document checked as the API checks it against the MRZ and the person's date of birth
    and nationalities (``documents.service.check_document``), so a dry run finds it too."""
    try:
        return check_document(
            document,
            born=person.get("date_of_birth"),
            nationalities=person.get("nationalities") or [],
        )
    except Unprocessable as exc:
        field = str(exc.extra.get("field") or "mrz")
        column = columns.get(field, columns["mrz"])
        problems.append(Problem(row, column, str(exc.detail)))
        return None


def _check_mrz(document: dict[str, Any], row: int, column: str, problems: list[Problem]) -> None:
    """The MRZ checked as the API checks it (``documents.service.parse_mrz``): format and
    check digits, and an issuing state Haven knows when no issuing country is given."""
    try:
        parsed = mrz.parse(document["mrz"])
    except mrz.MRZError as exc:
        problems.append(Problem(row, column, f"{exc.field}: {exc}"))
        return
    if document.get("issuing_country") is None and not (
        mrz.is_icao_only(parsed.issuing_state)
        or pycountry.countries.get(alpha_3=parsed.issuing_state) is not None
    ):
        problems.append(Problem(row, column, "issuing_state is not a known country code"))


INCIDENT_SOURCE = {
    "source_name": "name",
    "source_reliability": "reliability",
    "source_credibility": "credibility",
}


def incident_row(
    number: int, cells: tuple[Cell, ...], where: Layout, mapping: Mapping
) -> tuple[IncidentRow | None, list[Problem]]:
    problems: list[Problem] = []
    values = read_row(number, cells, where, mapping, problems)
    references = list(dict.fromkeys(values.pop("people", [])))
    people_column = column_of(where, "people")
    if not references and people_column not in {p.column for p in problems}:
        problems.append(Problem(number, people_column, "name at least one person's reference"))
    source = {INCIDENT_SOURCE[k]: values.pop(k) for k in list(values) if k in INCIDENT_SOURCE}
    data: dict[str, Any] = {**values, "source": source, "individual_ids": [uuid.UUID(int=0)]}
    columns = {k: column_of(where, k) for k in values}
    columns["individual_ids"] = people_column
    columns["source"] = column_of(where, "source_name")
    for inner, name in ((v, k) for k, v in INCIDENT_SOURCE.items()):
        columns.setdefault(f"source.{inner}", column_of(where, name))
    checked = _validate_incident(data, number, columns, problems)
    if problems or checked is None:
        return None, problems
    checked.pop("individual_ids")
    return IncidentRow(number, checked, references), problems


def _validate_incident(
    data: dict[str, Any], row: int, columns: dict[str, str], problems: list[Problem]
) -> dict[str, Any] | None:
    try:
        return IncidentCreate.model_validate(data).model_dump()
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            loc = [str(part) for part in error["loc"]]
            name = ".".join(loc[:2]) if loc[:1] == ["source"] and len(loc) > 1 else loc[0]
            where = columns.get(name) or columns.get(loc[0] if loc else "", "row")
            problems.append(Problem(row, where, _message(error["msg"])))
        return None
