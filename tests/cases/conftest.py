"""Each case test works inside an organisation of its own."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.cases.support import Team


@pytest.fixture
def team(app: FastAPI, client: TestClient) -> Team:
    return Team(app, client)
