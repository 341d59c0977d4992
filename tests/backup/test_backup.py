"""haven backup and haven restore: a consistent snapshot under writes, one encrypted file that
never holds the keyring, refused whole when damaged, restored (SQLite into the engine under
test too) and proven."""

from __future__ import annotations

import io
import tarfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select

from app.backup import service
from app.backup.container import BackupError, DecryptingReader, decrypt_chunks, read_header
from app.db import make_engine
from app.main import create_app
from app.models import AuditEntry, HistoryEntry, Individual, RecordKey
from app.reactions import TABLE
from tests.backup.support import empty_target, files_in, take_backup
from tests.conftest import fresh_address, make_settings
from tests.factories import Team, db, login

API = "/api/v1"


def _count(app: FastAPI, model: type, *where: object) -> int:
    with db(app) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def test_a_backup_taken_during_writes_restores_each_answered_write_whole_or_not_at_all(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    with TestClient(app, client=(fresh_address(), 5000)) as client:
        team = Team(app, client)
        caseworker = team.caseworker
        before = {team.person(caseworker, full_name=f"Before {i}"): f"Before {i}" for i in range(3)}
        answered: list[tuple[uuid.UUID, str, float, float]] = []  # id, name, sent, answered
        stop = threading.Event()
        failures: list[str] = []

        def write() -> None:
            with TestClient(app, client=(fresh_address(), 5000)) as writer:
                while not stop.is_set():
                    name = f"During {uuid.uuid4().hex[:8]}"
                    sent = time.monotonic()
                    response = writer.post(
                        f"{API}/individuals",
                        json={"full_name": name, "nationalities": ["KHM"], "aliases": [name]},
                        headers=caseworker.headers,
                    )
                    if response.status_code != 201:
                        failures.append(response.text)
                        return
                    answered.append(
                        (uuid.UUID(response.json()["id"]), name, sent, time.monotonic())
                    )

        thread = threading.Thread(target=write)
        thread.start()
        try:
            while len(answered) < 5 and not failures:
                time.sleep(0.01)
            started = time.monotonic()
            report = take_backup(app, tmp_path / "under-load.havenbak")
            finished = time.monotonic()
            count = len(answered)
            while len(answered) < count + 3 and not failures:
                time.sleep(0.01)
        finally:
            stop.set()
            thread.join()
    assert failures == []
    assert report.path.exists() and report.size > 0

    with empty_target(tmp_path / "restored", app.state.settings.key_file) as target:
        outcome = service.restore(target, report.path, reactions=TABLE)
        assert outcome.proof.ok, outcome.proof.lines()
        restored = create_app(target)
        try:
            present, absent = [], []
            for person, name, sent, done in answered:
                if _count(restored, Individual, Individual.id == person):
                    present.append((person, name, sent, done))
                else:
                    absent.append((person, name, sent, done))
            # Whole: a person in the backup comes with their key, history and audit entry; a
            # person not in it left nothing behind anywhere.
            for person, *_ in present:
                assert _count(restored, RecordKey, RecordKey.owner_id == person) >= 1
                assert _count(restored, HistoryEntry, HistoryEntry.individual_id == person) >= 1
                assert _count(restored, AuditEntry, AuditEntry.subject_id == person) >= 1
            for person, *_ in absent:
                assert _count(restored, RecordKey, RecordKey.owner_id == person) == 0
                assert _count(restored, HistoryEntry, HistoryEntry.individual_id == person) == 0
                assert _count(restored, AuditEntry, AuditEntry.subject_id == person) == 0
            # Answered before the backup began: in it; sent after it ended: not in it.
            assert [p for p in absent if p[3] < started] == []
            assert [p for p in present if p[2] > finished] == []
            assert len(present) >= 5 and len(absent) >= 3
            # And the restored server reads them back, decrypted, for the same caseworker.
            with TestClient(restored, client=(fresh_address(), 5000)) as client:
                headers = login(client, caseworker.user)
                for person, name in [*before.items(), *[(p[0], p[1]) for p in present]]:
                    response = client.get(f"{API}/individuals/{person}", headers=headers)
                    assert response.status_code == 200, response.text
                    assert response.json()["full_name"] == name
        finally:
            restored.state.engine.dispose()


def _backup_of_a_small_deployment(app: FastAPI, to: Path) -> Path:
    with TestClient(app, client=(fresh_address(), 5000)) as client:
        team = Team(app, client)
        person = team.person(team.caseworker, full_name="Sok Dara")
        case = team.case(team.caseworker, person)
        team.note(team.caseworker, case["id"], "Met at the office; documents copied.")
        upload = client.post(
            f"{API}/cases/{case['id']}/attachments",
            files={"file": ("statement.txt", b"a signed statement", "text/plain")},
            headers=team.caseworker.headers,
        )
        assert upload.status_code == 201, upload.text
    return take_backup(app, to).path


def test_a_flipped_byte_anywhere_is_refused_before_anything_is_written(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    path = _backup_of_a_small_deployment(app, tmp_path / "good.havenbak")
    data = path.read_bytes()
    with empty_target(tmp_path / "target", app.state.settings.key_file) as target:
        for offset in (20, 60, len(data) // 3, len(data) // 2, len(data) - 3):
            damaged = bytearray(data)
            damaged[offset] ^= 0x01
            bad = tmp_path / f"flipped-{offset}.havenbak"
            bad.write_bytes(bytes(damaged))
            with pytest.raises(BackupError):
                service.restore(target, bad, reactions=TABLE)
        truncated = tmp_path / "truncated.havenbak"
        truncated.write_bytes(data[: len(data) - 200])
        with pytest.raises(BackupError, match="truncated"):
            service.restore(target, truncated, reactions=TABLE)
        # Nothing was written: no table, no file but the keyring put there for the restore.
        engine = make_engine(target)
        try:
            assert inspect(engine).get_table_names() == []
        finally:
            engine.dispose()
        assert files_in(target.data_dir) == []
        # The intact file restores into the very same target.
        outcome = service.restore(target, path, reactions=TABLE)
        assert outcome.proof.ok, outcome.proof.lines()
        assert outcome.manifest["files"], "the attachment travels with the backup"


def test_a_backup_is_refused_under_another_keyring(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    path = take_backup(app, tmp_path / "b.havenbak").path
    with empty_target(tmp_path / "target", None) as target:
        from app.crypto.keyring import FileKeyProvider

        FileKeyProvider.create(target.key_file, development=True)
        with pytest.raises(BackupError, match="made under another keyring"):
            service.restore(target, path, reactions=TABLE)


def test_the_backup_never_holds_the_keyring_and_its_contents_are_sealed(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    path = _backup_of_a_small_deployment(app, tmp_path / "b.havenbak")
    keyring = app.state.settings.key_file.read_bytes()
    secret = (app.state.settings.data_dir / "secret.key").read_bytes()
    raw = path.read_bytes()
    assert b"Sok Dara" not in raw and b"individual" not in raw  # encrypted as a whole
    with path.open("rb") as source:
        header = read_header(source)
        root = app.state.crypto.provider.index_root_key()
        plain = DecryptingReader(decrypt_chunks(source, header, root)).read()
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        names = tar.getnames()
    assert not [n for n in names if n.endswith(("master.key", "secret.key", "haven.db"))]
    assert names[-1] == "manifest.json"
    assert any(n.startswith("files/attachments/") for n in names)
    assert "files/audit-head.json" in names
    for material in (keyring, secret.strip()):
        assert material not in plain
    # The person's name is ciphertext inside too (fields are sealed before SQL).
    assert b"Sok Dara" not in plain


def test_restore_refuses_a_database_or_folder_that_is_not_empty(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    path = take_backup(app, tmp_path / "b.havenbak").path
    with pytest.raises(service.TargetNotEmpty, match="database is not empty"):
        service.restore(app.state.settings, path, reactions=TABLE)
    with empty_target(tmp_path / "target", app.state.settings.key_file) as target:
        target.data_dir.mkdir(parents=True, exist_ok=True)
        (target.data_dir / "left-over.txt").write_text("something")
        with pytest.raises(service.TargetNotEmpty, match="data folder"):
            service.restore(target, path, reactions=TABLE)
        outcome = service.restore(target, path, force=True, reactions=TABLE)
        assert outcome.proof.ok


def test_a_sqlite_deployment_restores_into_the_engine_under_test(tmp_path: Path) -> None:
    """On the PostgreSQL run this is the move of a growing organisation: SQLite → PostgreSQL."""
    source = create_app(make_settings(tmp_path / "src", f"sqlite:///{tmp_path / 'src' / 'h.db'}"))
    try:
        path = _backup_of_a_small_deployment(source, tmp_path / "b.havenbak")
        with TestClient(source, client=(fresh_address(), 5000)) as client:
            team = Team(source, client)
            person = team.person(team.caseworker, full_name="Chea Sophal")
            caseworker = team.caseworker
        path = take_backup(source, tmp_path / "b2.havenbak").path
    finally:
        source.state.engine.dispose()
    with empty_target(tmp_path / "target", source.state.settings.key_file) as target:
        outcome = service.restore(target, path, reactions=TABLE)
        assert outcome.proof.ok, outcome.proof.lines()
        assert outcome.proof.decrypted, "sealed values were sampled"
        restored = create_app(target)
        try:
            with TestClient(restored, client=(fresh_address(), 5000)) as client:
                headers = login(client, caseworker.user)
                response = client.get(f"{API}/individuals/{person}", headers=headers)
                assert response.status_code == 200, response.text
                assert response.json()["full_name"] == "Chea Sophal"
                # New rows after the restore get fresh ids (sequences moved past the restored).
                team = Team(restored, client)
                team.person(team.caseworker, full_name="After the move")
        finally:
            restored.state.engine.dispose()


def test_keep_rotates_the_oldest_backups_out_of_a_directory(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a backup")
    made = [take_backup(app, folder, keep=2) for _ in range(3)]
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted([made[1].path.name, made[2].path.name, "notes.txt"])
    assert made[2].removed == [made[0].path]
