"""The first rows of a sheet as the mapping reads them, for the supervisor to check before a dry
run (pure: no session)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import islice

from app.imports.mapping import (
    INCIDENT_COLUMNS,
    PEOPLE_COLUMNS,
    Mapping,
    Problem,
    layout,
    read_row,
)
from app.imports.reading import Sheet


@dataclass(frozen=True)
class PreviewRow:
    number: int
    cells: dict[str, str]  # field -> the value as read
    problems: dict[str, str]  # header -> what is wrong


@dataclass(frozen=True)
class Preview:
    columns: list[tuple[str, str]]  # (field, header) in the file's order
    unused: tuple[str, ...]
    rows: list[PreviewRow]


def _shown(value: object) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def preview(sheet: Sheet, mapping: Mapping, kind: str, limit: int = 10) -> Preview:
    known = PEOPLE_COLUMNS if kind == "people" else INCIDENT_COLUMNS
    where = layout(sheet.header, mapping, known)
    columns = sorted(where.fields.items(), key=lambda item: item[1][0])
    rows = []
    for raw in islice(sheet.rows, limit):
        problems: list[Problem] = []
        values = read_row(raw.number, raw.cells, where, mapping, problems)
        rows.append(
            PreviewRow(
                raw.number,
                {name: _shown(value) for name, value in values.items()},
                {p.column: p.message for p in problems},
            )
        )
    return Preview([(name, header) for name, (_, header) in columns], where.unused, rows)
