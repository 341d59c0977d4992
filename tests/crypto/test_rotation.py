"""KEK rotation: every value stays readable, a killed rotation resumes, erasure always wins."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from app.crypto import Pad, UnknownKeyError, crypto_of
from app.crypto.erasure import shred
from app.crypto.keyring import FileKeyProvider
from app.crypto.rotation import rotate
from app.db import transaction
from app.models.keys import KeyEncryptionKey, RecordKey

from .support import (
    NAME,
    assert_all_open,
    cold_sessions,
    seal_names,
    seal_names_in_bulk,
    versions,
)


def _wrapped(app: FastAPI) -> dict[int, bytes | None]:
    with transaction(app.state.sessionmaker) as session:
        return dict(session.execute(select(RecordKey.id, RecordKey.wrapped)).all())


def test_rotation_keeps_every_record_readable(fresh_database: Callable[..., FastAPI]) -> None:
    app = fresh_database()
    factory, provider = app.state.sessionmaker, app.state.crypto.provider
    sealed = seal_names(factory, 300)
    before = _wrapped(app)
    assert provider.current_kek_version() == 1

    started: list[tuple[int, int, bool]] = []
    advanced: list[int] = []
    report = rotate(
        factory,
        provider,
        batch_size=64,
        start=lambda *args: started.append(args),
        advance=advanced.append,
    )

    assert (report.version, report.resumed, report.rewrapped, report.total) == (2, False, 300, 300)
    assert started == [(2, 300, False)]
    assert advanced == [64, 64, 64, 64, 44]
    assert FileKeyProvider(app.state.settings.key_file).current_kek_version() == 2
    after = _wrapped(app)
    assert after.keys() == before.keys()
    assert all(after[i] != before[i] for i in before)  # every key re-wrapped
    with transaction(factory) as session:
        assert versions(session) == {2: 300}
        kek = session.get(KeyEncryptionKey, 2)
        assert kek is not None and kek.rotation_completed_at is not None

    assert_all_open(cold_sessions(app), sealed)  # a restarted service reads everything
    assert_all_open(factory, sealed)  # and so does the running one


def test_rotation_is_repeatable_and_new_keys_use_the_current_version(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    factory, provider = app.state.sessionmaker, app.state.crypto.provider
    sealed = seal_names(factory, 20)
    assert rotate(factory, provider).version == 2
    sealed |= seal_names(factory, 5)  # created under version 2
    with transaction(factory) as session:
        assert versions(session) == {2: 25}
    report = rotate(factory, provider)
    assert (report.version, report.rewrapped, report.resumed) == (3, 25, False)
    # Nothing outdated and no new version asked for: nothing happens.
    idle = rotate(factory, provider, new_version=False)
    assert (idle.version, idle.rewrapped, idle.resumed) == (3, 0, False)
    assert provider.kek_versions() == [1, 2, 3]
    with transaction(factory) as session:
        assert versions(session) == {3: 25}
    assert_all_open(cold_sessions(app), sealed)


def test_interrupted_rotation_resumes_without_starting_a_new_version(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    factory, provider = app.state.sessionmaker, app.state.crypto.provider
    sealed = seal_names(factory, 120)

    class Crash(Exception):
        pass

    batches: list[int] = []

    def crash_after_two_batches(n: int) -> None:
        batches.append(n)
        if len(batches) == 2:
            raise Crash  # the process dies once the second batch has committed

    with pytest.raises(Crash):
        rotate(factory, provider, batch_size=25, advance=crash_after_two_batches)
    with transaction(factory) as session:
        assert versions(session) == {1: 70, 2: 50}
        kek = session.get(KeyEncryptionKey, 2)
        assert kek is not None and kek.rotation_completed_at is None
    assert_all_open(cold_sessions(app), sealed)  # readable while half rotated

    report = rotate(factory, provider, batch_size=25)
    assert (report.version, report.resumed, report.rewrapped, report.total) == (2, True, 70, 70)
    assert provider.kek_versions() == [1, 2]
    with transaction(factory) as session:
        assert versions(session) == {2: 120}
        kek = session.get(KeyEncryptionKey, 2)
        assert kek is not None and kek.rotation_completed_at is not None
    assert_all_open(cold_sessions(app), sealed)


def _haven() -> list[str]:
    script = Path(sys.executable).with_name("haven")
    if script.exists():
        return [str(script)]
    found = shutil.which("haven")
    return [found] if found else [sys.executable, "-m", "app"]


def _cli_env(app: FastAPI) -> dict[str, str]:
    settings = app.state.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env.update(
        HAVEN_DATABASE_URL=settings.database_url,
        HAVEN_DATA_DIR=str(settings.data_dir),
        HAVEN_MASTER_KEY_FILE=str(settings.key_file),
        HAVEN_ENV="development",
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def _writers_held(app: FastAPI) -> Iterator[Callable[[int], int]]:
    """Hold every writer of record_key off while counting rows at a KEK version.

    PostgreSQL queues lock requests fairly, so a table lock waits for the batch in flight and
    then holds the next one back. SQLite's busy handler sleeps and retries, so a rotation that
    commits batch after batch would win every race for the write lock; instead this retries
    BEGIN IMMEDIATE without sleeping, which lands in the gap between two batches.
    """
    engine = app.state.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("LOCK TABLE record_key IN EXCLUSIVE MODE"))
            yield lambda version: conn.scalar(
                select(func.count()).select_from(RecordKey).where(RecordKey.kek_version == version)
            )
        return
    raw = sqlite3.connect(app.state.settings.sqlite_path, timeout=0, isolation_level=None)
    try:
        give_up = time.monotonic() + 30
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError:
                if time.monotonic() > give_up:
                    raise
                time.sleep(0)
        try:
            yield lambda version: raw.execute(
                "SELECT count(*) FROM record_key WHERE kek_version = ?", (version,)
            ).fetchone()[0]
        finally:
            raw.execute("ROLLBACK")
    finally:
        raw.close()


@pytest.mark.slow
def test_rotation_killed_midway_resumes_from_the_command_line(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    factory = app.state.sessionmaker
    total = 2000
    sealed = seal_names_in_bulk(factory, total)
    command = [*_haven(), "keys", "rotate", "--batch-size", "50"]
    env, cwd = _cli_env(app), tmp_path

    first = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    killed_at = None
    deadline = time.monotonic() + 90
    try:
        while first.poll() is None and time.monotonic() < deadline:
            # Count with writers held still, so the kill lands between two batches.
            with _writers_held(app) as count_rewrapped:
                done = count_rewrapped(2)
                if 0 < done < total:
                    first.send_signal(signal.SIGKILL)
                    first.wait(timeout=30)
                    killed_at = done
                    break
            time.sleep(0.002)
    finally:
        if first.poll() is None:
            first.kill()
        output = first.communicate()[0].decode(errors="replace")
    assert killed_at is not None, f"the rotation was not caught midway: {output}"
    assert first.returncode == -signal.SIGKILL

    with transaction(factory) as session:
        assert versions(session) == {1: total - killed_at, 2: killed_at}
    assert killed_at % 50 == 0  # batches commit whole or not at all

    second = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert "(resumed)" in second.stdout
    assert f"KEK version 2 is current; {total - killed_at} data keys re-wrapped" in second.stdout
    assert FileKeyProvider(app.state.settings.key_file).kek_versions() == [1, 2]
    with transaction(factory) as session:
        assert versions(session) == {2: total}
        kek = session.get(KeyEncryptionKey, 2)
        assert kek is not None and kek.rotation_completed_at is not None
    assert_all_open(cold_sessions(app), sealed)


def test_rotation_never_brings_back_an_erased_key(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    factory, provider = app.state.sessionmaker, app.state.crypto.provider
    sealed = seal_names(factory, 10)
    victim = next(iter(sealed))
    with transaction(factory) as session:
        assert shred(session, victim) == 1

    report = rotate(factory, provider)
    assert report.rewrapped == 9
    with transaction(factory) as session:
        row = session.scalars(select(RecordKey).where(RecordKey.owner_id == victim)).one()
        assert row.wrapped is None and row.destroyed_at is not None
        assert row.kek_version == 1
        assert versions(session) == {2: 9}
    survivors = {owner: value for owner, value in sealed.items() if owner != victim}
    assert_all_open(cold_sessions(app), survivors)
    with transaction(cold_sessions(app)) as session, pytest.raises(UnknownKeyError):
        crypto_of(session).open(session, NAME, victim, victim, sealed[victim], pad=Pad.SHORT)


class _EraseDuringBatch:
    """A provider that erases one owner just after the rotation has read its batch."""

    def __init__(self, inner: Any, erase: Callable[[], None]) -> None:
        self._inner, self._erase, self.fired = inner, erase, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def unwrap(self, version: int, wrapped: bytes, aad: bytes) -> bytes:
        if not self.fired:
            self.fired = True
            self._erase()
        return self._inner.unwrap(version, wrapped, aad)


@pytest.mark.skipif(
    os.environ.get("HAVEN_TEST_DATABASE", "sqlite") != "postgresql",
    reason="SQLite serialises writers: a rotation batch holds the write lock from read to write",
)
def test_erasure_racing_a_rotation_batch_wins(fresh_database: Callable[..., FastAPI]) -> None:
    app = fresh_database()
    factory = app.state.sessionmaker
    sealed = seal_names(factory, 10)
    victim = list(sealed)[-1]

    def erase() -> None:
        with transaction(factory) as session:
            assert shred(session, victim) == 1

    racing = _EraseDuringBatch(app.state.crypto.provider, erase)
    rotate(factory, racing)
    assert racing.fired
    with transaction(factory) as session:
        row = session.scalars(select(RecordKey).where(RecordKey.owner_id == victim)).one()
        assert row.wrapped is None and row.destroyed_at is not None
        assert versions(session) == {2: 9}
    with transaction(cold_sessions(app)) as session, pytest.raises(UnknownKeyError):
        crypto_of(session).open(session, NAME, victim, victim, sealed[victim], pad=Pad.SHORT)
    survivors = {owner: value for owner, value in sealed.items() if owner != victim}
    assert_all_open(cold_sessions(app), survivors)
