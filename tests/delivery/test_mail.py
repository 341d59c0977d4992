"""SMTP transport: URL parsing, STARTTLS when offered, implicit TLS, percent-decoded login."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.alerts import mail
from tests.delivery.support import Mailbox, free_port, payload


class TestSmtpUrl:
    def test_smtp_with_percent_encoded_credentials(self) -> None:
        server = mail.SmtpServer.from_url("smtp://alerts%40ngo:p%40ss%3Aword@mail.ngo.test:2525")
        assert server == mail.SmtpServer("mail.ngo.test", 2525, False, "alerts@ngo", "p@ss:word")

    def test_default_ports(self) -> None:
        assert mail.SmtpServer.from_url("smtp://mail.ngo.test").port == 25
        smtps = mail.SmtpServer.from_url("smtps://mail.ngo.test")
        assert (smtps.port, smtps.implicit_tls, smtps.username) == (465, True, None)

    @pytest.mark.parametrize("url", ["http://mail.ngo.test", "smtp://", "mail.ngo.test:25"])
    def test_refuses_other_urls(self, url: str) -> None:
        with pytest.raises(mail.MailError):
            mail.SmtpServer.from_url(url)


class TestCompose:
    def test_rule_severity_and_link_only(self) -> None:
        body = payload(rule="removal_order", severity="critical")
        message = mail.compose("m-1", body, to="sup@ngo.test", public_url="https://haven.ngo.test")
        assert message["Subject"] == "[Haven] critical alert: removal_order"
        assert message["From"] == "Haven <haven@haven.ngo.test>"
        assert message["Message-ID"] == "<m-1@haven.ngo.test>"
        text = message.get_content()
        assert "https://127.0.0.1:8000/alerts/" not in text  # the link as stored, not rebuilt
        assert "http://127.0.0.1:8000/alerts/" in text
        assert "individual_id" not in text


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, trusted through SSL_CERT_FILE."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "haven test smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Login:
    def __init__(self) -> None:
        self.seen: list[tuple[bytes, bytes, bool]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.seen.append((data.login, data.password, encrypted))
        return AuthResult(success=data.password == b"p@ss:word")


@pytest.fixture
def tls_server(
    tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[int, Mailbox, Login]]:
    cert_file, key_file = tls_files
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    mailbox, login = Mailbox(), Login()
    implicit = request.param == "smtps"
    options: dict[str, Any] = {"authenticator": login, "auth_require_tls": True}
    if implicit:
        # aiosmtpd only counts STARTTLS as TLS; the login records what the transport was.
        options |= {"ssl_context": context, "auth_require_tls": False}
    else:
        options |= {"tls_context": context, "require_starttls": True}
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    yield controller.port, mailbox, login
    controller.stop()


@pytest.mark.parametrize("tls_server", ["smtp", "smtps"], indirect=True)
def test_credentials_only_ever_travel_encrypted(
    tls_server: tuple[int, Mailbox, Login], request: pytest.FixtureRequest
) -> None:
    port, mailbox, login = tls_server
    scheme = request.node.callspec.params["tls_server"]
    server = mail.SmtpServer.from_url(f"{scheme}://alerts%40ngo:p%40ss%3Aword@127.0.0.1:{port}")
    message = mail.compose("m-2", payload(), to="sup@ngo.test", public_url="https://h.ngo.test")
    mail.send(server, message)
    assert login.seen == [(b"alerts@ngo", b"p@ss:word", True)]
    assert len(mailbox.messages) == 1
