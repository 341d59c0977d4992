"""PostgreSQL stopped and started again under load: `haven serve` reports not-ready and answers
a clean 503 meanwhile, then recovers by itself, without being restarted.

The machine's shared PostgreSQL server is never touched: the test starts a private cluster of
its own (initdb and pg_ctl, as the postgres user when run as root) on a free port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from tests.conftest import ENGINE, make_settings
from tests.delivery.support import free_port
from tests.factories import make_organisation, make_user
from tests.faults.support import API, TIMEOUT, Server, add_synthetic_people

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        ENGINE != "postgresql",
        reason="a PostgreSQL outage: runs with HAVEN_TEST_DATABASE=postgresql",
    ),
]

PG_BIN = Path(os.environ.get("HAVEN_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
CLIENTS = 3
UNAVAILABLE = {"detail": "the database is unavailable; try again shortly"}


class Cluster:
    """A throwaway PostgreSQL cluster in a temporary folder, stopped and removed afterwards."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            pytest.skip(f"no PostgreSQL server programs in {PG_BIN} (set HAVEN_TEST_PG_BIN)")
        self.base = Path(tempfile.mkdtemp(prefix="haven-pg-"))
        self.data, self.port = self.base / "data", free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            if shutil.which("runuser") is None:
                pytest.skip("running as root without runuser: cannot start PostgreSQL")
            shutil.chown(self.base, user="postgres", group="postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [*self.prefix, str(PG_BIN / program), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT * 2,
            check=False,
        )
        assert result.returncode == 0, f"{program}: {result.stdout}{result.stderr}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.base / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [*self.prefix, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    private = Cluster()
    try:
        private.start()
        yield private
    finally:
        private.remove()


@dataclass
class Load:
    """Clients reading people in a loop; every answer is kept as (time, status or error)."""

    server: Server
    headers: dict[str, str]
    answers: list[tuple[float, int | str]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        # A short timeout: a request hanging on a dead database shows up as an error here.
        with httpx.Client(base_url=self.server.url, headers=self.headers, timeout=10) as client:
            while not self.stopping.is_set():
                try:
                    response = client.get(f"{API}/individuals", params={"limit": 5})
                    outcome: int | str = response.status_code
                    if outcome == 503 and (
                        response.json()
                        != {"detail": "the database is unavailable; try again shortly"}
                        or response.headers.get("Retry-After") != "5"
                    ):
                        outcome = f"503 {response.text}"
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                self.answers.append((time.monotonic(), outcome))
                time.sleep(0.02)

    def since(self, moment: float) -> list[int | str]:
        return [outcome for at, outcome in list(self.answers) if at > moment]

    def wait_for(self, outcome: int, after: float) -> float:
        deadline = time.monotonic() + TIMEOUT
        while outcome not in self.since(after):
            assert time.monotonic() < deadline, f"no {outcome} since: {self.since(after)}"
            time.sleep(0.05)
        return next(at for at, seen in list(self.answers) if at > after and seen == outcome)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(TIMEOUT)


def _ready(server: Server) -> tuple[int, dict[str, str]]:
    response = httpx.get(f"{server.url}/readyz", timeout=10)
    return response.status_code, response.json()["checks"]


def _wait_ready(server: Server, status: int) -> dict[str, str]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        code, checks = _ready(server)
        if code == status:
            return checks
        assert time.monotonic() < deadline, f"/readyz stayed {code}: {checks}"
        time.sleep(0.1)


def test_haven_reports_not_ready_during_an_outage_and_recovers_by_itself(
    cluster: Cluster, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, cluster.url)
    app = create_app(settings)  # migrates the private cluster's database
    try:
        supervisor = make_user(app, "supervisor", organisation=make_organisation(app))
        add_synthetic_people(app, supervisor, 20)
    finally:
        app.state.engine.dispose()

    # The alert engine runs inside serve, as by default: it must outlive the outage too.
    server = Server(
        settings, tmp_path, HAVEN_RUN_ENGINE_IN_SERVE="1", HAVEN_ENGINE_INTERVAL_SECONDS="0.2"
    )
    load: Load | None = None
    try:
        pid = server.process.popen.pid
        with server.client(supervisor) as signed_in:
            headers = dict(signed_in.headers)
        load = Load(server, headers)
        load.wait_for(200, after=0)
        assert _wait_ready(server, 200) == {
            "database": "ok",
            "lockdown": "ok",
            "keyring": "ok",
            "migrations": "ok",
        }

        down = time.monotonic()
        cluster.stop("immediate")
        checks = _wait_ready(server, 503)
        assert checks["database"].startswith("unreachable"), checks
        first_503 = load.wait_for(503, after=down)
        time.sleep(0.5)  # a while longer without a database
        during = load.since(first_503)
        assert during and set(during) == {503}, during  # no 500, no hang, no dropped connection
        assert set(load.since(down)) <= {200, 503}, load.since(down)  # 200: answered before

        up = time.monotonic()
        cluster.start()
        assert _wait_ready(server, 200) == {
            "database": "ok",
            "lockdown": "ok",
            "keyring": "ok",
            "migrations": "ok",
        }
        recovered = load.wait_for(200, after=up)
        time.sleep(1.0)  # and it stays recovered
        after = load.since(recovered)
        load.stop()
        assert after and set(after) == {200}, after
        assert server.process.popen.poll() is None and server.process.popen.pid == pid
    finally:
        if load is not None:
            load.stop()
        server.stop()
    log = server.log
    assert "Traceback" not in log, log
    assert "database unavailable (" in log, log
    assert "unhandled" not in log, log
    outage = sum(1 for _, outcome in load.answers if outcome == 503)
    print(
        f"\n{len(load.answers)} requests: {outage} answered 503 while PostgreSQL was down, "
        f"recovered {recovered - up:.2f} s after it was started again"
    )
