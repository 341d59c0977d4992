"""Key-encryption keys behind a KeyProvider interface (SECURITY.md §10.4).

A provider wraps and unwraps data keys under versioned KEKs and hands out the two other roots:
the blind-index root key and the audit signing key. Two providers ship:

- ``FileKeyProvider``: the local keyring file (mode 0600), created on first start in development.
- ``PassphraseKeyProvider``: the same keyring sealed under an Argon2id-derived key, for field
  laptops, so a stolen powered-off machine reveals nothing.

A Vault Transit or cloud-KMS provider implements the same four key operations (``wrap``,
``unwrap``, ``add_kek_version``, ``kek_versions``) against the remote service, and reads the two
roots from its secret store; nothing else in Haven needs to change.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import stat
import struct
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.crypto.envelope import CryptoError, DecryptionError, UnknownKeyError

KEYRING_FORMAT = "haven-keyring/1"
_WRAP_MAGIC = b"haven-dek-wrap-v1"
# RFC 9106 second recommendation, raised: unlocking happens once per start.
ARGON2_MEMORY_KIB = 262_144
ARGON2_TIME = 3
ARGON2_LANES = 4


class KeyringLocked(CryptoError):
    """The keyring cannot be opened: missing, wrong passphrase, or damaged."""


def wrap_aad(subject_id: uuid.UUID, key_id: int, kek_version: int) -> bytes:
    return _WRAP_MAGIC + subject_id.bytes + struct.pack(">II", key_id, kek_version)


class KeyProvider(Protocol):
    """Where key-encryption keys live. KEK material never leaves the provider."""

    @property
    def development(self) -> bool: ...

    def current_kek_version(self) -> int: ...

    def kek_versions(self) -> list[int]: ...

    def wrap(self, version: int, dek: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, version: int, wrapped: bytes, aad: bytes) -> bytes: ...

    def add_kek_version(self) -> int: ...

    def index_root_key(self) -> bytes: ...

    def audit_signing_key(self) -> Ed25519PrivateKey: ...


@dataclass(frozen=True)
class KeyringInfo:
    """What can be learnt about a keyring file without unlocking it."""

    development: bool
    protected: bool
    mode: int


def inspect_keyring(path: Path) -> KeyringInfo | None:
    try:
        raw = path.read_bytes()
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        raise KeyringLocked(f"the keyring {path} is not a Haven keyring") from None
    return KeyringInfo(
        development=bool(doc.get("development", True)),
        protected=doc.get("protection") == "argon2id",
        mode=mode,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


def _new_material() -> dict[str, Any]:
    return {
        "kek": {"1": _b64(os.urandom(32))},
        "current_kek": 1,
        "index_root": _b64(os.urandom(32)),
        "audit_signing": _b64(os.urandom(32)),
    }


def _derive(passphrase: str, salt: bytes, m: int, t: int, p: int) -> tuple[bytes, bytes]:
    """Argon2id → (encryption key, commitment key); the commitment makes the seal key-committing."""
    out = hash_secret_raw(passphrase.encode(), salt, t, m, p, 64, Type.ID)
    return out[:32], out[32:]


class FileKeyProvider:
    """The local keyring file. Writes are atomic (temp file, fsync, rename)."""

    def __init__(self, path: Path, *, passphrase: str | None = None) -> None:
        self.path = path
        self._passphrase = passphrase
        self._lock = threading.Lock()
        self._mtime_ns = -1
        self._doc: dict[str, Any] = {}
        self._material: dict[str, Any] = {}
        self._keks: dict[int, AESGCM] = {}
        self._reload()

    # Creation -----------------------------------------------------------------------------
    @classmethod
    def create(
        cls, path: Path, *, development: bool, passphrase: str | None = None
    ) -> FileKeyProvider:
        if path.exists():
            raise CryptoError(f"the keyring {path} already exists")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        doc = {
            "format": KEYRING_FORMAT,
            "development": development,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        _write_atomic(path, _seal_doc(doc, _new_material(), passphrase), exclusive=True)
        return cls(path, passphrase=passphrase)

    # Loading ------------------------------------------------------------------------------
    @property
    def development(self) -> bool:
        return bool(self._doc.get("development", True))

    def _reload(self) -> None:
        try:
            st = self.path.stat()
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise KeyringLocked(f"the keyring {self.path} does not exist") from None
        try:
            doc = json.loads(raw)
        except ValueError:
            raise KeyringLocked(f"the keyring {self.path} is not a Haven keyring") from None
        if doc.get("format") != KEYRING_FORMAT:
            raise KeyringLocked(f"the keyring {self.path} has an unknown format")
        material = _open_doc(doc, self._passphrase, self.path)
        self._doc, self._material = doc, material
        self._keks = {int(v): AESGCM(_unb64(k)) for v, k in material["kek"].items()}
        self._mtime_ns = st.st_mtime_ns

    def _refresh_if_changed(self) -> None:
        """Another process (a rotation) may have added a KEK version."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime != self._mtime_ns:
            with self._lock:
                if mtime != self._mtime_ns:
                    self._reload()

    # KeyProvider --------------------------------------------------------------------------
    def current_kek_version(self) -> int:
        return int(self._loaded()["current_kek"])

    def kek_versions(self) -> list[int]:
        self._refresh_if_changed()
        return sorted(self._keks)

    def wrap(self, version: int, dek: bytes, aad: bytes) -> bytes:
        kek = self._kek(version)
        nonce = os.urandom(12)
        return nonce + kek.encrypt(nonce, dek, aad)

    def unwrap(self, version: int, wrapped: bytes, aad: bytes) -> bytes:
        kek = self._kek(version)
        try:
            return kek.decrypt(wrapped[:12], wrapped[12:], aad)
        except InvalidTag:
            raise DecryptionError("data key failed to unwrap") from None

    def _kek(self, version: int) -> AESGCM:
        kek = self._keks.get(version)
        if kek is None:
            self._refresh_if_changed()
            kek = self._keks.get(version)
        if kek is None:
            raise UnknownKeyError(f"key-encryption key version {version} is not in the keyring")
        return kek

    def forget(self) -> None:
        """Drop the keys from memory (lock-down); the next use reads the keyring file again."""
        with self._lock:
            self._keks, self._material, self._mtime_ns = {}, {}, -1

    def add_kek_version(self) -> int:
        with self._lock:
            self._reload()
            material = dict(self._material)
            keks = dict(material["kek"])
            version = max(int(v) for v in keks) + 1
            keks[str(version)] = _b64(os.urandom(32))
            material["kek"], material["current_kek"] = keks, version
            _write_atomic(self.path, _seal_doc(self._doc, material, self._passphrase))
            self._reload()
            return version

    def index_root_key(self) -> bytes:
        return _unb64(self._loaded()["index_root"])

    def audit_signing_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(_unb64(self._loaded()["audit_signing"]))

    def _loaded(self) -> dict[str, Any]:
        self._refresh_if_changed()
        if not self._material:
            raise KeyringLocked(f"the keyring {self.path} is not loaded (locked down?)")
        return self._material


class PassphraseKeyProvider(FileKeyProvider):
    """The keyring file sealed under a passphrase (Argon2id), for field laptops."""

    def __init__(self, path: Path, *, passphrase: str | None) -> None:
        if not passphrase:
            raise KeyringLocked("a passphrase is needed to unlock the keyring")
        super().__init__(path, passphrase=passphrase)


def _seal_doc(doc: dict[str, Any], material: dict[str, Any], passphrase: str | None) -> bytes:
    out = {k: v for k, v in doc.items() if k not in ("keys", "sealed", "protection")}
    if passphrase is None:
        out["protection"] = "none"
        out["keys"] = material
    else:
        salt = os.urandom(16)
        enc_key, commit_key = _derive(
            passphrase, salt, ARGON2_MEMORY_KIB, ARGON2_TIME, ARGON2_LANES
        )
        nonce = os.urandom(12)
        body = json.dumps(material).encode()
        out["protection"] = "argon2id"
        out["sealed"] = {
            "salt": _b64(salt),
            "m": ARGON2_MEMORY_KIB,
            "t": ARGON2_TIME,
            "p": ARGON2_LANES,
            "nonce": _b64(nonce),
            "commitment": _b64(hmac.digest(commit_key, b"haven-keyring-commit", hashlib.sha256)),
            "ciphertext": _b64(AESGCM(enc_key).encrypt(nonce, body, KEYRING_FORMAT.encode())),
        }
    return (json.dumps(out, indent=1) + "\n").encode()


def _open_doc(doc: dict[str, Any], passphrase: str | None, path: Path) -> dict[str, Any]:
    if doc.get("protection") != "argon2id":
        keys: dict[str, Any] = doc["keys"]
        return keys
    if not passphrase:
        raise KeyringLocked(f"the keyring {path} is passphrase-protected")
    sealed = doc["sealed"]
    enc_key, commit_key = _derive(
        passphrase, _unb64(sealed["salt"]), sealed["m"], sealed["t"], sealed["p"]
    )
    expected = hmac.digest(commit_key, b"haven-keyring-commit", hashlib.sha256)
    if not hmac.compare_digest(expected, _unb64(sealed["commitment"])):
        raise KeyringLocked("wrong passphrase for the keyring")
    try:
        body = AESGCM(enc_key).decrypt(
            _unb64(sealed["nonce"]), _unb64(sealed["ciphertext"]), KEYRING_FORMAT.encode()
        )
    except InvalidTag:
        raise KeyringLocked(f"the keyring {path} is damaged") from None
    opened: dict[str, Any] = json.loads(body)
    return opened


def _write_atomic(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keyring-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)  # fails if another process created the keyring first
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class KeyringSettings(Protocol):
    """What ``open_provider`` reads of app.config.Settings (named here, not imported: the
    crypto layer sits below the configuration)."""

    @property
    def key_file(self) -> Path: ...
    @property
    def key_provider(self) -> str: ...
    @property
    def keyring_passphrase(self) -> str | None: ...
    @property
    def production(self) -> bool: ...


def open_provider(settings: KeyringSettings, *, create: bool) -> FileKeyProvider:
    """The configured provider; in development a missing keyring is created (mode 0600)."""
    path: Path = settings.key_file
    passphrase = settings.keyring_passphrase if settings.key_provider == "passphrase" else None
    if settings.key_provider == "passphrase" and not passphrase:
        raise KeyringLocked("HAVEN_KEY_PROVIDER=passphrase needs HAVEN_KEYRING_PASSPHRASE")
    if not path.exists():
        if not create or settings.production:
            raise KeyringLocked(
                f"the keyring {path} does not exist; create one with `haven keys init`"
            )
        try:
            return FileKeyProvider.create(path, development=True, passphrase=passphrase)
        except FileExistsError:
            pass  # another process created it a moment ago
    if passphrase is not None:
        return PassphraseKeyProvider(path, passphrase=passphrase)
    return FileKeyProvider(path)
