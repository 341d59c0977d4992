"""The real `haven` command, run in subprocesses against a database of its own."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from app import migrate
from app.models.audit import AuditEntry
from app.models.user import User
from tests.conftest import database_url

PASSWORD = "correct horse battery staple"
# The console script installed beside this interpreter, else the module (same entry point).
_SCRIPT = Path(sys.executable).with_name("haven")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "app"]


@dataclass
class Deployment:
    root: Path
    env: dict[str, str]

    def run(self, *args: str, stdin: str | None = None, timeout: float = 120) -> Result:
        proc = subprocess.run(
            [*COMMAND, *args],
            input=stdin if stdin is not None else "",
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def start(self, *args: str) -> Process:
        popen = subprocess.Popen(
            [*COMMAND, *args],
            env=self.env,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return Process(popen)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def one_error_line(self) -> str:
        """A failure must be one clear line on stderr, never a traceback."""
        assert self.code != 0, self.stdout
        assert "Traceback" not in self.stderr
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("haven: ")
        return lines[0]


class Process:
    """A long-running command whose stderr is read line by line in the background."""

    def __init__(self, popen: subprocess.Popen[str]) -> None:
        self.popen = popen
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.seen):
                return
            try:
                self.seen.append(self.lines.get(timeout=0.2))
            except queue.Empty:
                if self.popen.poll() is not None and self.lines.empty():
                    break
        pytest.fail(f"never printed {text!r}; stderr so far: {''.join(self.seen)}")

    def terminate(self, timeout: float = 10) -> int:
        self.popen.send_signal(signal.SIGTERM)
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            pytest.fail(f"did not stop within {timeout} s of SIGTERM")
        self._reader.join(timeout=5)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("cli")
    with database_url(root) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
        env.update(
            HAVEN_DATABASE_URL=url,
            HAVEN_DATA_DIR=str(root / "data"),
            HAVEN_MASTER_KEY_FILE=str(root / "keys" / "master.key"),
            HAVEN_LOG_FORMAT="text",
            HAVEN_ENV="development",
        )
        deployment = Deployment(root, env)
        upgraded = deployment.run("db", "upgrade")
        assert upgraded.code == 0, upgraded.stderr
        yield deployment


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_console_script_is_installed() -> None:
    assert shutil.which("haven", path=str(Path(sys.executable).parent)) or COMMAND[0] == (
        sys.executable
    )


def test_db_upgrade_reports_the_head(deployment: Deployment) -> None:
    result = deployment.run("db", "upgrade")  # a second time: nothing to do, still fine
    assert result.code == 0, result.stderr
    (head,) = migrate.head_revisions()
    assert result.stdout.strip() == f"database at {head}"


def test_users_create_prints_the_new_id(deployment: Deployment) -> None:
    result = deployment.run(
        "users",
        "create",
        "--username",
        unique("caseworker"),
        "--role",
        "caseworker",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert result.code == 0, result.stderr
    uuid.UUID(result.stdout.strip())
    assert "created organisation" not in result.stderr  # the default organisation


def test_users_create_with_a_new_organisation_says_so(deployment: Deployment) -> None:
    org = f"New Org {uuid.uuid4().hex[:8]}"

    def create() -> Result:
        return deployment.run(
            "users",
            "create",
            "--username",
            unique("supervisor"),
            "--role",
            "supervisor",
            "--organisation",
            org,
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )

    first = create()
    assert first.code == 0, first.stderr
    uuid.UUID(first.stdout.strip())
    assert re.search(rf"created organisation {org} \([0-9a-f-]{{36}}\)", first.stderr)

    second = create()  # the same name now finds the organisation
    assert second.code == 0, second.stderr
    assert "created organisation" not in second.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        (["--role", "caseworker", "--password-stdin"], "short\n", "at least 12 characters"),
        (["--role", "wizard", "--password-stdin"], PASSWORD + "\n", "unknown role"),
        (["--role", "caseworker"], PASSWORD + "\n", "--password-stdin"),
        (
            ["--role", "supervisor", "--deployment-auditor", "--password-stdin"],
            PASSWORD + "\n",
            "auditor role only",
        ),
    ],
    ids=["short-password", "unknown-role", "no-password-stdin", "deployment-wide-non-auditor"],
)
def test_users_create_refusals_are_one_clear_line(
    deployment: Deployment, args: list[str], stdin: str, expected: str
) -> None:
    username = unique("refused")
    result = deployment.run("users", "create", "--username", username, *args, stdin=stdin)
    assert expected in result.one_error_line()


def test_users_create_refuses_a_duplicate_username(deployment: Deployment) -> None:
    username = unique("twice")
    args = ["users", "create", "--username", username, "--role", "lawyer", "--password-stdin"]
    assert deployment.run(*args, stdin=PASSWORD + "\n").code == 0
    again = deployment.run(*args, stdin=PASSWORD + "\n")
    assert "taken" in again.one_error_line()


def test_users_create_deployment_auditor_is_an_explicit_audited_grant(
    deployment: Deployment,
) -> None:
    args = ["--role", "auditor", "--password-stdin"]
    plain = deployment.run(
        "users", "create", "--username", unique("auditor"), *args, stdin=PASSWORD + "\n"
    )
    wide = deployment.run(
        "users",
        "create",
        "--username",
        unique("auditor"),
        *args,
        "--deployment-auditor",
        stdin=PASSWORD + "\n",
    )
    assert plain.code == 0 and wide.code == 0, (plain.stderr, wide.stderr)
    assert "every organisation" in wide.stderr
    plain_id, wide_id = uuid.UUID(plain.stdout.strip()), uuid.UUID(wide.stdout.strip())
    engine = create_engine(deployment.env["HAVEN_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            granted = dict(conn.execute(select(User.id, User.deployment_auditor)).all())
            grants = (
                conn.execute(
                    select(AuditEntry.subject_id).where(
                        AuditEntry.action == "audit.deployment_grant"
                    )
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert granted[wide_id] is True
    assert granted[plain_id] is False
    assert grants == [wide_id]


def test_keys_rotate_prints_the_new_version(deployment: Deployment) -> None:
    first = deployment.run("keys", "rotate")
    assert first.code == 0, first.stderr
    match = re.search(r"KEK version (\d+) is current", first.stdout)
    assert match, first.stdout
    second = deployment.run("keys", "rotate")
    assert second.code == 0, second.stderr
    assert f"KEK version {int(match.group(1)) + 1} is current" in second.stdout


def test_audit_verify_succeeds_on_an_intact_chain(deployment: Deployment) -> None:
    result = deployment.run("audit", "verify")
    assert result.code == 0, result.stderr
    assert "audit chain" in result.stdout


def test_worker_stops_cleanly_on_sigterm(deployment: Deployment) -> None:
    worker = deployment.start("worker", "--interval", "0.2")
    try:
        worker.wait_for("worker started")
        started = time.monotonic()
        code = worker.terminate(timeout=5)
        assert time.monotonic() - started < 5
    finally:
        worker.kill()
    assert code == 0, "".join(worker.seen)
    assert any("worker stopped" in line for line in worker.seen), "".join(worker.seen)
    assert not any("Traceback" in line for line in worker.seen)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_health_checks_and_stops_on_sigterm(deployment: Deployment) -> None:
    port = _free_port()
    server = deployment.start("serve", "--host", "127.0.0.1", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if server.popen.poll() is not None or time.monotonic() > deadline:
                    server.wait_for("never")  # fails, showing what the server printed
                time.sleep(0.2)
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
        code = server.terminate(timeout=10)
    finally:
        server.kill()
    # Uvicorn shuts down gracefully, then ends by the signal it caught, as process managers
    # expect of SIGTERM (systemd and Docker count both as a clean stop).
    assert code in (0, -signal.SIGTERM), "".join(server.seen)
    assert any("Application shutdown complete" in line for line in server.seen)
    assert not any("Traceback" in line for line in server.seen), "".join(server.seen)


# Operators' user commands, the version, and what the first start says -----------------------
def _create(deployment: Deployment, role: str = "caseworker") -> tuple[str, str]:
    username = unique(role)
    result = deployment.run(
        "users",
        "create",
        "--username",
        username,
        "--role",
        role,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert result.code == 0, result.stderr
    return username, result.stdout.strip()


def _sign_in(deployment: Deployment, username: str, password: str = PASSWORD) -> int:
    """Signs in through the API of an app on the deployment's database; the status."""
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    env = deployment.env
    settings = Settings(
        database_url=env["HAVEN_DATABASE_URL"],
        data_dir=Path(env["HAVEN_DATA_DIR"]),
        master_key_file=Path(env["HAVEN_MASTER_KEY_FILE"]),
        env="development",
    )
    app = create_app(settings, migrate_on_start=False)
    try:
        with TestClient(app) as client:
            response = client.post(
                "/api/v1/auth/login", json={"username": username, "password": password}
            )
            return response.status_code
    finally:
        app.state.engine.dispose()


def _audit_actions(deployment: Deployment, subject: str) -> list[str]:
    engine = create_engine(deployment.env["HAVEN_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    select(AuditEntry.action)
                    .where(AuditEntry.subject_id == uuid.UUID(subject))
                    .order_by(AuditEntry.seq)
                ).scalars()
            )
    finally:
        engine.dispose()


def test_version_prints_the_version() -> None:
    from app import __version__

    result = subprocess.run(
        [*COMMAND, "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"haven {__version__}"


def test_users_list_shows_role_state_and_lockout(deployment: Deployment) -> None:
    username, user_id = _create(deployment, "analyst")
    listed = deployment.run("users", "list")
    assert listed.code == 0, listed.stderr
    [line] = [row for row in listed.stdout.splitlines() if username in row]
    assert "analyst" in line and "active" in line and user_id in line
    assert listed.stdout.splitlines()[0].split()[:4] == [
        "USERNAME",
        "ROLE",
        "ORGANISATION",
        "STATE",
    ]
    assert PASSWORD not in listed.stdout


def test_disable_and_enable_an_account(deployment: Deployment) -> None:
    username, user_id = _create(deployment)
    assert _sign_in(deployment, username) == 200
    disabled = deployment.run("users", "disable", username)
    assert disabled.code == 0, disabled.stderr
    assert f"disabled {username}" in disabled.stdout
    assert _sign_in(deployment, username) == 401
    [line] = [r for r in deployment.run("users", "list").stdout.splitlines() if username in r]
    assert "disabled" in line
    enabled = deployment.run("users", "enable", username)
    assert enabled.code == 0 and f"enabled {username}" in enabled.stdout
    assert _sign_in(deployment, username) == 200
    actions = _audit_actions(deployment, user_id)
    assert actions.index("user.disable") < actions.index("user.enable")


def test_a_locked_out_account_is_listed_with_its_end_and_unlocked(
    deployment: Deployment,
) -> None:
    username, user_id = _create(deployment)
    for _ in range(5):
        assert _sign_in(deployment, username, "not the password at all") == 401
    assert _sign_in(deployment, username) == 429  # locked, even with the right password
    [line] = [r for r in deployment.run("users", "list").stdout.splitlines() if username in r]
    assert re.search(r"locked until \d{4}-\d\d-\d\d \d\d:\d\d UTC", line), line
    unlocked = deployment.run("users", "unlock", username)
    assert unlocked.code == 0, unlocked.stderr
    assert f"unlocked {username}" in unlocked.stdout
    assert _sign_in(deployment, username) == 200
    assert "user.unlock" in _audit_actions(deployment, user_id)
    again = deployment.run("users", "unlock", username)
    assert again.code == 0 and "was not locked" in again.stdout


def test_reset_password_from_standard_input(deployment: Deployment) -> None:
    username, user_id = _create(deployment)
    new = "a brand new passphrase for the caseworker"
    reset = deployment.run(
        "users", "reset-password", username, "--password-stdin", stdin=new + "\n"
    )
    assert reset.code == 0, reset.stderr
    assert new not in reset.stdout + reset.stderr
    assert _sign_in(deployment, username) == 401
    assert _sign_in(deployment, username, new) == 200
    assert "user.password_reset" in _audit_actions(deployment, user_id)
    short = deployment.run("users", "reset-password", username, "--password-stdin", stdin="x\n")
    assert "at least 12 characters" in short.one_error_line()
    no_stdin = deployment.run("users", "reset-password", username)
    assert "--password-stdin" in no_stdin.one_error_line()


def test_reset_mfa_turns_two_factor_off(deployment: Deployment) -> None:
    username, user_id = _create(deployment)
    reset = deployment.run("users", "reset-mfa", username)
    assert reset.code == 0, reset.stderr
    assert f"two-factor sign-in is off for {username}" in reset.stdout
    assert "user.mfa_reset" in _audit_actions(deployment, user_id)


@pytest.mark.parametrize("command", ["disable", "enable", "unlock", "reset-mfa"])
def test_user_commands_refuse_an_unknown_user_in_one_line(
    deployment: Deployment, command: str
) -> None:
    result = deployment.run("users", command, unique("nobody"))
    assert "no user named" in result.one_error_line()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Deployment]:
    """A deployment never started: no keyring, no user."""
    with database_url(tmp_path) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
        env.update(
            HAVEN_DATABASE_URL=url,
            HAVEN_DATA_DIR=str(tmp_path / "data"),
            HAVEN_LOG_FORMAT="text",
            HAVEN_ENV="development",
            HAVEN_RUN_ENGINE_IN_SERVE="false",
        )
        yield Deployment(tmp_path, env)


def test_the_first_serve_says_where_it_listens_and_what_to_do_next(fresh: Deployment) -> None:
    port = _free_port()
    server = fresh.start("serve", "--host", "127.0.0.1", "--port", str(port))
    try:
        server.wait_for(f"listening on http://127.0.0.1:{port}")
        server.wait_for("created a development keyring at")
        server.wait_for("no user yet")
        server.wait_for("haven users create --username")
        server.terminate(timeout=10)
    finally:
        server.kill()
    # The second start has a keyring and, once a user exists, says neither again.
    _create(fresh, "admin")
    server = fresh.start("serve", "--host", "127.0.0.1", "--port", str(port))
    try:
        server.wait_for(f"listening on http://127.0.0.1:{port}")
        server.terminate(timeout=10)
    finally:
        server.kill()
    said = "".join(server.seen)
    assert "keyring" not in said and "no user yet" not in said, said


def test_demo_prints_the_accounts_and_the_address(fresh: Deployment) -> None:
    result = fresh.run("demo", timeout=300)
    assert result.code == 0, result.stderr
    for role in ("admin", "supervisor", "caseworker", "lawyer", "analyst", "auditor"):
        assert f"demo-{role}" in result.stdout
    assert "haven demo password" in result.stdout
    assert "haven serve" in result.stdout and "http://127.0.0.1:8000/login" in result.stdout
