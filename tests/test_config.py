"""HAVEN_ENV=production refuses unsafe configurations, naming the reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings, check_production, production_problems
from app.crypto import Crypto
from app.crypto.keyring import FileKeyProvider
from app.errors import ConfigurationError
from app.main import create_app
from app.startup import prepare

SECRET = "a-production-secret-key-of-enough-length-0123456789"


def production_settings(tmp_path: Path, **overrides: object) -> Settings:
    """A production configuration that is correct unless the overrides spoil it."""
    values: dict[str, object] = {
        "env": "production",
        "database_url": f"sqlite:///{tmp_path / 'db' / 'haven.db'}",
        "data_dir": tmp_path / "data",
        "master_key_file": tmp_path / "keys" / "master.key",
        "secret_key": SECRET,
        "debug": False,
        "key_provider": "file",
        "log_format": "text",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_keyring(path: Path, *, development: bool) -> Path:
    FileKeyProvider.create(path, development=development)
    return path


def refusal(settings: Settings) -> str:
    with pytest.raises(ConfigurationError) as caught:
        check_production(settings)
    message = str(caught.value)
    assert message.startswith("refusing to start in production")
    # prepare() is what `haven serve`, `haven worker` and create_app run first.
    with pytest.raises(ConfigurationError):
        prepare(settings)
    return message


def test_a_correct_production_setup_is_accepted(tmp_path: Path) -> None:
    settings = production_settings(tmp_path)
    key_file = make_keyring(settings.key_file, development=False)
    assert key_file.stat().st_mode & 0o777 == 0o600

    assert production_problems(settings) == []
    check_production(settings)
    assert isinstance(prepare(settings), Crypto)

    app = create_app(settings)
    try:
        assert app.state.settings.production
        assert app.docs_url is None  # no interactive docs in production
    finally:
        app.state.engine.dispose()


def test_refuses_a_development_keyring(tmp_path: Path) -> None:
    settings = production_settings(tmp_path)
    make_keyring(settings.key_file, development=True)
    message = refusal(settings)
    assert "development keyring" in message
    assert "haven keys init" in message


def test_refuses_a_missing_keyring_and_does_not_create_one(tmp_path: Path) -> None:
    settings = production_settings(tmp_path)
    message = refusal(settings)
    assert "does not exist" in message
    assert not settings.key_file.exists()


def test_refuses_debug(tmp_path: Path) -> None:
    settings = production_settings(tmp_path, debug=True)
    make_keyring(settings.key_file, development=False)
    assert "debug" in refusal(settings)


def test_refuses_a_missing_secret_key(tmp_path: Path) -> None:
    settings = production_settings(tmp_path, secret_key="")
    make_keyring(settings.key_file, development=False)
    assert "HAVEN_SECRET_KEY" in refusal(settings)
    assert not (settings.data_dir / "secret.key").exists()  # nothing generated either


def test_refuses_the_key_file_inside_the_database_folder(tmp_path: Path) -> None:
    settings = production_settings(tmp_path, master_key_file=tmp_path / "db" / "master.key")
    make_keyring(settings.key_file, development=False)
    message = refusal(settings)
    assert "inside the database directory" in message


def test_refuses_a_key_file_other_users_can_read(tmp_path: Path) -> None:
    settings = production_settings(tmp_path)
    make_keyring(settings.key_file, development=False).chmod(0o644)
    assert "chmod 600" in refusal(settings)


def test_names_every_reason_at_once(tmp_path: Path) -> None:
    settings = production_settings(tmp_path, debug=True, secret_key="")
    make_keyring(settings.key_file, development=True)
    message = refusal(settings)
    for reason in ("debug", "HAVEN_SECRET_KEY", "development keyring"):
        assert reason in message


def test_development_accepts_what_production_refuses(tmp_path: Path) -> None:
    settings = production_settings(tmp_path, env="development", debug=True, secret_key="")
    make_keyring(settings.key_file, development=True)
    check_production(settings)
    assert isinstance(prepare(settings), Crypto)


def test_serve_refuses_production_with_a_development_keyring(tmp_path: Path) -> None:
    key_file = make_keyring(tmp_path / "keys" / "master.key", development=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env.update(
        HAVEN_ENV="production",
        HAVEN_DATABASE_URL=f"sqlite:///{tmp_path / 'db' / 'haven.db'}",
        HAVEN_DATA_DIR=str(tmp_path / "data"),
        HAVEN_MASTER_KEY_FILE=str(key_file),
        HAVEN_SECRET_KEY=SECRET,
    )
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("haven: refusing to start in production")
    assert "development keyring" in lines[0]
    assert not (tmp_path / "db" / "haven.db").exists()  # refused before touching the database


class TestRequireMfa:
    """HAVEN_REQUIRE_MFA (issue 13, item 4): two-factor for everyone who signs in, on by default
    in production only, and settable either way."""

    def test_on_by_default_in_production(self, tmp_path: Path) -> None:
        assert production_settings(tmp_path).mfa_required is True

    def test_off_by_default_in_development(self, tmp_path: Path) -> None:
        settings = production_settings(tmp_path, env="development")
        assert settings.mfa_required is False

    @pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False), ("", None)])
    def test_read_from_the_environment(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: bool | None
    ) -> None:
        monkeypatch.setenv("HAVEN_REQUIRE_MFA", value)
        settings = production_settings(tmp_path, env="development")
        assert settings.require_mfa is expected
        assert settings.mfa_required is bool(expected)

    def test_production_may_turn_it_off_explicitly(self, tmp_path: Path) -> None:
        assert production_settings(tmp_path, require_mfa=False).mfa_required is False
