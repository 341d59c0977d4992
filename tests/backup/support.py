"""Deployments to back up and restore into, on the engine under test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI

from app.backup import service
from app.backup.snapshot import BackupReport
from app.config import Settings
from tests.conftest import database_url, make_settings


def take_backup(app: FastAPI, to: Path, *, keep: int | None = None) -> BackupReport:
    state = app.state
    return service.backup(
        state.settings, state.engine, state.crypto, state.sessionmaker, to, keep=keep
    )


@contextmanager
def empty_target(root: Path, keyring: Path | None) -> Iterator[Settings]:
    """Settings for an empty database (engine under test) and data folder under ``root``,
    with a copy of ``keyring`` in place when given (a restore needs the keyring first)."""
    root.mkdir(parents=True, exist_ok=True)
    with database_url(root) as url:
        settings = make_settings(root, url)
        if keyring is not None:
            settings.key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copy(keyring, settings.key_file)
        yield settings


def files_in(directory: Path) -> list[str]:
    if not directory.exists():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())
