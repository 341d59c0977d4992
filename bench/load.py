"""``python -m bench.load``: a real ``haven serve`` under ``wrk`` at 32 connections, beside the
plaintext baseline (``bench.baseline``) on the same engine and number of people.

Per engine and size: a fresh database migrated by ``haven db upgrade``, a supervisor made by
``haven users create``, N synthetic people (``haven demo --people`` code path), detentions
reported through the API so that open alerts exist; then one ``haven serve`` process (one
worker, the alert engine inside, as shipped) signed in through ``/api/v1/auth/login`` and driven
by ``wrk`` (a separate process) for a fixed time: reads of random people, creations, and a mixed
load of reads, creations, exact document-number searches and alert acknowledgements, with the
server's resident memory read from ``/proc`` before and after. The baseline is then served alone
on its own fresh database and loaded the same way. Only one server runs at a time, so the two
never share the CPU. Figures are reported, never enforced; a run fails when a request fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bench.common import Figure
from bench.rotation import DEFAULT_PG_URL, fresh_database

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "wrk" / "haven.lua"
CONNECTIONS = 32
WRK_THREADS = 2
MIX = "60,15,15,10"  # reads, creations, searches, acknowledgements
PASSWORD = "a long enough load-test passphrase"  # noqa: S105 - a made-up account
USERNAME = "bench-load"
SAMPLE_IDS = 20_000
SAMPLE_NUMBERS = 5_000
# Goals: reads at the plaintext baseline's speed (never below half of it), creations at half.
GOAL_RATIO = {"read": 1.0, "create": 0.5}
FLOOR_READ_RATIO = 0.5
GOAL_MIXED_P99_MS = 150.0
GOAL_TWO_PROCESSES = 1.6  # two API processes on PostgreSQL against one (an idle 2-CPU machine)
WRK_TIMEOUT_S = 10  # a request slower than this counts as a socket error (timeout)
T = TypeVar("T")


class LoadError(Exception):
    """The load run could not be set up or a server misbehaved."""


@dataclass
class WrkRun:
    """One wrk run: throughput, latency percentiles and every kind of failed request."""

    server: str
    mode: str
    connections: int
    duration_s: float
    requests: int
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non2xx: int
    socket_errors: dict[str, int]
    statuses: dict[str, int]
    sent: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non2xx + sum(self.socket_errors.values())

    @property
    def ok(self) -> bool:
        """No failed request, and requests did complete (a stalled server answers nothing)."""
        return self.errors == 0 and self.requests > 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"errors": self.errors, "ok": self.ok}


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise LoadError("wrk is not installed (Debian: apt-get install wrk)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in KiB."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(rest.split()[0])
    return out


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any HAVEN_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env.update(extra)
    return env


class Server:
    """A server process with its output in a file; stopped (and killed if need be) on exit."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int):
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = cwd / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LoadError(f"{self.name} exited with {self.process.returncode}: {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + path, timeout=2).status_code < 500:
                    return
            time.sleep(0.2)
        raise LoadError(f"{self.name} was not ready after {timeout:.0f} s: {self.tail()}")

    def check(self, func: Callable[..., T], *args: Any) -> T:
        """``func(*args)``, with the end of the server's log in any LoadError it raises."""
        try:
            return func(*args)
        except LoadError as exc:
            raise LoadError(f"{exc}; {self.name} log:\n{self.tail()}") from exc

    def tail(self, lines: int = 15) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_wrk(
    server: str,
    url: str,
    mode: str,
    token: str,
    files: dict[str, Path | None],
    duration: float,
    *,
    connections: int = CONNECTIONS,
) -> WrkRun:
    def arg(name: str) -> str:
        path = files.get(name)
        return str(path) if path else "-"

    seconds = max(1, round(duration))
    argv = [
        require_wrk(),
        f"-t{min(WRK_THREADS, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        f"{WRK_TIMEOUT_S}s",
        "-s",
        str(LUA),
        url,
        "--",
        mode,
        token,
        arg("ids"),
        arg("numbers"),
        arg("alerts"),
        MIX,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120, check=False)
    lines = [x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")]
    if done.returncode != 0 or not lines:
        raise LoadError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    report = json.loads(lines[-1].removeprefix("WRKJSON "))
    latency = report["latency_us"]
    elapsed = report["duration_us"] / 1e6
    return WrkRun(
        server=server,
        mode=mode,
        connections=connections,
        duration_s=round(elapsed, 2),
        requests=int(report["requests"]),
        requests_per_s=round(report["requests"] / elapsed, 1),
        p50_ms=round(latency["p50"] / 1000, 2),
        p90_ms=round(latency["p90"] / 1000, 2),
        p99_ms=round(latency["p99"] / 1000, 2),
        max_ms=round(latency["max"] / 1000, 2),
        non2xx=int(report["non2xx"]),
        socket_errors={k: int(v) for k, v in report["errors"].items() if k != "status"},
        statuses={str(k): int(v) for k, v in sorted(report["statuses"].items())},
        sent={k: int(v) for k, v in report["sent"].items() if v},
    )


def _write_lines(path: Path, values: list[str]) -> Path:
    path.write_text("".join(f"{v}\n" for v in values))
    return path


@dataclass
class Seeded:
    ids: Path
    numbers: Path | None = None


def _haven_cli(env: dict[str, str], cwd: Path, *args: str, stdin: str = "") -> str:
    haven = Path(sys.executable).with_name("haven")
    done = subprocess.run(
        [str(haven), *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise LoadError(f"haven {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def seed_haven(env: dict[str, str], work: Path, db_url: str, people: int) -> Seeded:
    """Migrate, create the supervisor with ``haven users create``, add N synthetic people."""
    from sqlalchemy import select

    from app import organisations
    from app.config import Settings
    from app.db import make_engine, make_sessionmaker, transaction
    from app.demo.synthetic import add_people
    from app.models.individual import Individual
    from app.startup import prepare

    _haven_cli(env, work, "db", "upgrade")
    user_id = uuid.UUID(
        _haven_cli(
            env, work, "users", "create", "--username", USERNAME, "--role", "supervisor",
            "--password-stdin", stdin=PASSWORD + "\n",
        ).splitlines()[-1]
    )  # fmt: skip
    settings = Settings(
        _env_file=None,
        database_url=db_url,
        data_dir=Path(env["HAVEN_DATA_DIR"]),
        master_key_file=Path(env["HAVEN_MASTER_KEY_FILE"]),
        run_engine_in_serve=False,
    )
    crypto = prepare(settings, create_keyring=False)
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine, crypto, settings)
    try:
        with transaction(sessions) as session:
            org = organisations.default_organisation(session)
            numbers = add_people(
                session, crypto, count=people, organisation_id=org.id, created_by=user_id, seed=11
            )
        with transaction(sessions) as session:
            ids = [str(i) for i in session.scalars(select(Individual.id))]
    finally:
        engine.dispose()
    rng = random.Random(5)
    return Seeded(
        ids=_write_lines(work / "haven-ids.txt", rng.sample(ids, min(SAMPLE_IDS, len(ids)))),
        numbers=_write_lines(
            work / "haven-numbers.txt", rng.sample(numbers, min(SAMPLE_NUMBERS, len(numbers)))
        ),
    )


def sign_in(url: str) -> str:
    r = httpx.post(
        f"{url}/api/v1/auth/login", json={"username": USERNAME, "password": PASSWORD}, timeout=30
    )
    if r.status_code != 200:
        raise LoadError(f"sign-in answered {r.status_code}")
    return str(r.json()["access_token"])


def raise_alerts(url: str, token: str, ids: Path, count: int, work: Path) -> Path:
    """Report detentions of ``count`` people (50 per incident) and collect the open alerts."""
    headers = {"Authorization": f"Bearer {token}"}
    people = ids.read_text().split()[:count]
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for start in range(0, len(people), 50):
            r = client.post(
                "/api/v1/incidents",
                json={
                    "type": "detention",
                    "occurred_on": time.strftime("%Y-%m-%d"),
                    "country": "THA",
                    "description": "Held at an immigration detention centre (load test).",
                    "individual_ids": people[start : start + 50],
                    "source": {"name": "load test", "reliability": "B", "credibility": 2},
                },
            )
            if r.status_code != 201:
                raise LoadError(f"reporting an incident answered {r.status_code}")
        alerts: list[str] = []
        deadline = time.monotonic() + 30
        while not alerts and time.monotonic() < deadline:
            cursor = None
            while True:
                params: dict[str, Any] = {"status": "open", "limit": 200}
                if cursor:
                    params["cursor"] = cursor
                page = client.get("/api/v1/alerts", params=params).json()
                alerts += [item["id"] for item in page["items"]]
                cursor = page.get("next_cursor")
                if not cursor:
                    break
            if not alerts:
                time.sleep(0.5)
    if not alerts:
        raise LoadError("no open alert after reporting detentions")
    return _write_lines(work / "haven-alerts.txt", alerts)


class RssSampler:
    """The server's resident memory every half second while a load runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            with contextlib.suppress(OSError):
                self.samples.append(rss_kb(self.pid)["VmRSS"])

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Durations:
    load: float = 20.0
    mixed: float = 60.0
    warmup: float = 3.0


def run(
    engine: str,
    people: int,
    tmp: Path,
    pg_url: str = DEFAULT_PG_URL,
    durations: Durations | None = None,
) -> dict[str, Any]:
    """Every wrk run for one engine and size; raises LoadError when a server cannot be run."""
    durations = durations or Durations()
    require_wrk()
    work = tmp / f"load-{engine}-{people}"
    work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "engine": engine,
        "people": people,
        "connections": CONNECTIONS,
        "serve": "haven serve --workers 1, HAVEN_RUN_ENGINE_IN_SERVE=0",
    }

    with fresh_database(engine, work / "haven", pg_url) as db:
        env = clean_env(
            HAVEN_DATABASE_URL=db.url,
            HAVEN_DATA_DIR=str(work / "haven-data"),
            HAVEN_MASTER_KEY_FILE=str(work / "haven-keys" / "master.key"),
            # The API alone, as in the production layout (README): the alert engine would
            # otherwise spend the run reassessing every synthetic person (risk sweep).
            HAVEN_RUN_ENGINE_IN_SERVE="0",
            # One benchmark account searches by document number thousands of times a minute:
            # the per-user lookup limit (a defence against enumeration) would refuse it.
            HAVEN_LOOKUP_LIMIT_PER_MINUTE="0",
        )
        seeded = seed_haven(env, work, db.url, people)
        port = free_port()
        argv = [str(Path(sys.executable).with_name("haven")), "serve", "--port", str(port)]
        with Server("haven", argv, env, work, port) as server:
            server.wait_ready("/readyz")
            token = sign_in(server.url)
            alerts = server.check(
                raise_alerts,
                server.url,
                token,
                seeded.ids,
                min(people, 50 if people <= 1000 else 200),
                work,
            )
            files = {"ids": seeded.ids, "numbers": seeded.numbers, "alerts": alerts}
            if durations.warmup:
                run_wrk("haven", server.url, "mixed", token, files, 1, connections=1)
                run_wrk("haven", server.url, "mixed", token, files, durations.warmup)
            out["haven_read"] = run_wrk("haven", server.url, "read", token, files, durations.load)
            out["haven_create"] = run_wrk(
                "haven", server.url, "create", token, files, durations.load
            )
            before = rss_kb(server.process.pid)
            with RssSampler(server.process.pid) as sampler:
                mixed = run_wrk("haven", server.url, "mixed", token, files, durations.mixed)
            after = rss_kb(server.process.pid)
            mixed.extra = {
                "rss_before_kb": before["VmRSS"],
                "rss_after_kb": after["VmRSS"],
                "rss_max_during_kb": max(sampler.samples, default=after["VmRSS"]),
                "rss_peak_lifetime_kb": after["VmHWM"],
                "mix": dict(zip(("read", "create", "search", "ack"), MIX.split(","), strict=True)),
            }
            out["haven_mixed"] = mixed
            if server.process.poll() is not None:
                raise LoadError(f"haven serve died under load: {server.tail()}")
        if engine == "postgresql":
            # Several API processes share one database (PostgreSQL's layout): reads on two.
            port = free_port()
            two = [*argv[:-1], str(port), "--workers", "2"]
            with Server("haven-2", two, env, work, port) as server:
                server.wait_ready("/readyz")
                token = sign_in(server.url)
                if durations.warmup:
                    run_wrk("haven", server.url, "read", token, files, durations.warmup)
                out["haven_read_2"] = run_wrk(
                    "haven", server.url, "read", token, files, durations.load
                )

    with fresh_database(engine, work / "baseline", pg_url) as db:
        from bench import baseline

        if engine == "sqlite":
            (work / "baseline" / "db").mkdir(parents=True, exist_ok=True)
        ids = baseline.seed(db.url, people)
        ids_file = _write_lines(
            work / "baseline-ids.txt", random.Random(5).sample(ids, min(SAMPLE_IDS, len(ids)))
        )
        port = free_port()
        token = secrets.token_urlsafe(24)
        argv = [
            sys.executable, "-m", "bench.baseline", "serve",
            "--database-url", db.url, "--port", str(port), f"--token={token}",
        ]  # fmt: skip
        with Server("baseline", argv, clean_env(PYTHONPATH=str(ROOT)), work, port) as server:
            server.wait_ready("/openapi.json")
            files = {"ids": ids_file}
            if durations.warmup:
                run_wrk("baseline", server.url, "read", token, files, durations.warmup)
            out["baseline_read"] = run_wrk(
                "baseline", server.url, "read", token, files, durations.load
            )
            out["baseline_create"] = run_wrk(
                "baseline", server.url, "create", token, files, durations.load
            )
    return out


def wrk_runs(result: dict[str, Any]) -> list[WrkRun]:
    return [value for value in result.values() if isinstance(value, WrkRun)]


def _ms(run: WrkRun) -> str:
    if not run.requests:
        return "STALLED: no request completed"
    return f"p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, {run.errors} errors"


def figures(result: dict[str, Any]) -> list[Figure]:
    """The load figures of one engine and size, for the table and the JSON."""
    engine, people = result["engine"], result["people"]
    prefix, where = f"load_{engine}_{people}", f"{engine}, {people:,} people"
    out: list[Figure] = []
    for op in ("read", "create"):
        haven, base = result[f"haven_{op}"], result[f"baseline_{op}"]
        for name, run_ in (("haven", haven), ("baseline", base)):
            out.append(
                Figure(
                    f"{prefix}_{op}_{name}_rps",
                    f"load {op}: {name}, {where}",
                    run_.requests_per_s,
                    "req/s",
                    verdict=_ms(run_),
                    ok=run_.ok,
                    details=run_.as_json(),
                )
            )
        ratio = haven.requests_per_s / base.requests_per_s if base.requests_per_s else None
        goal_ok = None if ratio is None else ratio >= GOAL_RATIO[op]
        verdict = "" if goal_ok is None else ("met" if goal_ok else "NOT MET")
        if op == "read" and ratio is not None and not goal_ok:
            floor = "above" if ratio >= FLOOR_READ_RATIO else "BELOW"
            verdict += f" ({floor} the {FLOOR_READ_RATIO}x floor)"
        out.append(
            Figure(
                f"{prefix}_{op}_ratio",
                f"load {op}: Haven/baseline, {where}",
                round(ratio, 3) if ratio is not None else None,
                "x",
                goal=f"≥ {GOAL_RATIO[op]}x",
                verdict=verdict,
                ok=goal_ok,
            )
        )
    two: WrkRun | None = result.get("haven_read_2")
    if two is not None:
        one: WrkRun = result["haven_read"]
        scaling = two.requests_per_s / one.requests_per_s if one.requests_per_s else None
        met = scaling is not None and scaling >= GOAL_TWO_PROCESSES
        out.append(
            Figure(
                f"{prefix}_read_two_processes_ratio",
                f"load read: 2 API processes / 1, {where}",
                round(scaling, 3) if scaling is not None else None,
                "x",
                goal=f"≥ {GOAL_TWO_PROCESSES}x",
                verdict=f"{'met' if met else 'NOT MET'}; {two.requests_per_s:.0f} req/s on two",
                ok=met,
                details=two.as_json(),
            )
        )
    mixed: WrkRun = result["haven_mixed"]
    extra = mixed.extra
    out += [
        Figure(
            f"{prefix}_mixed_rps",
            f"load mixed ({mixed.duration_s:.0f} s): Haven, {where}",
            mixed.requests_per_s,
            "req/s",
            goal="0 errors",
            verdict=_ms(mixed) if not mixed.requests else f"{mixed.errors} errors",
            ok=mixed.ok,
            details=mixed.as_json(),
        ),
        Figure(
            f"{prefix}_mixed_p99_ms",
            f"load mixed: p99 latency, {where}",
            mixed.p99_ms,
            "ms",
            goal=f"≤ {GOAL_MIXED_P99_MS:.0f} ms",
            verdict=(
                f"{'met' if mixed.p99_ms <= GOAL_MIXED_P99_MS else 'NOT MET'}; "
                f"p50 {mixed.p50_ms:.1f} ms, max {mixed.max_ms:.0f} ms"
            ),
            ok=mixed.p99_ms <= GOAL_MIXED_P99_MS,
        ),
        Figure(
            f"{prefix}_mixed_rss_mb",
            f"load mixed: server RSS after, {where}",
            round(extra["rss_after_kb"] / 1024, 1),
            "MiB",
            verdict=(
                f"before {extra['rss_before_kb'] / 1024:.0f} MiB, "
                f"max during {extra['rss_max_during_kb'] / 1024:.0f} MiB"
            ),
            details={k: v for k, v in extra.items() if k.startswith("rss")},
        ),
    ]
    return out


@contextlib.contextmanager
def _tmpdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="haven-load-") as name:
        yield Path(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--mixed-duration", type=float, default=60.0)
    parser.add_argument("--pg-url", default=os.environ.get("HAVEN_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (logs, data)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop servers, drop databases
    failed = False
    with _tmpdir() if args.keep is None else contextlib.nullcontext(args.keep) as tmp:
        for engine in args.engines.split(","):
            result = run(
                engine.strip(),
                args.people,
                tmp,
                args.pg_url,
                Durations(load=args.duration, mixed=args.mixed_duration),
            )
            failed |= not all(run_.ok for run_ in wrk_runs(result))
            for figure in figures(result):
                print(f"{figure.label:<55} {figure.value!s:>10} {figure.unit:<6} {figure.verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
