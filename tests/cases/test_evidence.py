"""Evidence a court accepts: as-of exports, a readable signed PDF, the evidence bag, the JWKS
and `haven verify-export` on each format, intact and tampered."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import shutil
import subprocess
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bagit
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cases import signing, verify
from app.cli import cli
from app.risk.factors import FACTORS
from tests.cases.support import audit_actions
from tests.factories import API, Member, Team, db

KHMER_NAME = "សុខ ដារ៉ា"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdfsig") is None,
    reason="poppler-utils (pdftotext, pdfsig) is not installed",
)


@dataclass
class Scene:
    worker: Member
    lawyer: Member
    person: uuid.UUID
    case_id: str
    before: dt.datetime  # after the detention, before the deportation order
    files: dict[str, bytes]


@pytest.fixture
def scene(client: TestClient, team: Team) -> Scene:
    worker, supervisor, lawyer = (team.member(r) for r in ("caseworker", "supervisor", "lawyer"))
    person = team.person(
        worker,
        full_name="Sok Dara",
        native_name=KHMER_NAME,
        current_country="THA",
        current_location="Bangkok, Lat Phrao",
    )
    case_id = str(team.case(worker, person, title="Detention at Suan Phlu")["id"])
    assert team.assign(supervisor, case_id, lawyer, "lawyer").status_code in (200, 201)
    team.incident(
        worker,
        person,
        occurred_on="2026-11-29",
        source={"name": "Partner monitor", "reliability": "B", "credibility": 2},
    )
    files = {"statement.txt": b"Witness statement.\n" * 50, "order.pdf": b"%PDF-1.4 order\n"}
    for name, data in files.items():
        response = client.post(
            f"{API}/cases/{case_id}/attachments",
            files={"file": (name, data, "application/octet-stream")},
            headers=worker.headers,
        )
        assert response.status_code == 201, response.text
    before = dt.datetime.now(dt.UTC)
    team.incident(
        worker,
        person,
        type="deportation_order",
        occurred_on="2026-12-02",
        description="Order to deport within 7 days.",
    )
    response = client.patch(
        f"{API}/individuals/{person}", json={"current_country": "VNM"}, headers=worker.headers
    )
    assert response.status_code == 200, response.text
    return Scene(worker, lawyer, person, case_id, before, files)


def export(
    client: TestClient, who: Member, case_id: str, fmt: str, as_of: dt.datetime | None = None
) -> Any:
    params = {"format": fmt} | ({"as_of": as_of.isoformat()} if as_of else {})
    response = client.get(f"{API}/cases/{case_id}/export", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response


def pdf_text(body: bytes, tmp_path: Path) -> str:
    (tmp_path / "text.pdf").write_bytes(body)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(tmp_path / "text.pdf"), "-"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode()


def pdfsig(path: Path) -> str:
    done = subprocess.run(["pdfsig", str(path)], capture_output=True, timeout=60, check=False)
    return done.stdout.decode() + done.stderr.decode()


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def verify_cli(*args: str) -> Any:
    return CliRunner().invoke(cli, ["verify-export", *args, "--offline"])


def verify_cli_bytes(tmp_path: Path, data: bytes) -> Any:
    (tmp_path / "check.pdf").write_bytes(data)
    return verify_cli(str(tmp_path / "check.pdf"))


class TestAsOf:
    def test_as_of_before_an_incident_leaves_it_out_everywhere(
        self, client: TestClient, scene: Scene, tmp_path: Path
    ) -> None:
        history = client.get(
            f"{API}/cases/{scene.case_id}/history",
            params={"as_of": scene.before.isoformat()},
            headers=scene.lawyer.headers,
        ).json()["entries"]
        summaries = [e["summary"] for e in history]
        assert "Incident recorded: detention" in summaries
        assert "Incident recorded: deportation_order" not in summaries

        then = export(client, scene.lawyer, scene.case_id, "json", scene.before).json()
        assert dt.datetime.fromisoformat(then["as_of"]) == scene.before
        assert then["as_of_requested"] is True
        assert [i["type"] for i in then["incidents"]] == ["detention"]
        assert not [e for e in then["timeline"] if e["at"] > scene.before.isoformat()]
        assert then["person"]["current_country"] == "THA"  # the later change wound back
        texts = [e["text"] for e in then["timeline"]]
        said = "Detention reported in Thailand on 29 Nov 2026 by Partner monitor (source B2)"
        assert any(text.startswith(said) for text in texts)
        now = export(client, scene.lawyer, scene.case_id, "json").json()
        assert [i["type"] for i in now["incidents"]] == ["detention", "deportation_order"]
        assert now["person"]["current_country"] == "VNM"
        assert now["as_of_requested"] is False

        if shutil.which("pdftotext") is None:
            pytest.skip("pdftotext (poppler-utils) is not installed")
        old = pdf_text(
            export(client, scene.lawyer, scene.case_id, "pdf", scene.before).content, tmp_path
        )
        new = pdf_text(export(client, scene.lawyer, scene.case_id, "pdf").content, tmp_path)
        assert "Deportation order" not in old and "Deportation order" in new
        stamp = f"{scene.before.day} {scene.before:%b %Y, %H:%M} UTC"
        pages = old.count("\f")
        assert old.count(f"record as of {stamp}") == pages  # the footer of every page

    def test_as_of_in_the_future_or_before_the_case_is_422(
        self, client: TestClient, scene: Scene
    ) -> None:
        for moment in ("2999-01-01T00:00:00Z", "2001-01-01T00:00:00Z", "not-a-date"):
            response = client.get(
                f"{API}/cases/{scene.case_id}/export",
                params={"format": "json", "as_of": moment},
                headers=scene.lawyer.headers,
            )
            assert response.status_code == 422, (moment, response.text)


@needs_poppler
class TestReadablePdf:
    def test_sentences_cover_khmer_and_no_codes_outside_the_appendix(
        self, client: TestClient, scene: Scene, tmp_path: Path
    ) -> None:
        response = export(client, scene.lawyer, scene.case_id, "pdf")
        text = pdf_text(response.content, tmp_path)
        body, _, appendix = text.rpartition("Appendix A: identifiers")
        assert appendix and body
        flat = " ".join(body.split())
        assert (
            "Detention reported in Thailand on 29 Nov 2026 by Partner monitor (source B2)" in flat
        )
        assert re.search(r"Risk rose from \w+ to \w+: ", flat)
        assert KHMER_NAME in body  # shaped and extracted back as the same characters
        assert "Contents" in body and "Page 1 of " in body
        assert UUID.search(body) is None, UUID.search(body)
        codes = [code for code in [*FACTORS, "FLOOR"] if re.search(rf"\b{code}\b", body)]
        assert codes == []
        kinds = {
            e["kind"]
            for e in export(client, scene.lawyer, scene.case_id, "json").json()["timeline"]
        }
        assert [k for k in kinds if k in body] == []
        assert scene.case_id in appendix and "HOST_CUSTODY" in appendix

    def test_pdfsig_says_valid_and_broken_after_one_byte(
        self, client: TestClient, scene: Scene, tmp_path: Path
    ) -> None:
        body = export(client, scene.lawyer, scene.case_id, "pdf").content
        (tmp_path / "good.pdf").write_bytes(body)
        report = pdfsig(tmp_path / "good.pdf")
        assert "Signature is Valid" in report, report
        assert "Total document signed" in report
        at = body.index(b"Sok Dara") if b"Sok Dara" in body else len(body) // 3
        (tmp_path / "bad.pdf").write_bytes(flip(body, at))
        report = pdfsig(tmp_path / "bad.pdf")
        assert "Signature is Valid" not in report, report


class TestVerifyExport:
    def test_pdf_intact_and_tampered(
        self, client: TestClient, scene: Scene, tmp_path: Path
    ) -> None:
        body = export(client, scene.lawyer, scene.case_id, "pdf", scene.before).content
        (tmp_path / "case.pdf").write_bytes(body)
        result = verify_cli(str(tmp_path / "case.pdf"))
        assert result.exit_code == 0, result.output
        assert f"case: {scene.case_id}" in result.output
        assert (
            "as of: " in result.output
            and "signed by: Haven development deployment" in result.output
        )
        (tmp_path / "case.pdf").write_bytes(flip(body, len(body) // 2))
        result = verify_cli(str(tmp_path / "case.pdf"))
        assert result.exit_code == 1 and "FAILED (pdf)" in result.output, result.output
        # The zeros after the CMS in the signature's space are outside the digest: still caught.
        contents = re.search(rb"/Contents\s*<([0-9a-fA-F]+)>", body)
        assert contents is not None
        padding = contents.end(1) - 8
        assert body[padding : padding + 1] == b"0"
        result = verify_cli_bytes(tmp_path, body[:padding] + b"8" + body[padding + 1 :])
        assert result.exit_code == 1 and "bytes after the signature" in result.output
        (tmp_path / "case.pdf").write_bytes(body + b"\n% appended\n")
        result = verify_cli(str(tmp_path / "case.pdf"))
        assert result.exit_code == 1, result.output

    def test_json_with_its_signature(
        self, client: TestClient, scene: Scene, tmp_path: Path
    ) -> None:
        response = export(client, scene.lawyer, scene.case_id, "json", scene.before)
        (tmp_path / "case.json").write_bytes(response.content)
        (tmp_path / "case.json.jws").write_text(response.headers["x-jws-signature"])
        result = verify_cli(str(tmp_path / "case.json"))
        assert result.exit_code == 0, result.output
        assert f"case: {scene.case_id}" in result.output
        keys = client.get(f"{API}/export-keys", headers=scene.lawyer.headers)
        assert keys.status_code == 200
        (tmp_path / "jwks.json").write_text(keys.text)
        result = verify_cli(str(tmp_path / "case.json"), "--jwks", str(tmp_path / "jwks.json"))
        assert result.exit_code == 0 and "the certificate is one of the JWKS" in result.output
        header = json.loads(verify._b64url(response.headers["x-jws-signature"].split(".")[0]))
        assert header["alg"] == "EdDSA" and header["b64"] is False
        assert header["kid"] in {k["kid"] for k in keys.json()["keys"]}
        tampered = response.content.replace(b'"Sok Dara"', b'"Sok Dora"')
        (tmp_path / "case.json").write_bytes(tampered)
        result = verify_cli(str(tmp_path / "case.json"))
        assert result.exit_code == 1 and "JSON was changed" in result.output, result.output
        (tmp_path / "case.json").write_bytes(response.content)
        (tmp_path / "case.json.jws").unlink()
        result = verify_cli(str(tmp_path / "case.json"))
        assert result.exit_code == 1 and "no signature" in result.output

    def test_someone_elses_key_is_not_trusted(
        self, client: TestClient, scene: Scene, tmp_path: Path
    ) -> None:
        body = export(client, scene.lawyer, scene.case_id, "pdf").content
        (tmp_path / "case.pdf").write_bytes(body)
        key = ec.generate_private_key(ec.SECP256R1())
        (tmp_path / "other.pem").write_bytes(
            _certificate(key, "Other").public_bytes(serialization.Encoding.PEM)
        )
        result = verify_cli(str(tmp_path / "case.pdf"), "--trust", str(tmp_path / "other.pem"))
        assert result.exit_code == 1 and "is not among the keys" in result.output

    def test_bag_validates_and_catches_one_attachment_byte(
        self, client: TestClient, app: FastAPI, scene: Scene, tmp_path: Path
    ) -> None:
        response = export(client, scene.lawyer, scene.case_id, "bag", scene.before)
        assert response.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        archive.extractall(tmp_path / "unzipped")
        (folder,) = list((tmp_path / "unzipped").iterdir())
        bag = bagit.Bag(str(folder))
        assert bag.is_valid()
        assert bag.info["Haven-Case"] == scene.case_id
        assert dt.datetime.fromisoformat(bag.info["Haven-As-Of"]) == scene.before
        assert "sha256" in bag.algorithms
        stored = sorted(p.name for p in (folder / "data" / "attachments").iterdir())
        assert stored == ["01-statement.txt", "02-order.pdf"]
        assert (folder / "data" / "attachments" / "01-statement.txt").read_bytes() == scene.files[
            "statement.txt"
        ]
        for name in ("case-export.pdf", "case-export.json", "case-export.json.jws"):
            assert (folder / "data" / name).is_file()
        assert b"BEGIN CERTIFICATE" in (folder / "data" / "signing-certificate.pem").read_bytes()
        (tmp_path / "bag.zip").write_bytes(response.content)
        result = verify_cli(str(tmp_path / "bag.zip"))
        assert result.exit_code == 0, result.output
        assert "2 attachment(s) match the signed JSON" in result.output

        # One byte of one attachment: bagit and verify-export both refuse it.
        target = folder / "data" / "attachments" / "01-statement.txt"
        target.write_bytes(flip(target.read_bytes(), 5))
        assert not bagit.Bag(str(folder)).is_valid()
        (tmp_path / "tampered.zip").write_bytes(_rezip(response.content, "01-statement.txt"))
        result = verify_cli(str(tmp_path / "tampered.zip"))
        assert result.exit_code == 1 and "the bag is not valid" in result.output, result.output

        # A file slipped in, with its manifest line made to match: valid BagIt, not the export.
        target.write_bytes(scene.files["statement.txt"])
        (folder / "data" / "attachments" / "03-extra.txt").write_bytes(b"planted\n")
        bagit.Bag(str(folder)).save(manifests=True)
        assert bagit.Bag(str(folder)).is_valid()
        (tmp_path / "planted.zip").write_bytes(_zipped(folder))
        result = verify_cli(str(tmp_path / "planted.zip"))
        assert result.exit_code == 1 and "03-extra.txt" in result.output, result.output

        # Each attachment read into the bag is audited, and so is the export.
        actions = [e.action for e in audit_actions(app, scene.case_id)]
        assert actions.count("attachment.download") == 2 and "case.export" in actions

    def test_audit_entry_and_covering_checkpoint(
        self, client: TestClient, app: FastAPI, scene: Scene
    ) -> None:
        response = export(client, scene.lawyer, scene.case_id, "pdf")
        digest = hashlib.sha256(response.content).hexdigest()
        entries = [e for e in audit_actions(app, scene.case_id) if e.action == "case.export"]
        assert json.loads(entries[-1].details or "{}")["sha256"] == digest
        client.get(f"{API}/cases/{scene.case_id}", headers=scene.lawyer.headers)  # a later commit
        settings, crypto = app.state.settings, app.state.crypto
        with db(app) as session:
            found, said = verify.audit_coverage(
                session, crypto.provider, settings.data_dir, [digest]
            )
            assert found and f"entry #{entries[-1].seq}" in said
            assert "covered by the signed audit head" in said, said
            missing, said = verify.audit_coverage(
                session, crypto.provider, settings.data_dir, ["0" * 64]
            )
            assert not missing and "no export with this SHA-256" in said


def _certificate(
    key: ec.EllipticCurvePrivateKey, name: str, issuer: Any = None
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    signer_key, issuer_name = (key, subject) if issuer is None else issuer
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(signer_key, hashes.SHA256())
    )


def _zipped(folder: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder.parent).as_posix())
    return out.getvalue()


def _rezip(data: bytes, flipped: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            target.writestr(item, flip(content, 5) if item.filename.endswith(flipped) else content)
    return out.getvalue()


class TestSigningIdentity:
    def test_imported_ca_certificate_signs_and_verifies(self, app: FastAPI, tmp_path: Path) -> None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate(ca_key, "Court-recognised CA")
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _certificate(key, "Legal Aid Org", (ca_key, ca.subject))
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(
            serialization.Encoding.PEM
        )
        provider = app.state.crypto.provider
        identity = signing.init_signing(
            provider, tmp_path, "ignored", key_pem=pem, certificate_pem=chain
        )
        assert identity.signer == "Legal Aid Org"
        stored = json.loads((tmp_path / signing.SIGNING_FILE).read_text())
        assert "PRIVATE" not in json.dumps(stored)  # sealed, never in the clear
        loaded = signing.load(provider, tmp_path)
        assert loaded is not None and loaded.fingerprint == signing.fingerprint(leaf)
        signed = signing.sign_json(loaded, b'{"a":1}')
        assert verify.check_json(b'{"a":1}', signed).ok
        assert not verify.check_json(b'{"a":2}', signed).ok
        with pytest.raises(Exception, match="already exists"):
            signing.init_signing(provider, tmp_path, "Again")
        replaced = signing.init_signing(provider, tmp_path, "Legal Aid Org", replace=True)
        assert len(signing.published(tmp_path)) == 2  # the old one stays in the JWKS
        assert replaced.fingerprint != loaded.fingerprint


class TestLawyerPage:
    def test_as_of_picker_exports_what_was_known_then(
        self, app: FastAPI, team: Team, scene: Scene
    ) -> None:
        from tests.conftest import fresh_address
        from tests.web.support import sign_in

        browser = TestClient(app, client=(fresh_address(), 1))
        sign_in(browser, scene.lawyer.user)
        page = browser.get(f"/cases/{scene.case_id}")
        assert page.status_code == 200
        assert f'action="/api/v1/cases/{scene.case_id}/export"' in page.text
        assert 'type="datetime-local" id="export-as-of" name="as_of"' in page.text
        # What the form sends: a date and time to the second without an offset, read as UTC.
        now = dt.datetime.now(dt.UTC)
        time.sleep(1.05 - now.microsecond / 1e6)  # a second of its own, after the case opened
        picked = dt.datetime.now(dt.UTC).replace(microsecond=0)
        team.incident(scene.worker, scene.person, type="threat", occurred_on="2026-12-03")
        response = browser.get(
            f"{API}/cases/{scene.case_id}/export",
            params={"as_of": picked.strftime("%Y-%m-%dT%H:%M:%S"), "format": "json"},
        )
        assert response.status_code == 200, response.text
        then = response.json()
        assert dt.datetime.fromisoformat(then["as_of"]) == picked
        assert "threat" not in [i["type"] for i in then["incidents"]]
        # The page's history picker shows the history as it stood then, and fills the export's.
        stamp = picked.strftime("%Y-%m-%dT%H:%M:%S")
        then_page = browser.get(f"/cases/{scene.case_id}", params={"as_of": stamp})
        assert then_page.status_code == 200
        assert "History as of" in then_page.text and f'value="{stamp}"' in then_page.text
        assert "Incident recorded: threat" not in then_page.text
        assert "Incident recorded: threat" in browser.get(f"/cases/{scene.case_id}").text
        for bad in ("yesterday", "2999-01-01T00:00:00", "\x00"):
            page = browser.get(f"/cases/{scene.case_id}", params={"as_of": bad})
            assert page.status_code in (400, 422), bad  # a page saying what is wrong

    def test_production_without_an_identity_refuses_to_export_unsigned(
        self, app: FastAPI, tmp_path: Path
    ) -> None:
        from types import SimpleNamespace

        from sqlalchemy.orm import Session

        settings = SimpleNamespace(data_dir=tmp_path, production=True)
        session = Session(info={"settings": settings, "crypto": app.state.crypto})
        with pytest.raises(signing.SigningUnavailable, match="haven keys init-signing"):
            signing.identity_for(session)
        assert signing.SigningUnavailable.status_code == 503
        assert not (tmp_path / signing.SIGNING_FILE).exists()
        settings.production = False  # development makes one at the first export
        assert signing.identity_for(session).signer == "Haven development deployment"
