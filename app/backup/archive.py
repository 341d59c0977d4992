"""What goes into a backup and how rows are written: the tables as JSON lines, the data folder's
files (encrypted attachments, audit checkpoints and signed head, signing identities), and the
manifest of hashes and counts. Shared by ``snapshot`` (writing) and ``restore`` (reading)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

from sqlalchemy import Column, Date, DateTime, LargeBinary, Table, TypeDecorator, Uuid

MANIFEST = "manifest.json"
ROWS_PER_PART = 20_000
# Never in a backup: the keyring and the cookie secret (kept apart, escrowed separately), and
# the live SQLite files (the tables travel as rows).
EXCLUDED_NAMES = frozenset({"secret.key", "master.key"})
EXCLUDED_SUFFIXES = ("-wal", "-shm", "-journal", ".part", ".tmp")


class PartInfo(TypedDict):
    name: str
    rows: int
    sha256: str


class TableInfo(TypedDict):
    columns: list[str]
    rows: int
    parts: list[PartInfo]


class FileInfo(TypedDict):
    size: int
    sha256: str


class Manifest(TypedDict):
    format: str
    created_at: str
    haven_version: str
    dialect: str
    revisions: list[str]
    tables: dict[str, TableInfo]
    files: dict[str, FileInfo]
    missing_files: list[str]


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot back up a value of type {type(value).__name__}")


def encode_row(values: Sequence[Any]) -> bytes:
    return json.dumps(list(values), default=_default, separators=(",", ":")).encode() + b"\n"


def _identity(value: Any) -> Any:
    return value


def decoder(column: Column[Any]) -> Callable[[Any], Any]:
    """Turns what ``encode_row`` wrote back into the column's Python value."""
    kind: Any = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, LargeBinary):
        return lambda v: None if v is None else base64.b64decode(v)
    if isinstance(kind, DateTime):
        return lambda v: None if v is None else dt.datetime.fromisoformat(v)
    if isinstance(kind, Date):
        return lambda v: None if v is None else dt.date.fromisoformat(v)
    if isinstance(kind, Uuid):
        return lambda v: None if v is None else uuid.UUID(v)
    return _identity


def table_columns(table: Table) -> list[Column[Any]]:
    return list(table.columns)


def included(relative: Path, excluded: set[Path]) -> bool:
    """Whether a file of the data folder belongs in a backup."""
    name = relative.name
    if name in EXCLUDED_NAMES or name.startswith(".") or name.endswith(EXCLUDED_SUFFIXES):
        return False
    return relative not in excluded
