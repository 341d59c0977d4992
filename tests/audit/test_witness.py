"""Every committed batch of audit entries gets a signed head (issue 13, item 7).

A database administrator who deletes the last entries and rewrites the head row, before any
periodic checkpoint, must still be caught: by the signed head kept in the data directory, and
by the witness (HAVEN_AUDIT_WITNESS) outside the database host when one is configured.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete

from app.audit import chain, checkpoints
from app.config import production_problems
from app.db import transaction
from app.models.audit import AuditCheckpoint
from tests.factories import login, make_user
from tests.test_config import make_keyring, production_settings

from .support import entries, haven_audit_verify, head, verify_here
from .test_tamper import CUT, cut_tail

WITNESS_FILE = "haven-audit-witness.jsonl"


def busy(app: FastAPI, rounds: int = 5) -> int:
    """Some real requests, each its own commit; no checkpoint is written on purpose."""
    auditor = make_user(app, "auditor")
    with TestClient(app) as client:
        headers = login(client, auditor)
        for _ in range(rounds):
            assert client.get("/api/v1/audit?limit=1", headers=headers).status_code == 200
            assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    with transaction(app.state.sessionmaker) as session:  # no periodic checkpoint so far
        session.execute(delete(AuditCheckpoint))
    (app.state.settings.data_dir / checkpoints.CHECKPOINT_FILE).unlink(missing_ok=True)
    return len(entries(app))


def witness_lines(directory: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (directory / WITNESS_FILE).read_text().splitlines()]


def test_cutting_the_last_commits_is_detected_without_a_witness(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    size = busy(app)
    cut_tail(app, size)
    result = haven_audit_verify(app)
    assert result.code == 1, (result.stdout, result.stderr)
    assert f"entry {size - CUT + 1}" in result.stdout
    assert "missing" in result.stdout
    assert f"saw {size} entries" in result.stdout


def test_cutting_the_last_commits_is_detected_by_the_witness_directory(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    """The administrator also removes every trace on the database host: the stored
    checkpoints and the data directory's signed head. The witness elsewhere still saw it."""
    witness = tmp_path / "witness-mount"
    witness.mkdir()
    app = fresh_database(audit_witness=str(witness))
    size = busy(app)
    cut_tail(app, size)
    for leftover in app.state.settings.data_dir.glob("audit-*"):
        leftover.unlink()
    result = haven_audit_verify(app)
    assert result.code == 1, (result.stdout, result.stderr)
    assert f"entry {size - CUT + 1}" in result.stdout
    assert "witness" in result.stdout
    assert f"saw {size} entries" in result.stdout
    in_process = verify_here(app)
    assert not in_process.ok
    assert in_process.first_bad == size - CUT + 1


def test_the_witness_directory_receives_a_signed_head_per_commit(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    witness = tmp_path / "witness-mount"
    witness.mkdir()
    app = fresh_database(audit_witness=str(witness))
    busy(app, rounds=3)
    lines = witness_lines(witness)
    rows = entries(app)
    # one line per commit that appended entries (the sign-in and three reads, one entry each),
    # and the newest line names the chain's head
    sizes = [int(str(line["size"])) for line in lines]
    assert sizes == [r["seq"] for r in rows] == [1, 2, 3, 4]
    newest = lines[-1]
    assert newest["size"] == len(rows) == head(app)[0]
    assert base64.b64decode(str(newest["head"])) == rows[-1]["entry_hash"]
    public = app.state.crypto.provider.audit_signing_key().public_key()
    by_size = {r["seq"]: r["entry_hash"] for r in rows}
    for line in lines:
        found = checkpoints.parse_line(json.dumps(line), "witness")
        assert checkpoints.signature_ok(found, public)
        assert found.head == by_size[found.size]
    assert chain.verify(rows).ok
    ok = haven_audit_verify(app)
    assert ok.code == 0, (ok.stdout, ok.stderr)
    assert "witness" in ok.stdout


def test_a_forged_witness_line_is_refused(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    witness = tmp_path / "witness-mount"
    witness.mkdir()
    app = fresh_database(audit_witness=str(witness))
    size = busy(app, rounds=2)
    path = witness / WITNESS_FILE
    lines = path.read_text().splitlines()
    doc = json.loads(lines[-1])
    doc["size"] = size + 50
    path.write_text("\n".join([*lines, json.dumps(doc)]) + "\n")
    result = verify_here(app)
    assert not result.ok
    assert "bad signature" in (result.reason or "")


@pytest.mark.parametrize("value", ["relative/dir", "ftp://witness.example/heads", "http://x.test"])
def test_a_witness_that_is_not_an_absolute_directory_or_https_is_refused(
    fresh_database: Callable[..., FastAPI], value: str
) -> None:
    with pytest.raises(ValueError, match="HAVEN_AUDIT_WITNESS"):
        fresh_database(audit_witness=value)


class _Receiver(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(body)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_an_https_witness_receives_the_signed_heads_and_a_copy_catches_a_cut(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    """The endpoint gets each head as a JSON POST (plain http only because the test host is
    in HAVEN_WEBHOOK_ALLOW_HOSTS); what it kept, verified with --witness, catches a cut
    that the database host's own traces no longer show."""
    handler = type("Receiver", (_Receiver,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/haven-heads"
        app = fresh_database(audit_witness=url, webhook_allow_hosts="127.0.0.1")
        size = busy(app, rounds=3)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any(json.loads(body)["size"] == size for body in handler.received):
                break
            time.sleep(0.05)
    finally:
        server.shutdown()
        server.server_close()
    docs = [json.loads(body) for body in handler.received]
    assert docs and max(doc["size"] for doc in docs) == size
    assert set(docs[0]) == {"size", "head", "at", "note", "signature"}
    copy = tmp_path / "received.jsonl"
    copy.write_text("".join(json.dumps(doc) + "\n" for doc in docs))

    intact = verify_here(app)
    assert intact.ok
    assert "not read back" in (intact.witness or "")

    cut_tail(app, size)
    for leftover in app.state.settings.data_dir.glob("audit-*"):
        leftover.unlink()
    result = haven_audit_verify(app, "--witness", str(copy))
    assert result.code == 1, (result.stdout, result.stderr)
    assert f"entry {size - CUT + 1}" in result.stdout
    assert f"saw {size} entries" in result.stdout


def test_an_edited_or_garbled_local_head_is_refused(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    size = busy(app, rounds=2)
    path = app.state.settings.data_dir / checkpoints.HEAD_FILE
    doc = json.loads(path.read_text())
    assert doc["size"] == size
    doc["size"] = size - 1  # made to agree with a shortened chain: the signature no longer does
    path.write_text(json.dumps(doc) + "\n")
    assert "bad signature" in (verify_here(app).reason or "")
    path.write_text("{not json")
    assert "bad signature" in (verify_here(app).reason or "")


def test_production_refuses_a_witness_directory_missing_or_inside_the_data_directory(
    tmp_path: Path,
) -> None:
    settings = production_settings(tmp_path)
    make_keyring(settings.key_file, development=False)
    assert production_problems(settings) == []
    missing = settings.model_copy(update={"audit_witness": str(tmp_path / "absent")})
    assert any("does not exist" in p for p in production_problems(missing))
    inside = settings.data_dir / "witness"
    inside.mkdir(parents=True)
    same = settings.model_copy(update={"audit_witness": str(inside.absolute())})
    assert any("another mount" in p for p in production_problems(same))
    elsewhere = tmp_path / "other-mount"
    elsewhere.mkdir()
    fine = settings.model_copy(update={"audit_witness": str(elsewhere)})
    assert production_problems(fine) == []
