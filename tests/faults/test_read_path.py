"""The read path's guarantees, against real `haven serve` processes.

Read requests run in read-only transactions and hand their audit entries to a per-process
sequencer that commits many requests' entries at once; tokens are taken from memory while the
sign-in generation is unchanged. None of that may weaken what Haven promises:

- an answered read has its audit entry, even when the server is killed (SIGKILL) while reads
  are in flight and their batch is being written;
- two processes reading and writing the same database at once leave a chain that verifies;
- a token revoked through one process is refused at once by another that remembers it.
"""

from __future__ import annotations

import threading
import time
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
from tests.faults.support import API, TIMEOUT, assert_audit_chain_verifies, serving

pytestmark = pytest.mark.slow

READERS = 16


def _people(client: httpx.Client, count: int) -> list[str]:
    ids = []
    for n in range(count):
        created = client.post(f"{API}/individuals", json={"full_name": f"Read Path {n}"})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


def _folders(tmp_path: Path) -> None:
    for name in ("a", "b"):  # each process's working folder; they share the data folder
        (tmp_path / name).mkdir()


def _audited(app: FastAPI, request_ids: set[str]) -> set[str]:
    with transaction(app.state.sessionmaker) as session:
        return set(
            session.scalars(
                select(AuditEntry.request_id).where(
                    AuditEntry.request_id.in_(request_ids), AuditEntry.action == "individual.read"
                )
            )
        )


def _read_until(
    url: str, token: str, people: list[str], stop: threading.Event, answered: list[str]
) -> Callable[[int], None]:
    def reader(index: int) -> None:
        with httpx.Client(base_url=url, timeout=5, headers={"Authorization": token}) as http:
            n = index
            while not stop.is_set():
                try:
                    response = http.get(f"{API}/individuals/{people[n % len(people)]}")
                except httpx.HTTPError:
                    return  # the server is gone: what was answered is counted
                n += 1
                if response.status_code == 200:
                    answered.append(response.headers["x-request-id"])

    return reader


def test_every_answered_read_has_its_entry_after_sigkill_mid_batch(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    supervisor = make_user(app, "supervisor", organisation=make_organisation(app))
    answered: list[str] = []
    stop = threading.Event()
    with serving(app.state.settings, tmp_path) as server, server.client(supervisor) as setup:
        people = _people(setup, 5)
        token = setup.headers["Authorization"]
        reader = _read_until(server.url, token, people, stop, answered)
        with ThreadPoolExecutor(READERS) as pool:
            running = [pool.submit(reader, i) for i in range(READERS)]
            deadline = time.monotonic() + TIMEOUT
            while len(answered) < 100 and time.monotonic() < deadline:
                time.sleep(0.01)
            server.kill()  # with reads in flight, some of them in a batch being committed
            stop.set()
            for future in running:
                future.result()
    assert len(answered) >= 100, "the readers were not answered before the kill"
    ids = set(answered)
    missing = ids - _audited(app, ids)
    assert missing == set(), f"{len(missing)} answered reads have no audit entry"
    assert_audit_chain_verifies(app.state.settings, tmp_path)


def test_two_processes_under_load_leave_a_chain_that_verifies(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    supervisor = make_user(app, "supervisor", organisation=make_organisation(app))
    answered: list[str] = []
    stop = threading.Event()
    _folders(tmp_path)
    with (
        serving(app.state.settings, tmp_path / "a") as first,
        serving(app.state.settings, tmp_path / "b") as second,
        first.client(supervisor) as setup,
    ):
        people = _people(setup, 4)
        token = setup.headers["Authorization"]
        readers = [
            _read_until(server.url, token, people, stop, answered) for server in (first, second)
        ]

        def writer(index: int) -> None:
            url = (first, second)[index % 2].url
            with httpx.Client(
                base_url=url, timeout=TIMEOUT, headers={"Authorization": token}
            ) as http:
                for n in range(5):
                    body = {"full_name": f"Written {index}-{n}"}
                    assert http.post(f"{API}/individuals", json=body).status_code == 201

        with ThreadPoolExecutor(READERS + 4) as pool:
            reading = [pool.submit(readers[i % 2], i) for i in range(READERS)]
            writing = [pool.submit(writer, i) for i in range(4)]
            for future in writing:
                future.result()
            deadline = time.monotonic() + TIMEOUT
            while len(answered) < 50 and time.monotonic() < deadline:
                time.sleep(0.01)
            stop.set()
            for future in reading:
                future.result()
    assert len(answered) >= 50
    ids = set(answered)
    assert _audited(app, ids) == ids
    assert_audit_chain_verifies(app.state.settings, tmp_path)


def test_a_token_revoked_through_one_process_is_refused_at_once_by_another(
    fresh_database: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = fresh_database()
    supervisor = make_user(app, "supervisor", organisation=make_organisation(app))
    _folders(tmp_path)
    with (
        serving(app.state.settings, tmp_path / "a") as first,
        serving(app.state.settings, tmp_path / "b") as second,
        first.client(supervisor) as on_first,
    ):
        person = _people(on_first, 1)[0]
        headers = {"Authorization": on_first.headers["Authorization"]}
        with httpx.Client(base_url=second.url, timeout=TIMEOUT, headers=headers) as on_second:
            # The second process checks the token once and then remembers it.
            for _ in range(3):
                assert on_second.get(f"{API}/individuals/{person}").status_code == 200
            assert on_second.get(f"{API}/auth/me").status_code == 200
            assert on_first.post(f"{API}/auth/logout").status_code in (200, 204)
            # No pause: the very next read on the other process is refused.
            refused = on_second.get(f"{API}/individuals/{person}")
            assert refused.status_code == 401, refused.text
            assert on_second.get(f"{API}/individuals").status_code == 401
            assert on_second.get(f"{API}/auth/me").status_code == 401
