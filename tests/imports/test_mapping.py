"""Reading and mapping a sheet (pure): encodings, delimiters, headers, dates, countries, TOML."""

from __future__ import annotations

import datetime as dt

import pytest

from app.imports.mapping import (
    PEOPLE_COLUMNS,
    Mapping,
    MappingError,
    layout,
    read_country,
    read_date,
)
from app.imports.reading import ReadError, read
from tests.imports.support import HEADER, csv_bytes, person, xlsx_bytes


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8", ","), ("utf-8-sig", ","), ("utf-8", ";"), ("utf-16", "\t"), ("utf-8", "|")],
)
def test_every_export_reads_to_the_same_header_and_rows(encoding: str, delimiter: str) -> None:
    rows = [person(), person()]
    sheet = read(csv_bytes(rows, encoding=encoding, delimiter=delimiter))
    assert sheet.header == HEADER
    read_rows = list(sheet.rows)
    assert [r.number for r in read_rows] == [2, 3]
    assert read_rows[1].cells[1] == rows[1]["Full name"]


def test_blank_lines_are_skipped_and_rows_keep_the_spreadsheets_numbers() -> None:
    raw = b"\n\nfull_name,date_of_birth\nA,2000-01-01\n,\nB,2000-01-02\n"
    sheet = read(raw)
    assert sheet.header == ("full_name", "date_of_birth")
    assert [(r.number, r.cells[0]) for r in sheet.rows] == [(4, "A"), (6, "B")]


def test_xlsx_keeps_date_cells() -> None:
    sheet = read(xlsx_bytes([person()]), name="x.xlsx")
    assert sheet.kind == "xlsx"
    (row,) = list(sheet.rows)
    assert isinstance(row.cells[2], dt.date)


def test_unreadable_files_are_refused_without_quoting_them() -> None:
    with pytest.raises(ReadError):
        read(b"\xff\xfe\x00")  # a UTF-16 mark over an odd number of bytes
    with pytest.raises(ReadError):
        read(b"caf\xe9,x\n")  # Latin-1
    with pytest.raises(ReadError):
        read(b"PK\x03\x04garbage", name="x.xlsx")
    with pytest.raises(ReadError):
        read(b"\n\n")


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("2024-03-01", None, dt.date(2024, 3, 1)),
        ("2024-03-01", "month-first", dt.date(2024, 3, 1)),  # ISO is always ISO
        ("03/04/2021", "day-first", dt.date(2021, 4, 3)),
        ("03.04.2021", "day-first", dt.date(2021, 4, 3)),
        ("03/04/2021", "month-first", dt.date(2021, 3, 4)),
        ("13/04/2021", "day-first", dt.date(2021, 4, 13)),
    ],
)
def test_dates(text: str, order: str | None, expected: dt.date) -> None:
    assert read_date(text, order) == expected


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("03/04/2021", None),  # ambiguous without an order: never a guess
        ("13/04/2021", None),  # even when only one reading is a date
        ("13/04/2021", "month-first"),
        ("03/04/21", "day-first"),  # a two-digit year
        ("2021-02-30", None),
        ("next tuesday", "day-first"),
    ],
)
def test_dates_that_are_errors(text: str, order: str | None) -> None:
    with pytest.raises(ValueError) as caught:
        read_date(text, order)
    assert text not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "code"),
    [("KHM", "KHM"), ("kh", "KHM"), ("Cambodia", "KHM"), ("thailand", "THA"), ("Viet Nam", "VNM")],
)
def test_countries_by_code_or_english_name(text: str, code: str) -> None:
    assert read_country(text) == code


def test_an_unknown_country_is_an_error() -> None:
    with pytest.raises(ValueError):
        read_country("Narnia")


def test_headers_match_fields_by_name_alias_or_mapping() -> None:
    header = ("Case no.", "Full Name", "DOB", "passport", "Notes about", "")
    mapping = Mapping.from_toml('[columns]\nexternal_reference = "case no."\n')
    where = layout(header, mapping, PEOPLE_COLUMNS)
    assert {k: h for k, (_, h) in where.fields.items()} == {
        "external_reference": "Case no.",
        "full_name": "Full Name",
        "date_of_birth": "DOB",
        "document_number": "passport",
    }
    assert where.unused == ("Notes about",)
    with pytest.raises(MappingError):
        layout(header, Mapping.from_toml('[columns]\nfull_name = "Nom"\n'), PEOPLE_COLUMNS)


@pytest.mark.parametrize(
    "text",
    [
        "[columns\n",
        "[colums]\n",
        '[columns]\nnot_a_field = "x"\n',
        '[dates]\norder = "year-first"\n',
        '[lists]\nseparator = ";;"\n',
        "[values.sex]\nF = 1\n",
    ],
)
def test_a_wrong_mapping_says_where(text: str) -> None:
    with pytest.raises(MappingError):
        Mapping.from_toml(text)
