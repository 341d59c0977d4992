"""``haven backup``: a consistent online snapshot while Haven serves, in one encrypted file.

The database is read in one snapshot: on SQLite a copy made with SQLite's online backup API
(one step, so no writer's transaction is half in it), on PostgreSQL one REPEATABLE READ, READ
ONLY transaction (every table as of the same moment). Rows travel as JSON lines, so a backup
from either engine restores into either. The audit files of the data folder are read before
the snapshot, so the signed head they hold never names entries the snapshot lacks; the
encrypted attachment files the snapshot's rows name are added after it (stored files never
change once written).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import re
import sqlite3
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, func, select
from sqlalchemy.pool import NullPool

from app import __version__
from app.backup.archive import (
    MANIFEST,
    ROWS_PER_PART,
    FileInfo,
    Manifest,
    PartInfo,
    TableInfo,
    encode_row,
    included,
)
from app.backup.container import FORMAT, EncryptingWriter
from app.models import Attachment, Base

NAME_PATTERN = re.compile(r"haven-\d{8}T\d{6}Z(-\d+)?\.havenbak")
Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True)
class BackupReport:
    path: Path
    size: int
    sha256: str
    rows: int
    tables: int
    files: int
    missing_files: int
    removed: list[Path]


class _Sources:
    """The settings a backup reads (named here: app.config sits above this module)."""

    def __init__(self, data_dir: Path, key_file: Path, sqlite_path: Path | None) -> None:
        self.data_dir = data_dir.absolute()
        self.key_file = key_file.absolute()
        self.sqlite_path = sqlite_path


def target_path(to: Path, now: dt.datetime) -> Path:
    """A directory gets a new file named by the time; anything else is the file itself."""
    if to.is_dir():
        base = f"haven-{now.strftime('%Y%m%dT%H%M%SZ')}"
        path, n = to / f"{base}.havenbak", 1
        while path.exists() or path.with_name(path.name + ".part").exists():
            path, n = to / f"{base}-{n}.havenbak", n + 1
        return path
    return to


def rotate(directory: Path, keep: int) -> list[Path]:
    """Remove the oldest of Haven's backups in ``directory`` beyond the newest ``keep``."""
    found = sorted(
        (p for p in directory.iterdir() if NAME_PATTERN.fullmatch(p.name)),
        key=lambda p: (p.stat().st_mtime_ns, p.name),
    )
    removed = found[: max(0, len(found) - keep)]
    for path in removed:
        path.unlink()
    return removed


@contextlib.contextmanager
def _snapshot(engine: Engine, sources: _Sources) -> Iterator[Connection]:
    if engine.dialect.name == "sqlite":
        if sources.sqlite_path is None:
            raise ValueError("an in-memory SQLite database cannot be backed up")
        copy = sources.data_dir / f".backup-{uuid.uuid4().hex}.db"
        try:
            source = sqlite3.connect(str(sources.sqlite_path), timeout=30)
            target = sqlite3.connect(str(copy))
            os.chmod(copy, 0o600)
            try:
                source.backup(target)  # all pages in one step: one consistent state
            finally:
                target.close()
                source.close()
            snap = create_engine(f"sqlite:///{copy}", poolclass=NullPool)
            try:
                with snap.connect() as conn:
                    yield conn
            finally:
                snap.dispose()
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{copy}{suffix}")
        return
    with (
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
        conn.begin(),
    ):
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        yield conn


def _pre_read(sources: _Sources) -> dict[str, bytes]:
    """The data folder's files outside attachments/ (audit checkpoints and head, signing
    identities), read before the snapshot."""
    excluded = set()
    for path in (sources.key_file, sources.sqlite_path):
        if path is not None and path.is_relative_to(sources.data_dir):
            excluded.add(path.relative_to(sources.data_dir))
    out: dict[str, bytes] = {}
    for root, dirs, files in os.walk(sources.data_dir):
        rel_root = Path(root).relative_to(sources.data_dir)
        dirs[:] = [d for d in dirs if not d.startswith(".") and str(rel_root / d) != "attachments"]
        for name in files:
            rel = rel_root / name
            if included(rel, excluded) and (Path(root) / name).is_file():
                out[rel.as_posix()] = (Path(root) / name).read_bytes()
    return out


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> str:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, 0
    tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(data).hexdigest()


def write_backup(
    engine: Engine,
    index_root: bytes,
    data_dir: Path,
    key_file: Path,
    sqlite_path: Path | None,
    to: Path,
    *,
    progress: Progress | None = None,
) -> BackupReport:
    sources = _Sources(data_dir, key_file, sqlite_path)
    now = dt.datetime.now(dt.UTC)
    path = target_path(to, now)
    if path.exists():
        raise FileExistsError(f"{path} exists already")
    partial = path.with_name(path.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as sink:
            writer = EncryptingWriter(sink, index_root, {"created_at": now.isoformat()})
            manifest = _write(engine, sources, writer, now, progress)
            writer.close()
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    return BackupReport(
        path=path,
        size=writer.written,
        sha256=writer.digest.hexdigest(),
        rows=sum(t["rows"] for t in manifest["tables"].values()),
        tables=len(manifest["tables"]),
        files=len(manifest["files"]),
        missing_files=len(manifest["missing_files"]),
        removed=[],
    )


def _write(
    engine: Engine,
    sources: _Sources,
    writer: IO[bytes] | EncryptingWriter,
    now: dt.datetime,
    progress: Progress | None,
) -> Manifest:
    early = _pre_read(sources)
    tables: dict[str, TableInfo] = {}
    files: dict[str, FileInfo] = {}
    missing: list[str] = []
    with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        with _snapshot(engine, sources) as conn:
            revisions = sorted(MigrationContext.configure(conn).get_current_heads())
            ordered = Base.metadata.sorted_tables
            counts = {
                t.name: conn.scalar(select(func.count()).select_from(t)) or 0 for t in ordered
            }
            stored = sorted(
                set(
                    conn.scalars(
                        select(Attachment.storage_key).where(Attachment.deleted_at.is_(None))
                    )
                )
            )
            total = sum(counts.values()) + len(stored) + len(early)
            done = 0
            for table in ordered:
                columns = list(table.columns)
                info: TableInfo = {"columns": [c.name for c in columns], "rows": 0, "parts": []}
                query = select(*columns).order_by(*table.primary_key.columns)
                result = conn.execution_options(stream_results=True, yield_per=5000).execute(query)
                buffer, rows = bytearray(), 0

                def flush(info: TableInfo = info, name: str = table.name) -> None:
                    nonlocal buffer, rows
                    if not rows:
                        return
                    part = f"db/{name}/{len(info['parts']):06d}.jsonl"
                    digest = _add(tar, part, bytes(buffer))
                    info["parts"].append(PartInfo(name=part, rows=rows, sha256=digest))
                    info["rows"] += rows
                    buffer, rows = bytearray(), 0

                for row in result:
                    buffer += encode_row(row)
                    rows += 1
                    if rows >= ROWS_PER_PART:
                        n = rows
                        flush()
                        done += n
                        if progress:
                            progress("tables", done, total)
                n = rows
                flush()
                done += n
                if progress:
                    progress("tables", done, total)
                tables[table.name] = info
        attachments = sources.data_dir / "attachments"
        for key in stored:
            try:
                data = (attachments / key).read_bytes()
            except FileNotFoundError:
                missing.append(f"attachments/{key}")  # erased after the snapshot
            else:
                files[f"attachments/{key}"] = FileInfo(
                    size=len(data), sha256=_add(tar, f"files/attachments/{key}", data)
                )
            done += 1
            if progress:
                progress("files", done, total)
        for name, data in sorted(early.items()):
            files[name] = FileInfo(size=len(data), sha256=_add(tar, f"files/{name}", data))
            done += 1
            if progress:
                progress("files", done, total)
        manifest = Manifest(
            format=FORMAT,
            created_at=now.isoformat(),
            haven_version=__version__,
            dialect=engine.dialect.name,
            revisions=revisions,
            tables=tables,
            files=files,
            missing_files=missing,
        )
        _add(tar, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
    return manifest
