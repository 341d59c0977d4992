"""Backup and restore as use cases (the ``haven`` command and the tests call these)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app import events
from app.audit import service as audit
from app.audit.verify import verify_all
from app.backup import restore as restoring
from app.backup.archive import Manifest
from app.backup.snapshot import BackupReport, Progress, rotate, write_backup
from app.config import Settings
from app.crypto import Crypto
from app.crypto.keyring import open_provider
from app.db import make_engine, make_sessionmaker, read_only, transaction


class TargetNotEmpty(restoring.RestoreRefused):
    """The database or the data folder already holds something (use force)."""


def backup(
    settings: Settings,
    engine: Engine,
    crypto: Crypto,
    sessions: sessionmaker[Session],
    to: Path,
    *,
    keep: int | None = None,
    progress: Progress | None = None,
) -> BackupReport:
    report = write_backup(
        engine,
        crypto.provider.index_root_key(),
        settings.data_dir,
        settings.key_file,
        settings.sqlite_path,
        to.absolute(),
        progress=progress,
    )
    removed = rotate(to, keep) if keep is not None and to.is_dir() else []
    with transaction(sessions) as session:
        audit.record(
            session,
            actor=None,
            action="deployment.backup",
            details={"size": report.size, "sha256": report.sha256, "rows": report.rows},
        )
    return BackupReport(**{**report.__dict__, "removed": removed})


@dataclass(frozen=True)
class RestoreOutcome:
    manifest: Manifest
    proof: restoring.Proof
    check_seconds: float
    write_seconds: float
    prove_seconds: float


def restore(
    settings: Settings,
    path: Path,
    *,
    force: bool = False,
    check_progress: Progress | None = None,
    write_progress: Progress | None = None,
    reactions: events.Table | None = None,
) -> RestoreOutcome:
    """Check the whole file (nothing written on any failure), refuse a non-empty target
    unless ``force``, write, then prove. The keyring must already be in place."""
    crypto = Crypto(open_provider(settings, create=False))
    index_root = crypto.provider.index_root_key()
    started = time.perf_counter()
    manifest = restoring.check(path, index_root, check_progress)
    checked = time.perf_counter()
    engine = make_engine(settings)
    try:
        allowed = {settings.key_file, settings.data_dir.absolute() / "secret.key"}
        if settings.sqlite_path is not None:
            allowed |= {Path(f"{settings.sqlite_path}{s}") for s in ("", "-wal", "-shm")}
        if not force:
            if not restoring.database_is_empty(engine):
                raise TargetNotEmpty(
                    "the database is not empty: restore into an empty one, or --force"
                )
            if not restoring.data_dir_is_empty(settings.data_dir, allowed):
                raise TargetNotEmpty(
                    f"the data folder {settings.data_dir} is not empty: use an empty one, or "
                    "--force"
                )
        restoring.write(path, index_root, engine, settings.data_dir, manifest, write_progress)
        written = time.perf_counter()
        factory = make_sessionmaker(engine, crypto, settings)
        if reactions is not None:
            factory = events.attach(factory, reactions)

        def chain(session: Session) -> tuple[bool, str]:
            result = verify_all(session, crypto.provider, settings.data_dir)
            return result.ok, result.summary()

        with factory() as session:
            read_only(session)
            proof = restoring.prove(session, crypto.provider, settings.data_dir, manifest, chain)
        proved = time.perf_counter()
        with transaction(factory) as session:
            audit.record(
                session,
                actor=None,
                action="deployment.restore",
                details={"proved": proof.ok, "backup_created_at": manifest["created_at"]},
            )
    finally:
        engine.dispose()
    return RestoreOutcome(manifest, proof, checked - started, written - checked, proved - written)
