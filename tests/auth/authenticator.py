"""A software WebAuthn authenticator for the API tests: an EC P-256 key, attestation "none"
and assertions built as a browser and authenticator build them (clientDataJSON,
authenticatorData with the RP ID hash, flags and counter, an ECDSA signature over
authenticatorData || SHA-256(clientDataJSON)). Written here so the tests depend on no
authenticator library: every byte the server checks is made in plain view."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from fastapi.testclient import TestClient

from tests.factories import API, PASSWORD

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Authenticator:
    origin: str
    rp_id: str
    # EC P-256 here; an Ed25519 key taken from Chromium's virtual authenticator signs too.
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    counter: int = 0
    user_handle: bytes | None = None
    backup_eligible: bool = False

    def _cose(self) -> bytes:
        assert isinstance(self.key, ec.EllipticCurvePrivateKey)
        numbers = self.key.public_key().public_numbers()
        x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: x, -3: y})

    def _flags(self, flags: int) -> int:
        return flags | (BE if self.backup_eligible else 0)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin},
            separators=(",", ":"),
        ).encode()

    def create(
        self, options: dict[str, Any], *, origin: str | None = None, flags: int = UP | UV
    ) -> dict[str, Any]:
        """navigator.credentials.create() answered: attestation "none"."""
        self.user_handle = unb64(options["user"]["id"])
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        auth_data = (
            rp_hash
            + bytes([self._flags(flags | AT)])
            + struct.pack(">I", self.counter)
            + bytes(16)
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data),
                "attestationObject": b64(attestation),
            },
            "clientExtensionResults": {},
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        flags: int = UP | UV,
        counter: int | None = None,
    ) -> dict[str, Any]:
        """navigator.credentials.get() answered: the counter moves on unless given."""
        if counter is None:
            self.counter += 1
            counter = self.counter
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        auth_data = rp_hash + bytes([self._flags(flags)]) + struct.pack(">I", counter)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            signature = self.key.sign(signed)
        else:
            signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        response = {
            "clientDataJSON": b64(client_data),
            "authenticatorData": b64(auth_data),
            "signature": b64(signature),
        }
        if self.user_handle is not None:
            response["userHandle"] = b64(self.user_handle)
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
        }


def for_app(client: TestClient) -> Authenticator:
    """An authenticator for the app's HAVEN_PUBLIC_URL (its origin and RP ID)."""
    settings = client.app.state.settings  # type: ignore[attr-defined]
    from urllib.parse import urlsplit

    url = urlsplit(settings.public_url)
    return Authenticator(origin=f"{url.scheme}://{url.netloc}", rp_id=url.hostname or "")


def register(
    client: TestClient, headers: dict[str, str], name: str = "Security key"
) -> tuple[Authenticator, str]:
    """A passkey registered through the real endpoints: (authenticator, passkey id)."""
    device = for_app(client)
    options = client.post(
        f"{API}/auth/passkeys/register/options", json={"password": PASSWORD}, headers=headers
    )
    assert options.status_code == 200, options.text
    made = client.post(
        f"{API}/auth/passkeys/register",
        json={"credential": device.create(options.json()), "name": name},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    return device, made.json()["id"]


def login_options(client: TestClient, username: str | None = None) -> dict[str, Any]:
    body = {"username": username} if username else {}
    response = client.post(f"{API}/auth/passkeys/login/options", json=body)
    assert response.status_code == 200, response.text
    options: dict[str, Any] = response.json()
    return options
