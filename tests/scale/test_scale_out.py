"""Scale-out: two `haven serve` processes and two `haven worker` processes on one database.

Both APIs are driven at once from threads (people, cases, notes, incidents, acknowledgements,
the same detention reported through both APIs at the same moment), then the database, both APIs,
a loopback webhook receiver and `haven audit verify` must agree: no write answered 2xx is
missing, one alert per threat, every notice delivered exactly once with a valid signature, and
an intact audit chain.

SQLite runs it too: Haven supports several processes on one SQLite file on one host (WAL,
BEGIN IMMEDIATE for every writer, a 30 s busy timeout, outbox claims serialised by the write
lock), which is what `haven serve --workers N` relies on.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.db import transaction
from app.main import create_app
from app.models import Case, CaseNote, Incident, Individual
from app.models.alert import Alert, OutboxMessage
from tests.conftest import database_url, make_settings
from tests.delivery.processes import Process, environment
from tests.delivery.support import Receiver, free_port, verify
from tests.factories import PASSWORD, make_organisation, make_user

API = "/api/v1"
SERVERS = 2
WORKERS = 2
THREADS_PER_SERVER = 2
PEOPLE_PER_THREAD = 3
SHARED = 4  # people whose detention is reported through both APIs at the same moment
STARTUP = 120.0  # four interpreters starting at once on a busy machine
SETTLE = 60.0


@dataclass
class Cluster:
    settings: Settings
    app: Any
    urls: list[str]
    receiver: Receiver
    folder: Path  # the working directory of every process (no developer's .env is read)
    processes: list[Process] = field(default_factory=list)


def _wait_ready(url: str, process: Process) -> None:
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert process.popen.poll() is None, "".join(process.seen)
        time.sleep(0.1)
    pytest.fail(f"{url} never became ready:\n{''.join(process.seen)}")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with database_url(tmp_path) as url:
        settings = make_settings(tmp_path, url, webhook_allow_hosts="127.0.0.1")
        app = create_app(settings)  # migrates, and creates the keyring and secret they share
        receiver = Receiver()
        env = environment(settings, HAVEN_RUN_ENGINE_IN_SERVE="0", HAVEN_AUTO_MIGRATE="0")
        ports = [free_port() for _ in range(SERVERS)]
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        cluster = Cluster(settings, app, urls, receiver, tmp_path)
        try:
            for port in ports:
                args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
                cluster.processes.append(Process(args, env, tmp_path))
            for _ in range(WORKERS):
                args = ["worker", "--interval", "0.2", "--lease", "30"]
                cluster.processes.append(Process(args, env, tmp_path))
            for server_url, process in zip(cluster.urls, cluster.processes, strict=False):
                _wait_ready(server_url, process)
            for process in cluster.processes[SERVERS:]:
                process.wait_for("worker started", timeout=STARTUP)
            yield cluster
        finally:
            for process in cluster.processes:
                process.kill()
            receiver.close()
            app.state.engine.dispose()


class Driver:
    """One HTTP client per API; every write answered 2xx is remembered, anything else is kept
    as a failure (a 5xx, a lock timeout, a dropped connection all count)."""

    def __init__(self, urls: list[str], tokens: list[str]) -> None:
        self.clients = [
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            for url, token in zip(urls, tokens, strict=True)
        ]
        self.lock = threading.Lock()
        self.written: dict[str, list[str]] = {}
        self.failures: list[str] = []

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def post(self, api: int, kind: str, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        try:
            response = self.clients[api].post(f"{API}{path}", json=body)
        except httpx.HTTPError as exc:
            with self.lock:
                self.failures.append(f"{kind} via API {api}: {type(exc).__name__}")
            return None
        with self.lock:
            if not response.is_success:
                self.failures.append(f"{kind} via API {api}: {response.status_code}")
                return None
            found = response.json()
            self.written.setdefault(kind, []).append(found["id"])
            return found

    def get(self, api: int, path: str, **params: Any) -> Any:
        response = self.clients[api].get(f"{API}{path}", params=params)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()


def _incident(person_id: str) -> dict[str, Any]:
    return {
        "type": "detention",
        "occurred_on": (dt.date.today() - dt.timedelta(days=1)).isoformat(),
        "country": "THA",
        "description": "Held by immigration police after a raid.",
        "individual_ids": [person_id],
        "source": {"name": "Family member", "reliability": "B", "credibility": 2},
    }


def _person(driver: Driver, api: int) -> str | None:
    body = {
        "full_name": f"Person {uuid.uuid4().hex[:12]}",
        "nationalities": ["KHM"],
        "current_country": "THA",
    }
    person = driver.post(api, "individual", "/individuals", body)
    return person["id"] if person else None


def _caseload(driver: Driver, api: int) -> None:
    """A caseworker's day: a person, their case, a note, then their detention (an alert)."""
    for _ in range(PEOPLE_PER_THREAD):
        person_id = _person(driver, api)
        if person_id is None:
            continue
        case = driver.post(api, "case", "/cases", {"individual_id": person_id})
        if case is not None:
            driver.post(api, "note", f"/cases/{case['id']}/notes", {"body": "Visited today."})
        driver.post(api, "incident", "/incidents", _incident(person_id))


def _report_together(driver: Driver, api: int, people: list[str], barrier: threading.Barrier):
    """One of two reporters of the same detentions, each sent at the same moment as the other
    API's."""
    for person_id in people:
        barrier.wait(timeout=30)
        driver.post(api, "incident", "/incidents", _incident(person_id))


def _acknowledge_all(driver: Driver, api: int, alert_ids: list[str]) -> None:
    for alert_id in alert_ids:
        driver.post(api, "acknowledgement", f"/alerts/{alert_id}/acknowledge", {})


def _all_alerts(driver: Driver, api: int) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page = driver.get(api, "/alerts", limit=200, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def _uuids(ids: set[str]) -> list[uuid.UUID]:
    return [uuid.UUID(i) for i in ids]


def _ids(session: Any, column: Any, *where: Any) -> set[str]:
    return {str(value) for value in session.scalars(select(column).where(*where))}


def test_two_apis_and_two_workers_lose_nothing_and_repeat_nothing(cluster: Cluster) -> None:
    app = cluster.app
    org = make_organisation(app)
    admin = make_user(app, "admin", organisation=org)
    caseworker = make_user(app, "caseworker", organisation=org)

    def login(url: str, username: str) -> str:
        body = {"username": username, "password": PASSWORD}
        response = httpx.post(f"{url}{API}/auth/login", json=body, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    hook_response = httpx.post(
        f"{cluster.urls[1]}{API}/webhooks",
        json={"url": cluster.receiver.url, "events": ["*"]},
        headers={"Authorization": f"Bearer {login(cluster.urls[0], admin.username)}"},
        timeout=30,
    )
    assert hook_response.status_code == 201, hook_response.text
    hook = hook_response.json()
    # One caseworker signed in on each API: a token issued by one process works on the other.
    driver = Driver(cluster.urls, [login(url, caseworker.username) for url in cluster.urls])
    try:
        # Independent caseloads on both APIs at once.
        threads = SERVERS * THREADS_PER_SERVER
        with ThreadPoolExecutor(threads) as pool:
            for done in [pool.submit(_caseload, driver, t % SERVERS) for t in range(threads)]:
                done.result()
        # The same detentions reported through both APIs at the same moment.
        shared = [p for p in (_person(driver, i % SERVERS) for i in range(SHARED)) if p]
        barrier = threading.Barrier(SERVERS)
        with ThreadPoolExecutor(SERVERS) as pool:
            jobs = [pool.submit(_report_together, driver, a, shared, barrier) for a in (0, 1)]
            for done in jobs:
                done.result()
        # Every alert acknowledged through both APIs at once.
        alert_ids = [a["id"] for a in _all_alerts(driver, 0)]
        with ThreadPoolExecutor(SERVERS) as pool:
            jobs = [pool.submit(_acknowledge_all, driver, a, alert_ids) for a in (0, 1)]
            for done in jobs:
                done.result()
        assert driver.failures == []

        people = set(driver.written["individual"])
        cases, notes = set(driver.written["case"]), set(driver.written["note"])
        incidents = set(driver.written["incident"])
        expected_people = threads * PEOPLE_PER_THREAD + SHARED
        assert len(people) == expected_people
        assert len(cases) == len(notes) == threads * PEOPLE_PER_THREAD
        assert len(incidents) == threads * PEOPLE_PER_THREAD + SERVERS * SHARED
        assert len(driver.written["acknowledgement"]) == SERVERS * len(alert_ids)

        # No lost writes, through the database...
        with transaction(app.state.sessionmaker) as session:
            assert _ids(session, Individual.id, Individual.organisation_id == org.id) == people
            assert _ids(session, Case.id, Case.individual_id.in_(_uuids(people))) == cases
            assert _ids(session, CaseNote.id, CaseNote.case_id.in_(_uuids(cases))) == notes
            assert _ids(session, Incident.id, Incident.created_by == caseworker.id) == incidents
            alerts = list(session.scalars(select(Alert).where(Alert.organisation_id == org.id)))
            session.expunge_all()
        # ...and through the APIs, each record read back through both processes in turn.
        for number, person_id in enumerate(sorted(people)):
            assert driver.get(number % SERVERS, f"/individuals/{person_id}")["id"] == person_id
        assert cases <= {c["id"] for c in driver.get(1, "/cases", limit=200)["items"]}
        for number, case_id in enumerate(sorted(cases)):
            found = {n["id"] for n in driver.get(number % SERVERS, f"/cases/{case_id}/notes")}
            assert len(found) == 1 and found <= notes
        for person_id in shared:
            found = driver.get(1, "/incidents", individual_id=person_id)["items"]
            assert len(found) == SERVERS

        # One alert per threat: the detention reported twice updated the one alert.
        assert {a.id for a in alerts} == {uuid.UUID(a) for a in alert_ids}
        assert {str(a["id"]) for a in _all_alerts(driver, 1)} == set(alert_ids)
        assert max(Counter(a.dedup_key for a in alerts).values()) == 1
        custody = {str(a.individual_id): a for a in alerts if a.rule == "host_custody"}
        assert set(custody) == people
        assert {pid: custody[pid].occurrences for pid in shared} == dict.fromkeys(shared, 2)
        assert all(a.status == "acknowledged" for a in alerts)

        # Every notice delivered, each exactly once, each signed.
        hook_id = uuid.UUID(hook["id"])
        deadline = time.monotonic() + SETTLE
        while True:
            with transaction(app.state.sessionmaker) as session:
                rows = list(
                    session.scalars(select(OutboxMessage).where(OutboxMessage.target_id == hook_id))
                )
                session.expunge_all()
            if rows and all(r.status == "delivered" for r in rows):
                break
            assert time.monotonic() < deadline, Counter(r.status for r in rows)
            time.sleep(0.2)
        events = Counter(r.event for r in rows)
        assert events["alert.created"] >= len(people)
        assert events["alert.updated"] >= len(shared)
        # One notice per acknowledgement, though each was acknowledged twice; muted alerts
        # (a rising risk under the custody alert) announce nothing.
        heard = [a for a in alerts if a.inhibited_by is None]
        assert len(heard) >= len(people)
        assert events["alert.acknowledged"] == len(heard)
        received = cluster.receiver.snapshot()
        for receipt in received:
            verify(hook["secret"], receipt)
        assert Counter(r.webhook_id for r in received) == Counter(str(r.id) for r in rows)
        assert all(r.status == 200 for r in received)
    finally:
        driver.close()

    # The audit chain both APIs and both workers appended to is intact.
    env = environment(cluster.settings)
    result = subprocess.run(
        [sys.executable, "-m", "app", "audit", "verify"],
        env=env,
        cwd=cluster.folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intact" in result.stdout + result.stderr

    for process in cluster.processes:
        code = process.terminate()
        log = "".join(process.seen)
        assert code in (0, -signal.SIGTERM), log
        assert "Traceback" not in log, log
