"""Reading a spreadsheet: CSV in whatever delimiter and encoding spreadsheets export, or XLSX.

The file becomes a header (the first non-empty row) and data rows numbered as the spreadsheet
numbers them (the header is row 1 when it is the first line), so a report points at the line
the person sees. Cells stay text, except XLSX date and number cells, which keep their type
(a date cell needs no guessing about its order).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

Cell = str | dt.date | dt.datetime | int | float | None
XLSX_MAGIC = b"PK\x03\x04"
SNIFF_BYTES = 64 * 1024


class ReadError(ValueError):
    """The file cannot be read as a spreadsheet (said without quoting its content)."""


@dataclass(frozen=True)
class Row:
    number: int  # as the spreadsheet numbers it (1-based, the header's row counted)
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Sheet:
    header: tuple[str, ...]
    header_row: int
    kind: str  # "csv" or "xlsx"
    rows: Iterator[Row]


def decode(raw: bytes) -> str:
    """UTF-8 with or without a byte-order mark, or UTF-16 with its mark (as Excel's "Unicode
    text" export writes it)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif raw.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    else:
        encoding = "utf-8"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        raise ReadError(
            "the file is neither UTF-8 nor UTF-16 text; save it as CSV UTF-8 or as XLSX"
        ) from None


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel  # one column, or a sample the sniffer cannot decide: commas


def _csv_rows(text: str) -> Iterator[tuple[int, tuple[Cell, ...]]]:
    sample = text[:SNIFF_BYTES]
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(sample))
    try:
        for cells in reader:
            yield reader.line_num, tuple(cells)
    except csv.Error as exc:
        raise ReadError(f"line {reader.line_num}: not valid CSV ({exc})") from None


def _xlsx_rows(raw: bytes) -> Iterator[tuple[int, tuple[Cell, ...]]]:
    # openpyxl is imported here: only XLSX files need it.
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ReadError(f"not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, tuple(_cell(v) for v in values)
    finally:
        book.close()


def _cell(value: object) -> Cell:
    if value is None or isinstance(value, str | int | float | dt.date):
        return value
    return str(value)


def _blank(cells: tuple[Cell, ...]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def read(raw: bytes, *, name: str = "") -> Sheet:
    """The sheet in ``raw`` (an XLSX workbook's first sheet, or CSV text)."""
    kind = "xlsx" if raw.startswith(XLSX_MAGIC) or name.lower().endswith(".xlsx") else "csv"
    numbered = _xlsx_rows(raw) if kind == "xlsx" else _csv_rows(decode(raw))
    for number, cells in numbered:
        if _blank(cells):
            continue
        header = tuple("" if c is None else str(c).strip() for c in cells)
        rows = (
            Row(n, tuple(_strip(c) for c in data))
            for n, data in numbered
            if not _blank(data)  # blank lines between rows are not people
        )
        return Sheet(header, number, kind, rows)
    raise ReadError("the file has no header row")


def _strip(cell: Cell) -> Cell:
    if isinstance(cell, str):
        cell = cell.strip()
        return cell or None
    return cell


def read_path(path: Path) -> Sheet:
    return read(path.read_bytes(), name=path.name)
