"""`haven keys rotate` killed with SIGKILL part-way through a few thousand data keys, while
`haven serve` keeps answering: every record stays readable, and the next run resumes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.crypto.keyring import FileKeyProvider
from app.db import read_only, transaction
from app.models.keys import KeyEncryptionKey, RecordKey
from tests.delivery.processes import environment
from tests.factories import make_organisation, make_user
from tests.faults.support import (
    TIMEOUT,
    add_synthetic_people,
    assert_audit_chain_verifies,
    haven,
    read_everyone,
    serving,
)

pytestmark = pytest.mark.slow  # real processes, killed

PEOPLE = 2000
BATCH = 50


def _versions(app: FastAPI) -> dict[int, int]:
    """Live data keys per key-encryption-key version (read without taking SQLite's write lock,
    which the rotation would otherwise have to wait for)."""
    with transaction(app.state.sessionmaker) as session:
        read_only(session)
        rows = session.execute(
            select(RecordKey.kek_version, func.count())
            .where(RecordKey.wrapped.is_not(None))
            .group_by(RecordKey.kek_version)
        ).all()
    return {version: count for version, count in rows}


def _completed(app: FastAPI) -> dict[int, bool]:
    """Each KEK version the database knows, and whether its rotation completed."""
    with transaction(app.state.sessionmaker) as session:
        read_only(session)
        return {
            kek.version: kek.rotation_completed_at is not None
            for kek in session.scalars(select(KeyEncryptionKey))
        }


def test_a_rotation_killed_part_way_leaves_everything_readable_and_resumes(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    settings = app.state.settings
    supervisor = make_user(app, "supervisor", organisation=make_organisation(app))
    add_synthetic_people(app, supervisor, PEOPLE)
    total = sum(_versions(app).values())
    assert _versions(app) == {1: total} and total >= PEOPLE

    # No data key cache in the server: every read below unwraps its keys from the database.
    with (
        serving(settings, tmp_path, HAVEN_DATA_KEY_CACHE_SECONDS="0") as server,
        server.client(supervisor) as client,
    ):
        names = read_everyone(client)
        assert len(names) == PEOPLE

        rotation = subprocess.Popen(
            [sys.executable, "-m", "app", "keys", "rotate", "--batch-size", str(BATCH)],
            env=environment(settings, PYTHONUNBUFFERED="1"),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + TIMEOUT * 2
            while _versions(app).get(2, 0) < 2 * BATCH:  # two batches committed: under way
                assert rotation.poll() is None, rotation.communicate()[0].decode()
                assert time.monotonic() < deadline, "the rotation never got going"
                time.sleep(0.01)
            rotation.send_signal(signal.SIGKILL)
            assert rotation.wait(10) == -signal.SIGKILL
        finally:
            if rotation.poll() is None:
                rotation.kill()
            killed_output = rotation.communicate()[0].decode(errors="replace")

        # As designed: the new KEK is current in the keyring (the old one stays), the database
        # knows the new version with its rotation unfinished, and each data key is wrapped
        # under one version or the other, a batch at a time.
        keyring = FileKeyProvider(settings.key_file)
        assert (keyring.kek_versions(), keyring.current_kek_version()) == ([1, 2], 2)
        assert _completed(app).get(2) is False
        halfway = _versions(app)
        assert set(halfway) == {1, 2} and sum(halfway.values()) == total, halfway
        assert halfway[2] % BATCH == 0, halfway  # batches commit whole or not at all

        assert read_everyone(client) == names  # the running server reads both versions
        assert_audit_chain_verifies(settings, tmp_path)

        resumed = haven(settings, tmp_path, "keys", "rotate", "--batch-size", "1000")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "resuming rotation to KEK v2" in resumed.stdout, resumed.stdout
        assert (
            f"KEK version 2 is current; {halfway[1]} data keys re-wrapped (resumed)"
            in resumed.stdout
        ), resumed.stdout

        assert _versions(app) == {2: total}
        assert _completed(app)[2] is True
        assert FileKeyProvider(settings.key_file).kek_versions() == [1, 2]
        assert read_everyone(client) == names
    assert_audit_chain_verifies(settings, tmp_path)
    print(
        f"\nkilled with {halfway[2]} of {total} data keys re-wrapped; the second run printed:\n"
        + resumed.stdout.strip().splitlines()[-1]
        + f"\n(first run's last output: {killed_output.strip()[-120:]!r})"
    )
