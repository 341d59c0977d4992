"""`haven serve` killed with SIGKILL in the middle of a large attachment upload: no row without
its file afterwards, the partial file is swept when the service starts again, and the other
attachments still download and decrypt. A starting server leaves an upload in progress alone."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.cases import attachments
from app.db import transaction
from app.models.case import Attachment
from tests.factories import make_organisation, make_user
from tests.faults.support import API, TIMEOUT, assert_audit_chain_verifies, serving

pytestmark = pytest.mark.slow  # real processes, killed

BOUNDARY = "haven-fault-test-boundary"
PIECE = 64 * 1024


class SlowUpload:
    """A multipart upload streamed from a generator that stops after ``head`` bytes of the file
    until ``release`` is called; the response (or the error) arrives in ``result``."""

    def __init__(self, client: httpx.Client, case_id: str, content: bytes, head: int) -> None:
        self.content, self.head = content, head
        self.released = threading.Event()
        self.result: list[Any] = []
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

        def send() -> None:
            try:
                self.result.append(
                    client.post(
                        f"{API}/cases/{case_id}/attachments", content=self._body(), headers=headers
                    )
                )
            except httpx.HTTPError as exc:
                self.result.append(exc)

        self.thread = threading.Thread(target=send, daemon=True)
        self.thread.start()

    def _body(self) -> Iterator[bytes]:
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            'filename="statement.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        for start in range(0, len(self.content), PIECE):
            if start >= self.head:
                # Stop here until released; a server killed meanwhile never gets the rest.
                self.released.wait(TIMEOUT)
            yield self.content[start : start + PIECE]
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    def finish(self) -> Any:
        self.released.set()
        self.thread.join(TIMEOUT)
        assert self.result, "the upload never finished"
        return self.result[0]


def _files(directory: Path) -> set[str]:
    return {path.name for path in directory.iterdir()} if directory.exists() else set()


def _written(directory: Path, timeout: float = TIMEOUT) -> Path:
    """The one partial upload file, once the server has written encrypted chunks into it."""
    deadline = time.monotonic() + timeout
    while True:
        partial = [directory / n for n in _files(directory) if n.endswith(".part")]
        if len(partial) == 1 and partial[0].stat().st_size > PIECE:
            return partial[0]
        assert time.monotonic() < deadline, f"no upload being written: {_files(directory)}"
        time.sleep(0.01)


def _live_keys(app: FastAPI) -> set[str]:
    with transaction(app.state.sessionmaker) as session:
        return set(
            session.scalars(select(Attachment.storage_key).where(Attachment.deleted_at.is_(None)))
        )


def _upload(client: httpx.Client, case_id: str, content: bytes) -> dict[str, Any]:
    response = client.post(
        f"{API}/cases/{case_id}/attachments",
        files={"file": ("passport-scan.bin", content, "application/octet-stream")},
    )
    assert response.status_code == 201, response.text
    return response.json()


def _download(client: httpx.Client, attachment_id: str) -> bytes:
    response = client.get(f"{API}/attachments/{attachment_id}")
    assert response.status_code == 200, response.text
    return response.content


def test_an_upload_killed_mid_body_leaves_nothing_half_written(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    settings = app.state.settings
    directory = settings.data_dir / "attachments"
    supervisor = make_user(app, "supervisor", organisation=make_organisation(app))
    earlier = os.urandom(200_000)
    large = os.urandom(20 * 1024 * 1024)

    with serving(settings, tmp_path) as server, server.client(supervisor) as client:
        person = client.post(
            f"{API}/individuals", json={"full_name": "Chenda Sok", "nationalities": ["KHM"]}
        )
        assert person.status_code == 201, person.text
        case = client.post(f"{API}/cases", json={"individual_id": person.json()["id"]})
        assert case.status_code == 201, case.text
        case_id = case.json()["id"]
        kept = _upload(client, case_id, earlier)

        upload = SlowUpload(client, case_id, large, head=1024 * 1024)
        partial = _written(directory)
        server.kill()
        assert isinstance(upload.finish(), httpx.HTTPError)

    # What the kill left: the partial file, under a name no row holds and the app never serves.
    assert partial.exists()
    kept_key = _stored_key(app, kept["id"])
    assert _live_keys(app) == {kept_key}
    # A file renamed into place whose row was never committed looks like this one; and a file
    # under a name Haven does not give is not Haven's to remove.
    uncommitted = directory / hashlib.sha256(b"never committed").hexdigest()
    shutil.copyfile(directory / kept_key, uncommitted)
    foreign = directory / "operator-notes.txt"
    foreign.write_text("left by an operator")

    with serving(settings, tmp_path) as server, server.client(supervisor) as client:
        # Swept at start: only the files of live rows remain (and the foreign one).
        assert _files(directory) == {kept_key, foreign.name}
        assert "removed 2 attachment files that no attachment refers to" in server.log
        listed = client.get(f"{API}/cases/{case_id}/attachments")
        assert listed.status_code == 200, listed.text
        assert [item["id"] for item in listed.json()] == [kept["id"]]
        assert _download(client, kept["id"]) == earlier

        # Another server starting while an upload is under way leaves that upload alone.
        content = os.urandom(600_000)
        upload = SlowUpload(client, case_id, content, head=4 * PIECE)
        in_progress = _written(directory)
        assert attachments.sweep(app.state.engine, settings.data_dir) == 0
        assert in_progress.exists()
        response = upload.finish()
        assert response.status_code == 201, response.text
        added = response.json()
        assert added["size"] == len(content)
        assert _download(client, added["id"]) == content
        assert _download(client, kept["id"]) == earlier

    live = _live_keys(app)
    assert all((directory / key).exists() for key in live)  # no row without its file
    assert _files(directory) == live | {foreign.name}
    assert attachments.sweep(app.state.engine, settings.data_dir) == 0
    assert_audit_chain_verifies(settings, tmp_path)


def _stored_key(app: FastAPI, attachment_id: str) -> str:
    with transaction(app.state.sessionmaker) as session:
        row = session.get(Attachment, uuid.UUID(attachment_id))
        assert row is not None
        return row.storage_key


def test_a_held_upload_holds_up_no_other_writer_and_rechecks_scope(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    # A caseworker on a slow connection: while the body trickles in, everyone else still writes
    # (SQLite has one writer lock); and a person erased meanwhile takes no file.
    app = fresh_database()
    settings = app.state.settings
    directory = settings.data_dir / "attachments"
    supervisor = make_user(app, "supervisor", organisation=make_organisation(app))

    with serving(settings, tmp_path) as server, server.client(supervisor) as client:
        people, cases = [], []
        for name in ("Dara Chan", "Sophea Lim"):
            person = client.post(f"{API}/individuals", json={"full_name": name})
            assert person.status_code == 201, person.text
            people.append(person.json()["id"])
            case = client.post(f"{API}/cases", json={"individual_id": people[-1]})
            assert case.status_code == 201, case.text
            cases.append(case.json()["id"])

        with server.client(supervisor) as other:
            held = SlowUpload(client, cases[0], os.urandom(800_000), head=4 * PIECE)
            _written(directory)
            # Answered while the upload is still held (its body cannot end before release).
            response = other.post(f"{API}/individuals", json={"full_name": "Vanna Keo"}, timeout=20)
            assert response.status_code == 201, response.text
            assert not held.result
            assert held.finish().status_code == 201

            erased_meanwhile = SlowUpload(client, cases[1], os.urandom(800_000), head=4 * PIECE)
            _written(directory)
            erase = other.request(
                "DELETE",
                f"{API}/individuals/{people[1]}",
                json={"reason": "withdrew consent"},
                timeout=20,
            )
            assert erase.status_code in (200, 204), erase.text
            assert erased_meanwhile.finish().status_code == 404

    live = _live_keys(app)
    assert len(live) == 1
    assert _files(directory) == live  # the erased person's file went with the refused upload
    assert_audit_chain_verifies(settings, tmp_path)
