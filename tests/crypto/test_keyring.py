"""The keyring file: private, marked when for development, sealed under a passphrase."""

from __future__ import annotations

import base64
import json
import os
import stat
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from app.config import Settings, production_problems
from app.crypto import CryptoError, DecryptionError, UnknownKeyError, keyring
from app.crypto.keyring import (
    FileKeyProvider,
    KeyringLocked,
    PassphraseKeyProvider,
    inspect_keyring,
    open_provider,
    wrap_aad,
)

PASSPHRASE = "mekong ferry at dawn, 7 lanterns"


@pytest.fixture
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped cost (256 MiB) is for laptops unlocking once per start, not for tests."""
    monkeypatch.setattr(keyring, "ARGON2_MEMORY_KIB", 1024)
    monkeypatch.setattr(keyring, "ARGON2_TIME", 1)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _secrets(provider: FileKeyProvider) -> list[bytes]:
    """Every root secret the keyring holds: KEK versions, index root, audit signing key."""
    keks = [base64.b64decode(k) for k in provider._material["kek"].values()]
    signing = provider.audit_signing_key().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    return [*keks, provider.index_root_key(), signing]


def _encodings(secret: bytes) -> list[bytes]:
    return [secret, base64.b64encode(secret), secret.hex().encode(), secret.hex().upper().encode()]


def test_keyring_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    provider = FileKeyProvider.create(path, development=True)
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    provider.add_kek_version()  # rewritten atomically, still private
    assert _mode(path) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name != "master.key"]  # no temp files left


def test_existing_keyring_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    provider = FileKeyProvider.create(path, development=True)
    before = path.read_bytes()
    with pytest.raises(CryptoError, match="already exists"):
        FileKeyProvider.create(path, development=True)
    assert path.read_bytes() == before
    assert FileKeyProvider(path).index_root_key() == provider.index_root_key()


def test_development_keyring_is_marked_and_refused_in_production(tmp_path: Path) -> None:
    dev_path, prod_path = tmp_path / "dev.key", tmp_path / "prod.key"
    dev = FileKeyProvider.create(dev_path, development=True)
    prod = FileKeyProvider.create(prod_path, development=False)
    assert dev.development is True
    assert prod.development is False
    assert FileKeyProvider(dev_path).development is True
    assert json.loads(dev_path.read_bytes())["development"] is True
    dev_info, prod_info = inspect_keyring(dev_path), inspect_keyring(prod_path)
    assert dev_info is not None and dev_info.development and not dev_info.protected
    assert prod_info is not None and not prod_info.development
    assert dev_info.mode == prod_info.mode == 0o600

    def problems(key_file: Path) -> list[str]:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{tmp_path / 'db' / 'haven.db'}",
            data_dir=tmp_path / "data",
            master_key_file=key_file,
            env="production",
            secret_key="s" * 48,
        )
        return production_problems(settings)

    assert any("development keyring" in p for p in problems(dev_path))
    assert problems(prod_path) == []


def test_app_creates_a_private_development_keyring(app) -> None:  # type: ignore[no-untyped-def]
    path = app.state.settings.key_file
    info = inspect_keyring(path)
    assert info is not None
    assert info.development is True
    assert info.mode == 0o600
    assert app.state.crypto.provider.development is True


def test_keyrings_hold_distinct_random_roots(tmp_path: Path) -> None:
    one = FileKeyProvider.create(tmp_path / "one.key", development=True)
    two = FileKeyProvider.create(tmp_path / "two.key", development=True)
    assert one.index_root_key() != two.index_root_key()
    assert len(set(_secrets(one))) == len(_secrets(one))  # no root reused for another purpose
    aad = wrap_aad(uuid.uuid4(), 1, 1)
    wrapped = one.wrap(1, os.urandom(32), aad)
    with pytest.raises(DecryptionError):
        two.unwrap(1, wrapped, aad)


def test_wrapped_data_key_is_bound_to_owner_key_id_and_version(tmp_path: Path) -> None:
    provider = FileKeyProvider.create(tmp_path / "master.key", development=True)
    provider.add_kek_version()
    owner, dek = uuid.uuid4(), os.urandom(32)
    wrapped = provider.wrap(2, dek, wrap_aad(owner, 5, 2))
    assert provider.unwrap(2, wrapped, wrap_aad(owner, 5, 2)) == dek
    for aad in (wrap_aad(uuid.uuid4(), 5, 2), wrap_aad(owner, 6, 2), wrap_aad(owner, 5, 1)):
        with pytest.raises(DecryptionError):
            provider.unwrap(2, wrapped, aad)
    with pytest.raises(DecryptionError):
        provider.unwrap(1, wrapped, wrap_aad(owner, 5, 2))  # the older KEK
    with pytest.raises(UnknownKeyError, match="version 9"):
        provider.unwrap(9, wrapped, wrap_aad(owner, 5, 9))


def test_new_kek_version_becomes_current_and_old_ones_stay(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    provider = FileKeyProvider.create(path, development=True)
    owner, dek = uuid.uuid4(), os.urandom(32)
    old = provider.wrap(1, dek, wrap_aad(owner, 1, 1))
    other_process = FileKeyProvider(path)
    assert provider.add_kek_version() == 2
    assert provider.current_kek_version() == 2
    assert other_process.current_kek_version() == 2  # picked up from the file
    assert other_process.kek_versions() == [1, 2]
    assert other_process.unwrap(1, old, wrap_aad(owner, 1, 1)) == dek


def test_shipped_passphrase_cost_is_at_least_rfc9106_second_recommendation() -> None:
    assert keyring.ARGON2_MEMORY_KIB >= 64 * 1024
    assert keyring.ARGON2_TIME >= 3


def test_passphrase_keyring_opens_only_with_the_right_passphrase(
    tmp_path: Path, fast_argon2: None
) -> None:
    path = tmp_path / "field.key"
    created = FileKeyProvider.create(path, development=False, passphrase=PASSPHRASE)
    assert _mode(path) == 0o600

    unlocked = PassphraseKeyProvider(path, passphrase=PASSPHRASE)
    assert unlocked.index_root_key() == created.index_root_key()
    owner, dek = uuid.uuid4(), os.urandom(32)
    assert unlocked.unwrap(1, created.wrap(1, dek, wrap_aad(owner, 1, 1)), wrap_aad(owner, 1, 1))

    with pytest.raises(KeyringLocked, match="wrong passphrase"):
        PassphraseKeyProvider(path, passphrase=PASSPHRASE + "!")
    with pytest.raises(KeyringLocked, match="wrong passphrase"):
        PassphraseKeyProvider(path, passphrase=PASSPHRASE.upper())
    with pytest.raises(KeyringLocked):
        PassphraseKeyProvider(path, passphrase="")
    with pytest.raises(KeyringLocked, match="passphrase-protected"):
        FileKeyProvider(path)  # no passphrase given


def test_passphrase_keyring_file_holds_no_key_material(tmp_path: Path, fast_argon2: None) -> None:
    path = tmp_path / "field.key"
    provider = FileKeyProvider.create(path, development=False, passphrase=PASSPHRASE)
    provider.add_kek_version()  # re-sealed under the passphrase, never written in the clear
    raw = path.read_bytes()
    doc = json.loads(raw)
    assert doc["protection"] == "argon2id"
    assert "keys" not in doc
    assert doc["sealed"]["m"] == 1024
    assert PASSPHRASE.encode() not in raw
    secrets = _secrets(provider)
    assert len(secrets) == 4  # two KEK versions, index root, audit signing key
    for secret in secrets:
        for form in _encodings(secret):
            assert form not in raw
    info = inspect_keyring(path)
    assert info is not None and info.protected
    reopened = PassphraseKeyProvider(path, passphrase=PASSPHRASE)
    assert reopened.kek_versions() == [1, 2]
    assert _secrets(reopened) == secrets


def test_unprotected_keyring_scan_finds_its_material(tmp_path: Path) -> None:
    """The control for the test above: the same scan does see keys stored in the clear."""
    path = tmp_path / "dev.key"
    provider = FileKeyProvider.create(path, development=True)
    raw = path.read_bytes()
    assert all(any(form in raw for form in _encodings(s)) for s in _secrets(provider))


def test_damaged_passphrase_keyring_is_refused(tmp_path: Path, fast_argon2: None) -> None:
    path = tmp_path / "field.key"
    FileKeyProvider.create(path, development=False, passphrase=PASSPHRASE)
    doc = json.loads(path.read_bytes())
    body = bytearray(base64.b64decode(doc["sealed"]["ciphertext"]))
    body[10] ^= 1
    doc["sealed"]["ciphertext"] = base64.b64encode(bytes(body)).decode()
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyringLocked, match="damaged"):
        PassphraseKeyProvider(path, passphrase=PASSPHRASE)


def test_passphrase_provider_from_settings(tmp_path: Path, fast_argon2: None) -> None:
    def settings(**extra: object) -> Settings:
        return Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{tmp_path / 'db' / 'haven.db'}",
            data_dir=tmp_path / "data",
            master_key_file=tmp_path / "keys" / "master.key",
            env="development",
            key_provider="passphrase",
            **extra,
        )

    with pytest.raises(KeyringLocked, match="HAVEN_KEYRING_PASSPHRASE"):
        open_provider(settings(), create=True)
    provider = open_provider(settings(keyring_passphrase=PASSPHRASE), create=True)
    info = inspect_keyring(tmp_path / "keys" / "master.key")
    assert info is not None and info.protected and info.development and info.mode == 0o600
    again = open_provider(settings(keyring_passphrase=PASSPHRASE), create=False)
    assert isinstance(again, PassphraseKeyProvider)
    assert again.index_root_key() == provider.index_root_key()
    with pytest.raises(KeyringLocked, match="wrong passphrase"):
        open_provider(settings(keyring_passphrase="not the passphrase"), create=False)
