"""Test fixtures: a migrated database on the engine chosen by HAVEN_TEST_DATABASE.

``HAVEN_TEST_DATABASE=sqlite`` (the default) uses a fresh file in a temporary folder;
``HAVEN_TEST_DATABASE=postgresql`` creates a fresh database on the server named by
``HAVEN_TEST_PG_URL`` (default: the local server) and drops it afterwards. The suite is run once
per engine by scripts/test. Tests never assume empty tables: each makes its own users and
organisations with unique names, so one migrated database serves the whole session; tests that
need a database of their own (tampering, rotation) use ``fresh_database``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from tests.factories import Team

ENGINE = os.environ.get("HAVEN_TEST_DATABASE", "sqlite")
PG_URL = os.environ.get("HAVEN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pytest_report_header(config: pytest.Config) -> str:
    return f"haven test database: {ENGINE}"


@contextmanager
def database_url(tmp: Path) -> Iterator[str]:
    """A URL to a brand-new, empty database on the engine under test."""
    if ENGINE == "sqlite":
        yield f"sqlite:///{tmp / 'db' / 'haven.db'}"
        return
    if ENGINE != "postgresql":
        raise pytest.UsageError(f"HAVEN_TEST_DATABASE must be sqlite or postgresql, not {ENGINE}")
    name = f"haven_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_settings(tmp: Path, url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "data_dir": tmp / "data",
        "master_key_file": tmp / "keys" / "master.key",
        "env": "development",
        "log_format": "text",
        # Cheap argon2id for the thousands of sign-ins of the suite: the same code path at a
        # lower cost; tests/auth/test_passwords.py checks the real default and the production floor.
        "password_memory_kib": 1024,
        "password_rounds": 1,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    tmp = tmp_path_factory.mktemp("haven")
    with database_url(tmp) as url:
        yield make_settings(tmp, url)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@contextmanager
def deployment_of_its_own(tmp: Path) -> Iterator[FastAPI]:
    """An app on a database of its own, for tests that measure what the shared one would
    distort (it holds hundreds of organisations, which organisation pickers list)."""
    with database_url(tmp) as url:
        application = create_app(make_settings(tmp, url))
        try:
            yield application
        finally:
            application.state.engine.dispose()


def fresh_address() -> str:
    """A client address no other test uses (2001:db8::/32 is set aside for documentation)."""
    h = uuid.uuid4().hex
    return "2001:db8:" + ":".join(h[i : i + 4] for i in range(0, 24, 4))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # An address of its own per test: failed sign-ins are throttled per address, and the
    # shared database would otherwise add up every test's deliberate failures.
    with TestClient(app, client=(fresh_address(), 50000)) as test_client:
        yield test_client


@pytest.fixture
def team(app: FastAPI, client: TestClient) -> Team:
    """An organisation of its own with a signed-in member per role, made on first use
    (``team.caseworker``, ``team.supervisor`` …), and the builder of its people, cases,
    documents and incidents (tests/factories.py)."""
    return Team(app, client)


@pytest.fixture
def session(app: FastAPI) -> Iterator[Session]:
    """A session on the shared test database; committed when the test passes."""
    from app.db import transaction

    with transaction(app.state.sessionmaker) as db:
        yield db


@pytest.fixture
def fresh_database(tmp_path: Path) -> Iterator[Callable[..., FastAPI]]:
    """Builds apps on a database of their own (migrated from empty), disposed afterwards."""
    apps: list[FastAPI] = []
    with database_url(tmp_path) as url:

        def build(**overrides: object) -> FastAPI:
            application = create_app(make_settings(tmp_path, url, **overrides))
            apps.append(application)
            return application

        yield build
        for application in apps:
            application.state.engine.dispose()
