"""A real `haven serve` under more concurrent requests than it has worker threads.

Every request runs in several worker threads one after the other (each dependency, then the
route). On SQLite its transaction holds the database's only write lock from its first statement
to its commit, so requests that waited for the lock inside worker threads could take every
thread the lock's holder needed for its next step: the server stalled until the busy timeout
and answered 500s and 503s. Here 48 clients read and write at once while others give up early
(their requests go on in the server after the client has left), and every request that was
waited for must succeed, with its audit entry, and the server must answer afterwards.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.db import transaction
from app.models.audit import AuditEntry
from tests.factories import make_organisation, make_user
from tests.faults.support import API, assert_audit_chain_verifies, serving

pytestmark = pytest.mark.slow

CLIENTS = 48  # more than the event loop's 40 worker threads
ABANDONED = 24
PATIENT = 120.0  # a stalled server fails the test long before this, by 500 or 503
IMPATIENT = 0.05  # gives up while the request is still queued in the server


def _request(client: httpx.Client, index: int, people: list[str]) -> httpx.Response:
    if index % 3 == 0:
        body = {"full_name": f"Load Person {uuid.uuid4().hex[:8]}", "nationalities": ["MMR"]}
        return client.post(f"{API}/individuals", json=body)
    if index % 3 == 1:
        return client.get(f"{API}/individuals/{people[index % len(people)]}")
    return client.get(f"{API}/individuals", params={"limit": 5})


def _at_once(count: int, call: Callable[[int], object]) -> list[object]:
    """``call(i)`` for every i in as many threads, released together; results or exceptions."""
    start = threading.Barrier(count)

    def run(index: int) -> object:
        start.wait()
        try:
            return call(index)
        except httpx.HTTPError as exc:
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_many_concurrent_reads_and_writes_all_succeed_with_their_audit_entries(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    supervisor = make_user(app, "supervisor", organisation=make_organisation(app))
    with serving(app.state.settings, tmp_path) as server, server.client(supervisor) as setup:
        people = []
        for n in range(6):
            created = setup.post(f"{API}/individuals", json={"full_name": f"Seed Person {n}"})
            assert created.status_code == 201, created.text
            people.append(created.json()["id"])
        token = setup.headers["Authorization"]

        def client(timeout: float) -> httpx.Client:
            return httpx.Client(
                base_url=server.url, timeout=timeout, headers={"Authorization": token}
            )

        def patient(index: int) -> httpx.Response:
            with client(PATIENT) as http:
                return _request(http, index, people)

        def impatient(index: int) -> httpx.Response:
            with client(IMPATIENT) as http:
                return _request(http, index, people)

        def either(index: int) -> object:
            return impatient(index) if index < ABANDONED else patient(index - ABANDONED)

        results = _at_once(ABANDONED + CLIENTS, either)
        abandoned, waited = results[:ABANDONED], results[ABANDONED:]

        failures = [r for r in waited if not isinstance(r, httpx.Response) or r.status_code >= 300]
        assert failures == [], [getattr(r, "text", repr(r)) for r in failures]
        for response in abandoned:  # those that did get an answer before giving up
            if isinstance(response, httpx.Response):
                assert response.status_code < 300, response.text

        # The server still answers, and the people created are there.
        created = [r.json()["id"] for r in waited if r.request.method == "POST"]
        assert len(created) == CLIENTS // 3
        for person_id in created:
            assert setup.get(f"{API}/individuals/{person_id}").status_code == 200
        assert httpx.get(f"{server.url}/readyz", timeout=PATIENT).status_code == 200

    # Each answered request's audit entry was committed with it (the request id ties them).
    request_ids = {r.headers["x-request-id"] for r in waited if isinstance(r, httpx.Response)}
    with transaction(app.state.sessionmaker) as session:
        audited = set(
            session.scalars(
                select(AuditEntry.request_id).where(AuditEntry.request_id.in_(request_ids))
            )
        )
    assert audited == request_ids
    assert_audit_chain_verifies(app.state.settings, tmp_path)
