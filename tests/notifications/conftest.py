"""Push tests run on a database of their own whose settings turn Web Push on (a VAPID contact)
and admit a push service stand-in on loopback (HAVEN_WEBHOOK_ALLOW_HOSTS), with e-mail to a
real SMTP server on loopback. Each test starts with no pending outbox row."""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import http_ece  # type: ignore[import-untyped]
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.alerts.engine import Engine
from app.config import Settings
from app.main import create_app
from tests.conftest import database_url, fresh_address, make_settings
from tests.delivery.support import Mailbox, Received, Receiver, retire_pending, start_smtp
from tests.factories import API, Member, Team

CONTACT = "mailto:ops@haven.example.org"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A browser's push keys, made by the test (RFC 8291: a P-256 key pair and a secret)."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: random.randbytes(16))

    @property
    def p256dh(self) -> str:
        return b64url(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def subscription(self, endpoint: str) -> dict[str, Any]:
        return {"endpoint": endpoint, "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)}}

    def subscribe(self, client: TestClient, who: Member, endpoint: str) -> str:
        response = client.post(
            f"{API}/me/push-subscriptions", json=self.subscription(endpoint), headers=who.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def read(self, received: Received) -> Any:
        """Decrypt a message as the browser does (aes128gcm, RFC 8188/8291)."""
        plain = http_ece.decrypt(
            received.body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)

    def opens(self, received: Received) -> bool:
        try:
            self.read(received)
        except Exception:
            return False
        return True


def vapid_claims(authorization: str, public_key: str) -> dict[str, Any]:
    """Check an RFC 8292 ``vapid t=…, k=…`` header: k is the server key, t a JWT it signed
    (ES256). Returns the claims; raises AssertionError or InvalidSignature."""
    scheme, _, rest = authorization.partition(" ")
    assert scheme.lower() == "vapid"
    parts = dict(p.strip().split("=", 1) for p in rest.split(","))
    assert parts["k"] == public_key
    head, body, signature = parts["t"].split(".")
    assert json.loads(unb64url(head)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    key.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    claims: dict[str, Any] = json.loads(unb64url(body))
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    return claims


__all__ = ["InvalidSignature", "vapid_claims"]


@pytest.fixture(scope="package")
def mail() -> Iterator[tuple[int, Mailbox]]:
    controller, mailbox = start_smtp()
    yield controller.port, mailbox
    controller.stop()


@pytest.fixture(scope="package")
def push_settings(
    tmp_path_factory: pytest.TempPathFactory, mail: tuple[int, Mailbox]
) -> Iterator[Settings]:
    tmp = tmp_path_factory.mktemp("push")
    with database_url(tmp) as url:
        yield make_settings(
            tmp,
            url,
            webhook_allow_hosts="127.0.0.1",
            smtp_url=f"smtp://127.0.0.1:{mail[0]}",
            push_contact=CONTACT,
            public_url="https://haven.example.org",
            escalation_minutes=15,
        )


@pytest.fixture(scope="package")
def push_app(push_settings: Settings) -> Iterator[FastAPI]:
    application = create_app(push_settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def papi(push_app: FastAPI) -> Iterator[TestClient]:
    retire_pending(push_app)
    with TestClient(push_app, client=(fresh_address(), 50000)) as client:
        yield client


@pytest.fixture
def pteam(push_app: FastAPI, papi: TestClient) -> Team:
    return Team(push_app, papi)


@pytest.fixture
def service() -> Iterator[Receiver]:
    """The push service stand-in: a real HTTP server on loopback."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def engine(push_app: FastAPI, push_settings: Settings) -> Engine:
    return Engine(push_app.state.sessionmaker, push_settings, rng=random.Random(3))
