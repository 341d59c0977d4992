"""`haven keys init-signing` and `haven verify-export` as an operator runs them: the real command
in a subprocess, on a deployment of its own, against an export made through the API."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import database_url
from tests.factories import API, Team
from tests.test_cli import COMMAND


@dataclass
class Deployment:
    root: Path
    env: dict[str, str]
    settings: Settings

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*COMMAND, *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("evidence-cli")
    with database_url(root) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
        env.update(
            HAVEN_DATABASE_URL=url,
            HAVEN_DATA_DIR=str(root / "data"),
            HAVEN_MASTER_KEY_FILE=str(root / "keys" / "master.key"),
            HAVEN_LOG_FORMAT="text",
            HAVEN_ENV="development",
        )
        settings = Settings(
            _env_file=None,
            database_url=url,
            data_dir=root / "data",
            master_key_file=root / "keys" / "master.key",
            run_engine_in_serve=False,
        )
        deployment = Deployment(root, env, settings)
        upgraded = deployment.run("db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        yield deployment


def test_init_signing_then_verify_an_export_with_its_audit_checkpoint(
    deployment: Deployment, tmp_path: Path
) -> None:
    made = deployment.run("keys", "init-signing", "--organisation", "Legal Aid Org")
    assert made.returncode == 0, made.stderr
    assert "self-signed" in made.stdout and "Legal Aid Org" in made.stdout
    again = deployment.run("keys", "init-signing", "--organisation", "Legal Aid Org")
    assert again.returncode == 1 and "already exists" in again.stderr

    app = create_app(deployment.settings)
    try:
        with TestClient(app) as client:
            team = Team(app, client)
            worker = team.member("caseworker")
            person = team.person(worker, full_name="Sok Dara", current_country="THA")
            case_id = str(team.case(worker, person)["id"])
            team.incident(worker, person)
            body = client.get(
                f"{API}/cases/{case_id}/export", params={"format": "pdf"}, headers=worker.headers
            ).content
            client.get(f"{API}/cases/{case_id}", headers=worker.headers)  # a later commit
            keys = client.get(f"{API}/export-keys", headers=worker.headers).text
    finally:
        app.state.engine.dispose()
    (tmp_path / "case.pdf").write_bytes(body)
    (tmp_path / "jwks.json").write_text(keys)

    checked = deployment.run(
        "verify-export", str(tmp_path / "case.pdf"), "--jwks", str(tmp_path / "jwks.json")
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "signed by: Legal Aid Org" in checked.stdout
    assert f"case: {case_id}" in checked.stdout
    assert "the certificate is one of the JWKS" in checked.stdout
    assert "records this export; covered by the signed audit head of" in checked.stdout

    middle = len(body) // 2
    (tmp_path / "case.pdf").write_bytes(
        body[:middle] + bytes([body[middle] ^ 1]) + body[middle + 1 :]
    )
    tampered = deployment.run("verify-export", str(tmp_path / "case.pdf"))
    assert tampered.returncode == 1 and "FAILED (pdf)" in tampered.stdout, tampered.stdout


def test_init_signing_imports_a_ca_issued_certificate(
    deployment: Deployment, tmp_path: Path
) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def certificate(key: ec.EllipticCurvePrivateKey, name: str, issuer: Any) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
        signer, issuer_name = issuer or (key, subject)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(signer, hashes.SHA256())
        )

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate(ca_key, "Bar association CA", None)
    leaf = certificate(key, "Imported Legal Aid", (ca_key, ca.subject))
    pem = serialization.Encoding.PEM
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            pem,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"key password"),
        )
    )
    (tmp_path / "chain.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    args = ["keys", "init-signing", "--organisation", "ignored", "--replace"]
    files = ["--key", str(tmp_path / "key.pem"), "--certificate", str(tmp_path / "chain.pem")]
    made = subprocess.run(
        [*COMMAND, *args, *files, "--key-password-stdin"],
        input="key password\n",
        env=deployment.env,
        cwd=deployment.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert "(imported) for Imported Legal Aid" in made.stdout
    assert leaf.fingerprint(hashes.SHA256()).hex() in made.stdout
    stored = (deployment.settings.data_dir / "export-signing.json").read_text()
    assert "PRIVATE KEY" not in stored and "key password" not in stored
