"""argon2id cost: the default meets the OWASP floor, production refuses less, logins rehash."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from passlib.hash import argon2
from sqlalchemy import select

from app.auth import passwords
from app.config import ConfigurationError, Settings, production_problems
from app.crypto.keyring import FileKeyProvider
from app.db import transaction
from app.main import create_app
from app.models.user import User
from tests.conftest import make_settings
from tests.factories import login, make_user


def test_the_default_cost_is_the_owasp_floor() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.password_memory_kib, settings.password_rounds) == (19_456, 2)
    before = passwords.parameters()
    passwords.configure(settings.password_memory_kib, settings.password_rounds)
    try:
        parsed = argon2.from_string(passwords.hash_password("correct horse battery"))
    finally:
        passwords.configure(*before)
    assert (parsed.type, parsed.memory_cost, parsed.rounds, parsed.parallelism) == (
        "id",
        19_456,
        2,
        1,
    )


@pytest.mark.parametrize(("memory", "rounds"), [(8192, 2), (19_456, 1)])
def test_production_refuses_a_cost_below_the_floor(
    tmp_path: Path, memory: int, rounds: int
) -> None:
    key_file = tmp_path / "keys" / "master.key"
    FileKeyProvider.create(key_file, development=False)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="production",
        secret_key="s" * 48,
        database_url=f"sqlite:///{tmp_path / 'db' / 'haven.db'}",
        data_dir=tmp_path / "data",
        master_key_file=key_file,
        password_memory_kib=memory,
        password_rounds=rounds,
    )
    assert any("argon2id floor" in problem for problem in production_problems(settings))
    with pytest.raises(ConfigurationError, match="argon2id floor"):
        create_app(settings)


def test_a_login_rehashes_a_cheaper_hash_at_the_configured_cost(tmp_path: Path) -> None:
    # Hashes made under one cost are upgraded at the next sign-in once the cost is raised.
    from tests.conftest import database_url

    with database_url(tmp_path) as url:
        cheap = create_app(
            make_settings(tmp_path, url, password_memory_kib=1024, password_rounds=1)
        )
        user = make_user(cheap, "caseworker")
        cheap.state.engine.dispose()

        dearer = create_app(
            make_settings(tmp_path, url, password_memory_kib=2048, password_rounds=2)
        )
        try:
            with TestClient(dearer) as client:
                login(client, user)
            with transaction(dearer.state.sessionmaker) as session:
                stored = session.scalar(select(User.password_hash).where(User.id == user.id))
            parsed = argon2.from_string(stored)
            assert (parsed.memory_cost, parsed.rounds) == (2048, 2)
        finally:
            dearer.state.engine.dispose()
            passwords.configure(1024, 1)
