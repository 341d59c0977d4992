"""The embedded database's files are the service user's alone (0600), like the folder (0700).

SQLite creates haven.db with the process's umask (0644 under the usual 022), and its -wal and
-shm files with the database file's mode: anyone on the host could read every sealed column,
the blind indexes and the audit trail. Files left 0644 by an older version are narrowed on start.
PostgreSQL keeps its files itself: these tests run on SQLite only.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.db import SQLITE_MMAP_BYTES
from app.main import create_app
from tests.conftest import make_settings
from tests.factories import API, Team

SUFFIXES = ("", "-wal", "-shm")


@pytest.fixture
def build(tmp_path: Path) -> Iterator[Callable[[], FastAPI]]:
    """Apps on one SQLite file of their own, whatever engine the suite runs on."""
    apps: list[FastAPI] = []
    url = f"sqlite:///{tmp_path / 'db' / 'haven.db'}"

    def make() -> FastAPI:
        application = create_app(make_settings(tmp_path, url))
        apps.append(application)
        return application

    yield make
    for application in apps:
        application.state.engine.dispose()


def _modes(path: Path) -> dict[str, int]:
    return {
        s: os.stat(f"{path}{s}").st_mode & 0o777 for s in SUFFIXES if Path(f"{path}{s}").exists()
    }


def _modes_in_use(app: FastAPI) -> dict[str, int]:
    """The files' modes while the app is up and has written (WAL and shm exist only then)."""
    with TestClient(app) as client:
        team = Team(app, client)  # an organisation, a user, a sign-in: rows and audit entries
        assert client.get(f"{API}/auth/me", headers=team.caseworker.headers).status_code == 200
        return _modes(app.state.settings.sqlite_path)


def test_database_wal_and_shm_are_created_0600(build: Callable[[], FastAPI]) -> None:
    old = os.umask(0o022)  # the usual umask, whatever the test runner's is
    try:
        modes = _modes_in_use(build())
    finally:
        os.umask(old)
    assert modes == dict.fromkeys(SUFFIXES, 0o600)


def test_files_left_readable_are_narrowed_on_start(build: Callable[[], FastAPI]) -> None:
    path = build().state.settings.sqlite_path
    # Another process holds the database open in WAL mode, its files as an older Haven left them.
    holder = sqlite3.connect(path)
    try:
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("CREATE TABLE IF NOT EXISTS held (x INTEGER)")
        holder.execute("INSERT INTO held VALUES (1)")
        holder.commit()
        for suffix in SUFFIXES:
            os.chmod(f"{path}{suffix}", 0o644)
        build()
        assert _modes(path) == dict.fromkeys(SUFFIXES, 0o600)
    finally:
        holder.close()


def test_connections_read_the_database_through_a_memory_map(
    build: Callable[[], FastAPI],
) -> None:
    """Each audit batch's commit empties the other connections' page caches; mapped, their
    pages come back without a system call each (``app.db.SQLITE_MMAP_BYTES``)."""
    application = build()
    with application.state.engine.connect() as connection:
        mapped = connection.exec_driver_sql("PRAGMA mmap_size").scalar()
    assert mapped == SQLITE_MMAP_BYTES
