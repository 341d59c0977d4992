"""How long an alert takes from POST /incidents to the webhook receiver, through `haven serve`.

A measurement, not a check of the suite: run it with
``HAVEN_MEASURE_LATENCY=1 .venv/bin/pytest tests/delivery/test_latency.py -q -s``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from tests.delivery.conftest import register
from tests.delivery.processes import Process, environment
from tests.delivery.support import Receiver, free_port
from tests.factories import API, PASSWORD, Team, unique

INCIDENTS = 50

pytestmark = pytest.mark.skipif(
    os.environ.get("HAVEN_MEASURE_LATENCY") != "1", reason="a measurement: HAVEN_MEASURE_LATENCY=1"
)


def test_alert_latency_through_serve(
    api: TestClient,
    team: Team,
    receiver: Receiver,
    delivery_app: FastAPI,
    delivery_settings: Settings,
    tmp_path: Path,
) -> None:
    register(api, team, receiver.url, events=["alert.created"])
    worker = team.user("caseworker")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Process(
        ["serve", "--host", "127.0.0.1", "--port", str(port)],
        environment(delivery_settings),  # the default engine interval (1 s)
        tmp_path,
    )
    posted: dict[str, float] = {}
    try:
        server.wait_for("Application startup complete")
        with httpx.Client(base_url=base, timeout=30) as http:
            token = http.post(
                f"{API}/auth/login", json={"username": worker.username, "password": PASSWORD}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            people = []
            for _ in range(INCIDENTS):
                response = http.post(
                    f"{API}/individuals",
                    json={"full_name": unique("Latency Person"), "current_country": "THA"},
                    headers=headers,
                )
                assert response.status_code == 201, response.text
                people.append(response.json()["id"])
            for person in people:
                posted[person] = time.time()
                response = http.post(
                    f"{API}/incidents",
                    json={
                        "type": "physical_attack",
                        "occurred_on": dt.date.today().isoformat(),
                        "country": "THA",
                        "description": "Beaten outside the flat.",
                        "individual_ids": [person],
                        "source": {"name": "Neighbour", "reliability": "B", "credibility": 2},
                    },
                    headers=headers,
                )
                assert response.status_code == 201, response.text
                time.sleep(0.05)  # incidents arrive one by one, not in a burst
        receiver.wait_for(INCIDENTS, timeout=60)
    finally:
        server.terminate()
        server.kill()
    latencies = []
    for received in receiver.snapshot():
        person = json.loads(received.body)["data"]["individual_id"]
        latencies.append(received.started - posted[person])
    latencies.sort()
    median = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * len(latencies)) - 1)]
    print(
        f"\nalert latency POST /incidents → webhook receipt over {len(latencies)} incidents "
        f"({delivery_settings.dialect}): median {median * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )
    assert {str(uuid.UUID(p)) for p in posted} == {
        json.loads(r.body)["data"]["individual_id"] for r in receiver.snapshot()
    }
