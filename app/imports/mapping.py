"""Which column holds which field, and how its cells are read (pure: no session, no I/O).

Columns are found by their header: a header that names a field (``full_name``, "Full name",
"date of birth" …) needs no mapping. A mapping file (TOML) names the rest, says how dates are
written and translates values::

    [columns]                  # field = "header in the file"
    full_name = "Name"
    external_reference = "Case no."

    [dates]
    order = "day-first"        # or "month-first"; without it, only ISO dates (2024-03-01)

    [values.sex]               # a cell's text = the value Haven stores
    F = "female"
    M = "male"

    [defaults]                 # a field's value when its column is absent or the cell empty
    document_type = "passport"

    [lists]
    separator = ";"            # between aliases, nationalities, people of an incident

Dates: ISO 8601 always; ``03/04/2021`` only when the mapping says which comes first (an
ambiguous date is an error, never a guess); XLSX date cells as they are. Countries: ISO 3166-1
alpha-3 or alpha-2 codes, or the English name (pycountry).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

import pycountry

from app.imports.reading import Cell

MAX_DOCUMENTS = 3  # document_*, document_2_*, document_3_*

PERSON_FIELDS = (
    "external_reference",
    "full_name",
    "aliases",
    "native_name",
    "date_of_birth",
    "sex",
    "nationalities",
    "affiliation",
    "affiliation_role",
    "current_country",
    "current_location",
    "contact",
    "notes",
    "check_in_every_hours",
)
DOCUMENT_PARTS = (
    "type",
    "number",
    "issuing_country",
    "issued_on",
    "expires_on",
    "status",
    "status_date",
    "mrz",
)
UNHCR_FIELDS = ("unhcr_status", "unhcr_effective_date", "unhcr_reference", "unhcr_expires_on")


def document_prefix(index: int) -> str:
    return "document" if index == 1 else f"document_{index}"


DOCUMENT_FIELDS = tuple(
    f"{document_prefix(i)}_{part}" for i in range(1, MAX_DOCUMENTS + 1) for part in DOCUMENT_PARTS
)
PEOPLE_COLUMNS = PERSON_FIELDS + DOCUMENT_FIELDS + UNHCR_FIELDS
INCIDENT_COLUMNS = (
    "people",
    "type",
    "occurred_on",
    "country",
    "location",
    "description",
    "perpetrator",
    "source_name",
    "source_reliability",
    "source_credibility",
)

DATE_FIELDS = frozenset(
    {
        "date_of_birth",
        "unhcr_effective_date",
        "unhcr_expires_on",
        "occurred_on",
        *(f for f in DOCUMENT_FIELDS if f.endswith(("_on", "_date"))),
    }
)
COUNTRY_FIELDS = frozenset(
    {
        "current_country",
        "country",
        *(f for f in DOCUMENT_FIELDS if f.endswith("issuing_country")),
    }
)
COUNTRY_LIST_FIELDS = frozenset({"nationalities"})
LIST_FIELDS = frozenset({"aliases", "nationalities", "people"})
INTEGER_FIELDS = frozenset({"check_in_every_hours", "source_credibility"})

# Headers spreadsheets commonly use for a field, besides the field's own name.
ALIASES: dict[str, str] = {
    "name": "full_name",
    "full name": "full_name",
    "dob": "date_of_birth",
    "birth date": "date_of_birth",
    "gender": "sex",
    "nationality": "nationalities",
    "citizenship": "nationalities",
    "passport": "document_number",
    "passport number": "document_number",
    "passport no": "document_number",
    "reference": "external_reference",
    "case number": "external_reference",
    "case no": "external_reference",
    "unhcr case number": "unhcr_reference",
    "people": "people",
    "person": "people",
    "person reference": "people",
}

_HEADER_JUNK = re.compile(r"[^0-9a-z]+")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]00:00(?::00(?:\.0+)?)?)?$")
_NUMERIC = re.compile(r"^(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})$")
DATE_ORDERS = ("day-first", "month-first")


class MappingError(ValueError):
    """The mapping file is wrong; the message says where."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one cell or row: its row number, its column (the file's header, or
    the field when no column holds it) and what is wrong, never the value itself."""

    row: int
    column: str
    message: str


def fold_header(text: str) -> str:
    return _HEADER_JUNK.sub(" ", text.casefold()).strip()


@dataclass(frozen=True)
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)  # field -> header in the file
    date_order: str | None = None
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    separator: str = ";"

    @classmethod
    def from_toml(cls, text: str, known: tuple[str, ...] = PEOPLE_COLUMNS) -> Mapping:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise MappingError(f"the mapping is not valid TOML: {exc}") from None
        unknown = set(data) - {"columns", "dates", "values", "defaults", "lists"}
        if unknown:
            raise MappingError(f"unknown sections: {', '.join(sorted(unknown))}")
        columns = _table(data, "columns")
        values = _table(data, "values")
        defaults = _table(data, "defaults")
        for section, names in (("columns", columns), ("values", values), ("defaults", defaults)):
            bad = set(names) - set(known)
            if bad:
                raise MappingError(f"[{section}]: no field named {', '.join(sorted(bad))}")
        order = _table(data, "dates").get("order")
        if order is not None and order not in DATE_ORDERS:
            raise MappingError('[dates] order must be "day-first" or "month-first"')
        separator = _table(data, "lists").get("separator", ";")
        if not isinstance(separator, str) or len(separator) != 1:
            raise MappingError("[lists] separator must be one character")
        for name, table in values.items():
            if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
                raise MappingError(f"[values.{name}] must map cell texts to texts")
        if not all(isinstance(v, str) for v in [*columns.values(), *defaults.values()]):
            raise MappingError("[columns] and [defaults] take texts")
        return cls(
            columns=dict(columns),
            date_order=order,
            values={k: {fold_header(a): b for a, b in v.items()} for k, v in values.items()},
            defaults=dict(defaults),
            separator=separator,
        )


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise MappingError(f"[{name}] must be a table")
    return value


@dataclass(frozen=True)
class Layout:
    """Where each field's column is in the file (its index and its header)."""

    fields: dict[str, tuple[int, str]]
    unused: tuple[str, ...]  # headers no field took (reported, never read)


def layout(header: tuple[str, ...], mapping: Mapping, known: tuple[str, ...]) -> Layout:
    """Match the file's header to fields: the mapping's names first, then the headers that
    name a field themselves."""
    folded = [fold_header(h) for h in header]
    fields: dict[str, tuple[int, str]] = {}
    for name, wanted in mapping.columns.items():
        target = fold_header(wanted)
        if target not in folded:
            raise MappingError(f"[columns] {name}: the file has no column headed {wanted!r}")
        index = folded.index(target)
        fields[name] = (index, header[index])
    taken = {index for index, _ in fields.values()}
    by_name = {fold_header(n): n for n in known}
    for index, text in enumerate(folded):
        if index in taken or not text:
            continue
        found = by_name.get(text) or ALIASES.get(text)
        if found is not None and found in known and found not in fields:
            fields[found] = (index, header[index])
            taken.add(index)
    unused = tuple(h for i, h in enumerate(header) if i not in taken and h)
    return Layout(fields, unused)


# Cell readers: each returns the value or raises ValueError with a message that quotes nothing.
def read_date(cell: Cell, order: str | None) -> dt.date:
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    text = str(cell).strip()
    iso = _ISO.match(text)
    try:
        if iso:
            return dt.date(int(iso[1]), int(iso[2]), int(iso[3]))
        numeric = _NUMERIC.match(text)
        if numeric is None:
            raise ValueError("not a date (write it as YYYY-MM-DD)")
        a, b, year = int(numeric[1]), int(numeric[2]), numeric[3]
        if len(numeric[1]) == 4:
            raise ValueError("not a date (write it as YYYY-MM-DD)")
        if len(year) != 4:
            raise ValueError("a two-digit year is ambiguous: write the year in full")
        if order is None:
            raise ValueError(
                "not an ISO date (YYYY-MM-DD); to read day-first or month-first dates, "
                "set [dates] order in the mapping"
            )
        day, month = (a, b) if order == "day-first" else (b, a)
        return dt.date(int(year), month, day)
    except ValueError as exc:
        if "day is out of range" in str(exc) or "month must be" in str(exc):
            raise ValueError(f"not a valid date (read {order or 'as ISO'})") from None
        raise


_COUNTRY_NAMES: dict[str, str] = {}


def read_country(cell: Cell) -> str:
    """An alpha-3 code from an alpha-3 or alpha-2 code or an English name."""
    text = read_text(cell).strip()
    if not _COUNTRY_NAMES:
        for country in pycountry.countries:
            for attr in ("alpha_3", "alpha_2", "name", "official_name", "common_name"):
                value = getattr(country, attr, None)
                if value:
                    _COUNTRY_NAMES[fold_header(value)] = country.alpha_3
    found = _COUNTRY_NAMES.get(fold_header(text))
    if found is None:
        raise ValueError("not a country (an ISO 3166 code or its English name)")
    return found


def read_integer(cell: Cell) -> int:
    if isinstance(cell, int | float) and float(cell).is_integer():
        return int(cell)
    text = str(cell).strip()
    if not re.fullmatch(r"\d+(\.0+)?", text):
        raise ValueError("not a whole number")
    return int(float(text))


def read_text(cell: Cell) -> str:
    if isinstance(cell, dt.datetime | dt.date):
        return cell.isoformat()[:10]
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # a number typed in a spreadsheet: 12345.0 is "12345"
    return str(cell)


def read_cell(name: str, cell: Cell, mapping: Mapping) -> Any:
    """One field's value from its cell (raises ValueError)."""
    translated = mapping.values.get(name)
    if name in LIST_FIELDS:
        items = [i.strip() for i in read_text(cell).split(mapping.separator) if i.strip()]
        if translated:
            items = [translated.get(fold_header(i), i) for i in items]
        if name in COUNTRY_LIST_FIELDS:
            return [read_country(i) for i in items]
        return items
    if translated and not isinstance(cell, dt.date):
        cell = translated.get(fold_header(read_text(cell)), cell)
    if name in DATE_FIELDS:
        return read_date(cell, mapping.date_order)
    if name in COUNTRY_FIELDS:
        return read_country(cell)
    if name in INTEGER_FIELDS:
        return read_integer(cell)
    return read_text(cell)


def read_row(
    number: int,
    cells: tuple[Cell, ...],
    where: Layout,
    mapping: Mapping,
    problems: list[Problem],
) -> dict[str, Any]:
    """The row's fields by name (empty cells left out); each unreadable cell a problem."""
    values: dict[str, Any] = {}
    for name, (index, header) in where.fields.items():
        cell = cells[index] if index < len(cells) else None
        if cell is None:
            continue
        try:
            values[name] = read_cell(name, cell, mapping)
        except ValueError as exc:
            problems.append(Problem(number, header, str(exc)))
    for name, default in mapping.defaults.items():
        if name not in values and name not in _failed(problems, number, where, name):
            try:
                values[name] = read_cell(name, default, mapping)
            except ValueError as exc:
                problems.append(Problem(number, name, f"the mapping's default: {exc}"))
    return values


def _failed(problems: list[Problem], number: int, where: Layout, name: str) -> set[str]:
    header = where.fields.get(name, (0, name))[1]
    return {name for p in problems if p.row == number and p.column == header}


def column_of(where: Layout, name: str) -> str:
    """The header of the field's column, or the field's name when no column holds it."""
    found = where.fields.get(name)
    return found[1] if found else name
