"""Real `haven` processes for the fault tests: started on loopback, killed with SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from app.config import Settings
from app.db import transaction
from app.demo.synthetic import add_people
from tests.delivery.processes import Process, environment
from tests.delivery.support import free_port
from tests.factories import UserHandle, login

API = "/api/v1"
TIMEOUT = 30.0  # any one request or wait; a hang fails the test instead of stalling CI


class Server:
    """`haven serve` on a free loopback port (the alert engine left out unless asked)."""

    def __init__(self, settings: Settings, cwd: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env.setdefault("HAVEN_RUN_ENGINE_IN_SERVE", "0")
        self.process = Process(
            ["serve", "--host", "127.0.0.1", "--port", str(self.port)],
            environment(settings, **env),
            cwd,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert self.process.popen.poll() is None, self.log
            assert time.monotonic() < deadline, f"serve did not start:\n{self.log}"
            time.sleep(0.05)

    @property
    def log(self) -> str:
        return "".join(self.process.seen)

    def client(self, user: UserHandle | None = None) -> httpx.Client:
        """A client of this server, signed in as ``user`` through /auth/login if given."""
        headers: dict[str, str] = {}
        if user is not None:
            with httpx.Client(base_url=self.url, timeout=TIMEOUT) as signing_in:
                headers = login(signing_in, user)
        return httpx.Client(base_url=self.url, timeout=TIMEOUT, headers=headers)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no rollback, no cleanup of any kind."""
        self.process.popen.send_signal(signal.SIGKILL)
        assert self.process.popen.wait(10) == -signal.SIGKILL

    def stop(self) -> None:
        self.process.kill()


@contextmanager
def serving(settings: Settings, cwd: Path, **env: str) -> Iterator[Server]:
    server = Server(settings, cwd, **env)
    try:
        yield server
    finally:
        server.stop()
    assert "Traceback" not in server.log, server.log


def haven(settings: Settings, cwd: Path, *args: str, timeout: float = 120) -> Any:
    """Run one `haven` command to completion."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=environment(settings, PYTHONUNBUFFERED="1"),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_audit_chain_verifies(settings: Settings, cwd: Path) -> str:
    result = haven(settings, cwd, "audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def add_synthetic_people(
    app: FastAPI, supervisor: UserHandle, count: int, *, seed: int = 7
) -> list[str]:
    """``count`` people with one passport each, through the real encryption; their numbers."""
    with transaction(app.state.sessionmaker) as session:
        return add_people(
            session,
            app.state.crypto,
            count=count,
            organisation_id=supervisor.organisation_id,
            created_by=supervisor.id,
            seed=seed,
        )


def read_everyone(client: httpx.Client) -> dict[uuid.UUID, str]:
    """Every person in the caller's scope, each decrypted by the server: id → full name."""
    people: dict[uuid.UUID, str] = {}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        response = client.get(f"{API}/individuals", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        for item in page["items"]:
            people[uuid.UUID(item["id"])] = item["full_name"]
        cursor = page.get("next_cursor")
        if not cursor:
            return people
