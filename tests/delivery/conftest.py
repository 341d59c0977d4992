"""Delivery tests run on a database of their own, whose settings allowlist loopback receivers
and send e-mail to a real SMTP server on loopback. Each test starts with no pending outbox row,
so an engine under test only ever sees the rows that test wrote."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import database_url, fresh_address, make_settings
from tests.delivery.support import Mailbox, Receiver, retire_pending, start_smtp
from tests.factories import API, Team


@pytest.fixture(scope="package")
def smtp() -> Iterator[tuple[int, Mailbox]]:
    controller, mailbox = start_smtp()
    yield controller.port, mailbox
    controller.stop()


@pytest.fixture(scope="package")
def delivery_settings(
    tmp_path_factory: pytest.TempPathFactory, smtp: tuple[int, Mailbox]
) -> Iterator[Settings]:
    tmp = tmp_path_factory.mktemp("delivery")
    with database_url(tmp) as url:
        yield make_settings(
            tmp,
            url,
            webhook_allow_hosts="127.0.0.1",
            smtp_url=f"smtp://127.0.0.1:{smtp[0]}",
            public_url="https://haven.example.org",
        )


@pytest.fixture(scope="package")
def delivery_app(delivery_settings: Settings) -> Iterator[FastAPI]:
    application = create_app(delivery_settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture(autouse=True)
def _no_pending(delivery_app: FastAPI) -> None:
    retire_pending(delivery_app)


@pytest.fixture
def api(delivery_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(delivery_app, client=(fresh_address(), 50000)) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def team(delivery_app: FastAPI, api: TestClient) -> Team:
    """The shared team fixture's builder, on this package's app."""
    return Team(delivery_app, api)


def register(api: TestClient, team: Team, url: str, **body: object) -> dict[str, str]:
    response = api.post(f"{API}/webhooks", json={"url": url, **body}, headers=team.admin.headers)
    assert response.status_code == 201, response.text
    return response.json()
