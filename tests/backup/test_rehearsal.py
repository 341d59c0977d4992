"""The rehearsed restore, as an IT volunteer would run it on the day: a backup taken with
`haven backup` while staff keep writing, a fresh machine (empty database and folder, no
keyring), the keyring rebuilt from 3 of 5 trustees' shares with `haven keys recover`,
`haven restore`, and then the MISSION.md scenarios pass against the restored instance.
On the PostgreSQL run every database involved is PostgreSQL."""

from __future__ import annotations

import inspect
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.main import create_app
from tests import test_scenarios
from tests.backup.support import empty_target
from tests.conftest import fresh_address
from tests.factories import Team, login
from tests.faults.support import haven

API = "/api/v1"
pytestmark = pytest.mark.slow  # real `haven` processes


def test_backup_under_load_recover_keyring_from_three_shares_restore_and_scenarios_pass(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    settings = app.state.settings
    answered: list[tuple[str, str, float]] = []
    stop = threading.Event()
    with TestClient(app, client=(fresh_address(), 5000)) as client:
        team = Team(app, client)
        caseworker = team.caseworker
        person = team.person(caseworker, full_name="Before the backup")
        case = team.case(caseworker, person)
        team.note(caseworker, case["id"], "Interview notes.")

        def load() -> None:
            with TestClient(app, client=(fresh_address(), 5000)) as writer:
                while not stop.is_set():
                    name = f"Load {uuid.uuid4().hex[:8]}"
                    response = writer.post(
                        f"{API}/individuals",
                        json={"full_name": name, "nationalities": ["KHM"]},
                        headers=caseworker.headers,
                    )
                    assert response.status_code == 201, response.text
                    answered.append((response.json()["id"], name, time.monotonic()))

        thread = threading.Thread(target=load)
        thread.start()
        try:
            while len(answered) < 3:
                time.sleep(0.01)
            started = time.monotonic()
            backups = tmp_path / "backups"
            backups.mkdir()
            made = haven(settings, tmp_path, "backup", "--to", str(backups), "--keep", "7")
        finally:
            stop.set()
            thread.join()
    assert made.returncode == 0, made.stderr
    assert "sha256 " in made.stdout and "size " in made.stdout
    (backup,) = backups.glob("haven-*.havenbak")
    escrowed = haven(settings, tmp_path, "keys", "escrow", "--out", str(tmp_path / "shares"))
    assert escrowed.returncode == 0, escrowed.stderr
    shares = sorted((tmp_path / "shares").glob("*.txt"))
    app.state.engine.dispose()

    with empty_target(tmp_path / "new-machine", None) as target:
        assert not target.key_file.exists()
        recovered = haven(
            target, tmp_path, "keys", "recover", str(shares[4]), str(shares[0]), str(shares[2])
        )
        assert recovered.returncode == 0, recovered.stderr
        assert target.key_file.read_bytes() == settings.key_file.read_bytes()
        restored_run = haven(target, tmp_path, "restore", "--quiet", str(backup))
        assert restored_run.returncode == 0, restored_run.stdout + restored_run.stderr
        assert "the restored deployment passed every check" in restored_run.stdout
        assert "audit chain intact" in restored_run.stdout

        restored = create_app(target)
        try:
            with TestClient(restored, client=(fresh_address(), 5000)) as client:
                headers = login(client, caseworker.user)
                for ident, name, at in answered:
                    if at < started:  # answered before the backup began: it must be there
                        response = client.get(f"{API}/individuals/{ident}", headers=headers)
                        assert response.status_code == 200, response.text
                        assert response.json()["full_name"] == name
                scenarios = [
                    (name, test)
                    for name, test in vars(test_scenarios).items()
                    if name.startswith("test_scenario_") and callable(test)
                ]
                assert len(scenarios) >= 6
                for _name, test in scenarios:
                    office = test_scenarios.Office(restored, client)
                    wanted = inspect.signature(test).parameters
                    arguments = {"office": office, "app": restored}
                    test(**{k: v for k, v in arguments.items() if k in wanted})
        finally:
            restored.state.engine.dispose()
