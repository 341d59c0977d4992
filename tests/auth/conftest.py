"""Fixtures for the identity tests."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import UserHandle, login, make_user


@pytest.fixture
def admin(app: FastAPI) -> UserHandle:
    return make_user(app, "admin")


@pytest.fixture
def admin_headers(client: TestClient, admin: UserHandle) -> dict[str, str]:
    return login(client, admin)
