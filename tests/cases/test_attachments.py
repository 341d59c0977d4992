"""Attachments: stored encrypted in chunks, streamed back decrypted, only to those in scope."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.cases import attachments, content_types
from app.cases.attachments import CHUNK, FILE_MAGIC, SEALED_CHUNK, DamagedAttachment, Upload
from app.errors import PayloadTooLarge
from app.models.case import Attachment, Case
from tests.cases.support import audit_actions
from tests.factories import API, Member, Team, db

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(16)


def upload(
    client: TestClient,
    who: Member,
    case_id: str,
    data: bytes,
    *,
    name: str = "statement.pdf",
    declared: str = "application/octet-stream",
) -> Any:
    return client.post(
        f"{API}/cases/{case_id}/attachments",
        files={"file": (name, data, declared)},
        headers=who.headers,
    )


def stored(app: FastAPI, attachment_id: str) -> tuple[Attachment, Path]:
    with db(app) as session:
        row = session.get(Attachment, uuid.UUID(attachment_id))
        assert row is not None
    return row, app.state.settings.data_dir / "attachments" / row.storage_key


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.fixture
def worker(team: Team) -> Member:
    return team.member("caseworker")


@pytest.fixture
def case_id(team: Team, worker: Member) -> str:
    return str(team.case(worker, team.person(worker))["id"])


class TestUploadAttachment:
    def test_round_trip(
        self, client: TestClient, app: FastAPI, worker: Member, case_id: str
    ) -> None:
        data = PDF + os.urandom(3 * CHUNK + 123)
        response = upload(client, worker, case_id, data, name="Witness statement.pdf")
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["filename"] == "Witness statement.pdf"
        assert (body["size"], body["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
        assert body["content_type"] == "application/pdf"
        download = client.get(f"{API}/attachments/{body['id']}", headers=worker.headers)
        assert download.status_code == 200
        assert download.content == data
        assert download.headers["x-content-sha256"] == hashlib.sha256(data).hexdigest()
        listed = client.get(f"{API}/cases/{case_id}/attachments", headers=worker.headers)
        assert [a["id"] for a in listed.json()] == [body["id"]]

    @pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK])
    def test_sizes_at_chunk_boundaries(
        self, client: TestClient, worker: Member, case_id: str, size: int
    ) -> None:
        data = os.urandom(size)
        body = upload(client, worker, case_id, data).json()
        assert body["size"] == size
        download = client.get(f"{API}/attachments/{body['id']}", headers=worker.headers)
        assert download.content == data

    def test_stored_file_holds_no_plaintext(
        self, client: TestClient, app: FastAPI, worker: Member, case_id: str
    ) -> None:
        payload = b"DISTINCTIVE-PAYLOAD-7f3a " * 8000
        body = upload(client, worker, case_id, payload, name="secret-name-4411.txt").json()
        row, path = stored(app, body["id"])
        on_disk = path.read_bytes()
        assert on_disk.startswith(FILE_MAGIC)
        assert b"DISTINCTIVE" not in on_disk
        assert b"secret-name-4411" not in row.filename_ct
        assert len(on_disk) == len(FILE_MAGIC) + len(payload) + 4 * (SEALED_CHUNK - CHUNK)
        assert oct(path.stat().st_mode & 0o777) == oct(0o600)

    def test_row_holds_no_digest_size_or_type(
        self, client: TestClient, app: FastAPI, worker: Member, case_id: str
    ) -> None:
        """Issue 13, item 8: with the database alone, a known file cannot be confirmed."""
        data = PDF + os.urandom(5000)
        digest = hashlib.sha256(data).hexdigest()
        body = upload(client, worker, case_id, data).json()
        assert (body["sha256"], body["size"], body["content_type"]) == (
            digest,
            len(data),
            "application/pdf",
        )
        with db(app) as session:
            table = Attachment.__table__
            raw = (
                session.execute(select(table).where(table.c.id == uuid.UUID(body["id"])))
                .mappings()
                .one()
            )
        plain = {k: v for k, v in raw.items() if not isinstance(v, bytes | memoryview)}
        assert plain.get("sha256") is None and plain.get("size") is None
        assert plain.get("content_type") is None
        for value in plain.values():
            assert str(value) not in (digest, str(len(data)), "application/pdf")
        sealed = b"".join(bytes(v) for v in raw.values() if isinstance(v, bytes | memoryview))
        assert digest.encode() not in sealed and bytes.fromhex(digest) not in sealed
        download = client.get(f"{API}/attachments/{body['id']}", headers=worker.headers)
        assert download.content == data
        assert download.headers["x-content-sha256"] == digest
        assert download.headers["content-length"] == str(len(data))

    def test_row_stored_before_sealing_is_sealed_on_first_read(
        self, client: TestClient, app: FastAPI, worker: Member, case_id: str
    ) -> None:
        """A row the migration left in plaintext still downloads, and is sealed by reading."""
        data = PDF + os.urandom(300)
        body = upload(client, worker, case_id, data).json()
        with db(app) as session:
            row = session.get_one(Attachment, uuid.UUID(body["id"]))
            row.meta_ct = None
            row.content_type, row.size = "application/pdf", len(data)
            row.sha256 = hashlib.sha256(data).hexdigest()
        listed = client.get(f"{API}/cases/{case_id}/attachments", headers=worker.headers)
        assert listed.status_code == 200
        assert [i["sha256"] for i in listed.json()] == [hashlib.sha256(data).hexdigest()]
        row, _ = stored(app, body["id"])
        assert row.meta_ct is not None
        assert (row.content_type, row.size, row.sha256) == (None, None, None)
        download = client.get(f"{API}/attachments/{body['id']}", headers=worker.headers)
        assert download.content == data

    @pytest.mark.parametrize(
        ("data", "declared", "expected"),
        [
            (PDF, "text/plain", "application/pdf"),
            (PNG, "application/pdf", "image/png"),
            (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/png", "image/jpeg"),
            (b"GIF89a\x01\x00\x01\x00", "text/plain", "image/gif"),
            (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/png", "image/webp"),
            (b"PK\x03\x04\x14\x00\x00\x00word/document.xml", "application/zip", content_types.DOCX),
            (b"PK\x03\x04\x14\x00\x00\x00data.csv", "application/pdf", "application/zip"),
            ("Témoignage de សុខ ដារ៉ា\n".encode(), "application/pdf", "text/plain; charset=utf-8"),
            (b"<html><script>alert(1)</script></html>", "text/html", "text/plain; charset=utf-8"),
            (b"\x00\x01\x02binary", "text/plain", "application/octet-stream"),
            (b"MZ\x90\x00\x03", "application/pdf", "application/octet-stream"),
        ],
    )
    def test_content_type_is_sniffed_not_trusted(
        self,
        client: TestClient,
        worker: Member,
        case_id: str,
        data: bytes,
        declared: str,
        expected: str,
    ) -> None:
        body = upload(client, worker, case_id, data, declared=declared).json()
        assert body["content_type"] == expected
        download = client.get(f"{API}/attachments/{body['id']}", headers=worker.headers)
        assert download.headers["content-type"] == expected

    def test_text_cut_inside_a_character_at_the_chunk_edge_is_still_text(self) -> None:
        head = ("a" * (CHUNK - 1) + "ដ").encode()[:CHUNK]
        assert content_types.sniff(head, complete=False) == "text/plain; charset=utf-8"
        assert content_types.sniff(head, complete=True) == "application/octet-stream"

    def test_filename_is_cleaned(self, client: TestClient, worker: Member, case_id: str) -> None:
        body = upload(client, worker, case_id, b"x", name="../../etc/passwd.txt").json()
        assert body["filename"] == "passwd.txt"
        assert attachments.clean_filename("C:\\Users\\x\\pass\x07wd\u202e.txt ") == "passwd.txt"
        assert attachments.clean_filename("..") == "attachment"

    def test_missing_file_field_is_422(
        self, client: TestClient, worker: Member, case_id: str
    ) -> None:
        response = client.post(
            f"{API}/cases/{case_id}/attachments",
            files={"document": ("a.txt", b"x", "text/plain")},
            headers=worker.headers,
        )
        assert response.status_code == 422
        response = client.post(
            f"{API}/cases/{case_id}/attachments", json={"file": "x"}, headers=worker.headers
        )
        assert response.status_code == 422

    def test_audited_and_on_the_timeline(
        self, client: TestClient, app: FastAPI, worker: Member, case_id: str
    ) -> None:
        body = upload(client, worker, case_id, b"hello", name="Sok Dara passport.txt").json()
        client.get(f"{API}/attachments/{body['id']}", headers=worker.headers)
        entries = [e for e in audit_actions(app, case_id) if e.action.startswith("attachment.")]
        assert [e.action for e in entries] == ["attachment.upload", "attachment.download"]
        assert all(body["id"] in (e.details or "") for e in entries)
        assert all("Sok Dara" not in (e.details or "") for e in entries)
        history = client.get(f"{API}/cases/{case_id}/history", headers=worker.headers).json()
        added = [e for e in history["entries"] if e["kind"] == "attachment.added"]
        assert len(added) == 1
        assert added[0]["summary"] == "Attachment added"
        assert added[0]["changes"]["filename"] == "Sok Dara passport.txt"


class TestSizeLimit:
    def test_over_the_limit_is_413_and_leaves_nothing(
        self, fresh_database: Callable[..., FastAPI]
    ) -> None:
        app = fresh_database(max_attachment_bytes=100_000)
        directory = app.state.settings.data_dir / "attachments"
        with TestClient(app) as client:
            team = Team(app, client)
            worker = team.member("caseworker")
            case_id = str(team.case(worker, team.person(worker))["id"])
            assert upload(client, worker, case_id, os.urandom(90_000)).status_code == 201
            before = files_in(directory)
            # Declared length: refused before the body is read.
            assert upload(client, worker, case_id, os.urandom(150_000)).status_code == 413
            # No declared length: refused while it streams in.
            boundary = "haven-test-boundary"
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()

            def chunked() -> Iterator[bytes]:
                yield head
                for _ in range(20):
                    yield os.urandom(10_000)
                yield f"\r\n--{boundary}--\r\n".encode()

            response = client.post(
                f"{API}/cases/{case_id}/attachments",
                content=chunked(),
                headers={
                    **worker.headers,
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
            )
            assert response.status_code == 413
            assert files_in(directory) == before
            with db(app) as session:
                rows = session.scalars(
                    select(Attachment).where(Attachment.case_id == uuid.UUID(case_id))
                ).all()
                assert len(rows) == 1

    def test_store_stops_at_the_limit_and_removes_its_temporary_file(
        self, fresh_database: Callable[..., FastAPI]
    ) -> None:
        app = fresh_database(max_attachment_bytes=3 * CHUNK)
        directory = app.state.settings.data_dir / "attachments"
        with TestClient(app) as client:
            team = Team(app, client)
            worker = team.member("caseworker")
            case_id = uuid.UUID(team.case(worker, team.person(worker))["id"])
        read: list[int] = []

        def pieces() -> Iterator[bytes]:
            for index in range(10):
                read.append(index)
                yield os.urandom(CHUNK)

        with db(app) as session:
            case = session.get(Case, case_id)
            actor = _actor(worker)
            with pytest.raises(PayloadTooLarge):
                attachments.store(session, actor, case, Upload("big.bin", pieces()))
        assert read == [0, 1, 2, 3]  # stopped as soon as the limit was passed
        assert files_in(directory) == []


def _actor(member: Member) -> Any:
    from app.actor import Actor

    user = member.user
    return Actor(
        id=user.id, username=user.username, role=user.role, organisation_id=user.organisation_id
    )


class TestTampering:
    """Whatever is done to the stored file, the download fails rather than return it."""

    @pytest.fixture
    def original(self, client: TestClient, worker: Member, case_id: str) -> dict[str, Any]:
        data = os.urandom(3 * CHUNK + 500)
        body = upload(client, worker, case_id, data).json()
        return {"id": body["id"], "data": data}

    def _download(self, client: TestClient, worker: Member, attachment_id: str) -> bytes:
        return client.get(f"{API}/attachments/{attachment_id}", headers=worker.headers).content

    def _chunks(self, raw: bytes) -> list[bytes]:
        body = raw[len(FILE_MAGIC) :]
        return [body[i : i + SEALED_CHUNK] for i in range(0, len(body), SEALED_CHUNK)]

    def _rewrite(self, app: FastAPI, attachment_id: str, change: Callable[[bytes], bytes]) -> None:
        _, path = stored(app, attachment_id)
        path.write_bytes(change(path.read_bytes()))

    def test_untouched_file_downloads(
        self, client: TestClient, worker: Member, original: dict[str, Any]
    ) -> None:
        assert self._download(client, worker, original["id"]) == original["data"]

    @pytest.mark.parametrize(
        "position", ["magic", "format", "key-id", "nonce", "first", "middle", "last", "tag"]
    )
    def test_flipped_byte(
        self,
        client: TestClient,
        app: FastAPI,
        worker: Member,
        original: dict[str, Any],
        position: str,
    ) -> None:
        offsets = {
            "magic": 2,
            "format": len(FILE_MAGIC),
            "key-id": len(FILE_MAGIC) + 5,
            "nonce": len(FILE_MAGIC) + 8,
            "first": len(FILE_MAGIC) + 40,
            "middle": len(FILE_MAGIC) + SEALED_CHUNK + 1000,
            "last": len(FILE_MAGIC) + 3 * SEALED_CHUNK + 100,
            "tag": -1,
        }

        def flip(raw: bytes) -> bytes:
            at = offsets[position] % len(raw)
            return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]

        self._rewrite(app, original["id"], flip)
        with pytest.raises(DamagedAttachment):
            self._download(client, worker, original["id"])

    def test_failed_download_is_audited(
        self,
        client: TestClient,
        app: FastAPI,
        worker: Member,
        case_id: str,
        original: dict[str, Any],
    ) -> None:
        self._rewrite(app, original["id"], lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]))
        with pytest.raises(DamagedAttachment):
            self._download(client, worker, original["id"])
        self._rewrite(
            app, original["id"], lambda raw: raw[:100] + bytes([raw[100] ^ 1]) + raw[101:]
        )
        with pytest.raises(DamagedAttachment):
            self._download(client, worker, original["id"])
        downloads = [e for e in audit_actions(app, case_id) if e.action == "attachment.download"]
        # Past the first chunk the response has started: the download was audited as it began.
        assert [e.outcome for e in downloads] == ["ok", "failed"]

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param(lambda c: [c[1], c[0], *c[2:]], id="swap-first-two"),
            pytest.param(lambda c: [c[0], c[2], c[1], c[3]], id="swap-middle"),
            pytest.param(lambda c: c[:-1], id="drop-last"),
            pytest.param(lambda c: [c[0], *c[2:]], id="drop-middle"),
            pytest.param(lambda c: [*c[:-1], c[-1][:-10]], id="truncate-last"),
            pytest.param(lambda c: [*c, c[-1]], id="repeat-last"),
            pytest.param(lambda c: [c[0], c[0], *c[1:]], id="repeat-first"),
        ],
    )
    def test_rearranged_chunks(
        self,
        client: TestClient,
        app: FastAPI,
        worker: Member,
        original: dict[str, Any],
        change: Callable[[list[bytes]], list[bytes]],
    ) -> None:
        self._rewrite(
            app, original["id"], lambda raw: FILE_MAGIC + b"".join(change(self._chunks(raw)))
        )
        with pytest.raises(DamagedAttachment):
            self._download(client, worker, original["id"])

    def test_file_of_another_attachment(
        self,
        client: TestClient,
        app: FastAPI,
        worker: Member,
        case_id: str,
        original: dict[str, Any],
    ) -> None:
        other = upload(client, worker, case_id, os.urandom(3 * CHUNK + 500)).json()
        _, other_path = stored(app, other["id"])
        self._rewrite(app, original["id"], lambda _: other_path.read_bytes())
        with pytest.raises(DamagedAttachment):
            self._download(client, worker, original["id"])


class TestDownloadAttachment:
    def test_headers_never_inline(self, client: TestClient, worker: Member, case_id: str) -> None:
        body = upload(client, worker, case_id, b"<svg onload=alert(1)>", name="ដារ៉ា.svg").json()
        response = client.get(f"{API}/attachments/{body['id']}", headers=worker.headers)
        disposition = response.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert "inline" not in disposition
        assert "filename*=UTF-8''%E1%9E%8A" in disposition
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-type"] == "text/plain; charset=utf-8"

    def test_unknown_id_is_404(self, client: TestClient, worker: Member) -> None:
        assert (
            client.get(f"{API}/attachments/{uuid.uuid4()}", headers=worker.headers).status_code
            == 404
        )

    def test_out_of_scope_is_404(
        self, client: TestClient, team: Team, worker: Member, case_id: str
    ) -> None:
        body = upload(client, worker, case_id, b"private").json()
        outsiders = [team.member("caseworker"), team.member("lawyer")]
        other_org = team.elsewhere().member("supervisor")
        for who in [*outsiders, other_org]:
            assert (
                client.get(f"{API}/attachments/{body['id']}", headers=who.headers).status_code
                == 404
            )
            assert (
                client.get(f"{API}/cases/{case_id}/attachments", headers=who.headers).status_code
                == 404
            )
        assert upload(client, outsiders[0], case_id, b"x").status_code == 404

    def test_assigned_lawyer_downloads_but_may_not_upload(
        self, client: TestClient, team: Team, worker: Member, case_id: str
    ) -> None:
        body = upload(client, worker, case_id, b"evidence").json()
        lawyer = team.member("lawyer")
        assert team.assign(team.member("supervisor"), case_id, lawyer, "lawyer").status_code in (
            200,
            201,
        )
        response = client.get(f"{API}/attachments/{body['id']}", headers=lawyer.headers)
        assert (response.status_code, response.content) == (200, b"evidence")
        assert upload(client, lawyer, case_id, b"x").status_code == 403

    def test_roles_without_case_content_are_403(
        self, client: TestClient, team: Team, worker: Member, case_id: str
    ) -> None:
        body = upload(client, worker, case_id, b"x").json()
        for role in ("analyst", "auditor", "admin"):
            who = team.member(role)
            assert (
                client.get(f"{API}/attachments/{body['id']}", headers=who.headers).status_code
                == 403
            )

    def test_anonymous_is_401(self, client: TestClient) -> None:
        assert client.get(f"{API}/attachments/{uuid.uuid4()}").status_code == 401


class TestErasure:
    def test_delete_files_of_removes_files_after_commit(
        self, client: TestClient, app: FastAPI, worker: Member, case_id: str
    ) -> None:
        ids = [upload(client, worker, case_id, os.urandom(1000)).json()["id"] for _ in range(2)]
        paths = [stored(app, i)[1] for i in ids]
        with db(app) as session:
            person = session.get(Case, uuid.UUID(case_id)).individual_id  # type: ignore[union-attr]
        with db(app) as session:
            attachments.delete_files_of(session, person)
            assert all(p.exists() for p in paths)  # not before the transaction commits
        assert not any(p.exists() for p in paths)
        for attachment_id in ids:
            with db(app) as session:  # the rows go too (issue 13): not only marked deleted
                assert session.get(Attachment, uuid.UUID(attachment_id)) is None
            response = client.get(f"{API}/attachments/{attachment_id}", headers=worker.headers)
            assert response.status_code == 404

    def test_erasing_the_person_deletes_the_files(
        self, client: TestClient, app: FastAPI, team: Team, worker: Member, case_id: str
    ) -> None:
        body = upload(client, worker, case_id, b"to be erased").json()
        _, path = stored(app, body["id"])
        with db(app) as session:
            person = session.get(Case, uuid.UUID(case_id)).individual_id  # type: ignore[union-attr]
        boss = team.member("supervisor")
        response = client.request(
            "DELETE",
            f"/api/v1/individuals/{person}",
            json={"reason": "request"},
            headers=boss.headers,
        )
        assert response.status_code == 204
        assert not path.exists()
