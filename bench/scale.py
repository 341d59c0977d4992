"""Throughput of one and of two API processes on one database, under the same load.

Run from the project root::

    python -m bench.scale --engines postgresql
    python -m bench.scale --engines sqlite,postgresql --duration 20 --repeat 3

For each engine a fresh, migrated database gets a caseworker and a few hundred people; then
``haven serve --workers N`` (N API processes sharing one listening socket, the alert engine left
to workers as in a scaled-out deployment) is loaded by ``wrk`` from a separate process, at 32
connections, on a read endpoint (``GET /api/v1/individuals/{id}``: decrypt a record, audit the
read) and on a create endpoint (``POST /api/v1/individuals``: seal, blind-index, audit). Runs of
one and two processes alternate (1, 2, then 2, 1, …) so that drift on a shared machine hits
both; the median of the repeats is reported. Every request is a real audited request, so each
one appends to the single audit chain: that append, under the head row's lock, is the one
point every process passes through. The table goes to the terminal, the figures to
``bench/results/scale.json``. Nothing is enforced: the ratio depends on the cores available
(the load generator and the database share them with the API processes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench import ENGINES, RESULTS_DIR
from bench.common import machine
from bench.rotation import DEFAULT_PG_URL, fresh_database

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "wrk" / "scale_people.lua"
API = "/api/v1"
PASSWORD = secrets.token_urlsafe(24)  # a throwaway account in a throwaway database
USERNAME = "bench-caseworker"
MODES = ("read", "create")
PROCESSES = (1, 2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument(
        "--engines", default="postgresql", help="comma-separated (sqlite,postgresql)"
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--repeat", type=int, default=2, help="runs per configuration (median)")
    parser.add_argument("--people", type=int, default=300, help="people to read from")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("HAVEN_BENCH_PG_URL", DEFAULT_PG_URL),
        help="a PostgreSQL server to create the throwaway database on (HAVEN_BENCH_PG_URL)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "scale.json")
    args = parser.parse_args(argv)
    args.engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    unknown = set(args.engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    if min(args.duration, args.connections, args.threads, args.repeat, args.people) < 1:
        parser.error("--duration, --connections, --threads, --repeat and --people must be >= 1")
    return args


def environment(url: str, tmp: Path) -> dict[str, str]:
    """The settings every process of the deployment shares, and nothing from this shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env.update(
        PYTHONPATH=str(ROOT),
        HAVEN_ENV="development",
        HAVEN_DATABASE_URL=url,
        HAVEN_DATA_DIR=str(tmp / "data"),
        HAVEN_MASTER_KEY_FILE=str(tmp / "keys" / "master.key"),
        HAVEN_RUN_ENGINE_IN_SERVE="0",
        HAVEN_AUTO_MIGRATE="0",
        HAVEN_LOG_LEVEL="WARNING",
        HAVEN_LOG_FORMAT="text",
    )
    return env


def prepare(env: dict[str, str]) -> None:
    """Migrate, create the keyring and secret, and the caseworker the load signs in as."""
    from app.auth.users import create_user
    from app.config import Settings
    from app.db import transaction
    from app.main import create_app
    from app.organisations import default_organisation

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=env["HAVEN_DATABASE_URL"],
        data_dir=Path(env["HAVEN_DATA_DIR"]),
        master_key_file=Path(env["HAVEN_MASTER_KEY_FILE"]),
        env="development",
    )
    app = create_app(settings)
    with transaction(app.state.sessionmaker) as session:
        organisation = default_organisation(session)
        create_user(
            session,
            username=USERNAME,
            role="caseworker",
            password=PASSWORD,
            organisation=organisation,
        )
    app.state.engine.dispose()


class Server:
    """``haven serve --workers N`` on a free port, its log kept in a file."""

    def __init__(self, processes: int, env: dict[str, str], tmp: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = tmp / f"serve-{processes}-{port}.log"
        self.log = self.log_path.open("w")
        args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(processes)]
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "app", *args],
            env=env,
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"haven serve exited:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"haven serve never became ready:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self.log.close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sign_in(url: str) -> str:
    response = httpx.post(
        f"{url}{API}/auth/login", json={"username": USERNAME, "password": PASSWORD}, timeout=30
    )
    response.raise_for_status()
    return response.json()["access_token"]


def seed(url: str, token: str, people: int) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    ids = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for number in range(people):
            body = {
                "full_name": f"Seeded Person {number}",
                "nationalities": ["KHM"],
                "current_country": "THA",
            }
            response = client.post(f"{API}/individuals", json=body)
            response.raise_for_status()
            ids.append(response.json()["id"])
    return ids


def run_wrk(
    url: str, mode: str, token: str, ids_file: Path, args: argparse.Namespace, duration: int
) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{duration}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        url,
        "--",
        mode,
        token,
        str(ids_file),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("SCALEJSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    report = json.loads(line.removeprefix("SCALEJSON "))
    report["requests_per_s"] = report["ok"] / (report["duration_us"] / 1e6)
    return report


def bench_engine(
    engine: str, args: argparse.Namespace, console: Console, tmp: Path
) -> dict[str, Any]:
    """Runs of 1 and 2 processes on one endpoint after the other, alternating the order."""
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {
        m: {n: [] for n in PROCESSES} for m in MODES
    }
    with fresh_database(engine, tmp, args.pg_url) as database:
        env = environment(database.url, tmp)
        prepare(env)
        ids_file = tmp / "ids.txt"
        for round_number in range(args.repeat):
            order = PROCESSES if round_number % 2 == 0 else tuple(reversed(PROCESSES))
            for processes in order:
                server = Server(processes, env, tmp, free_port())
                try:
                    with console.status(f"{engine}: starting {processes} API process(es)…"):
                        server.wait_ready()
                        token = sign_in(server.url)
                        if not ids_file.exists():
                            ids_file.write_text("\n".join(seed(server.url, token, args.people)))
                        # Warm every process: imports, connection pools, data-key caches.
                        run_wrk(server.url, "read", token, ids_file, args, duration=2)
                    for mode in MODES:
                        with console.status(
                            f"{engine}: {mode}, {processes} process(es), round {round_number + 1}"
                        ):
                            report = run_wrk(server.url, mode, token, ids_file, args, args.duration)
                        runs[mode][processes].append(report)
                        console.print(
                            f"  {engine} {mode:<6} {processes} process(es): "
                            f"{report['requests_per_s']:8.1f} req/s, p99 {report['p99_ms']:.0f} ms,"
                            f" {report['non_2xx'] + report['socket_errors']} errors"
                        )
                finally:
                    server.stop()
    figures = {}
    for mode in MODES:
        medians = {
            n: statistics.median(r["requests_per_s"] for r in runs[mode][n]) for n in PROCESSES
        }
        figures[mode] = {
            "requests_per_s": {str(n): medians[n] for n in PROCESSES},
            "ratio": medians[2] / medians[1] if medians[1] else None,
            "p99_ms": {
                str(n): statistics.median(r["p99_ms"] for r in runs[mode][n]) for n in PROCESSES
            },
            "errors": sum(
                r["non_2xx"] + r["socket_errors"] for n in PROCESSES for r in runs[mode][n]
            ),
            "runs": {str(n): runs[mode][n] for n in PROCESSES},
        }
    return figures


def render(console: Console, results: dict[str, dict[str, Any]], cpus: int | None) -> None:
    table = Table(
        title=f"Haven scale-out: 1 vs 2 API processes ({cpus} CPUs shared with the database "
        "and wrk)",
        title_justify="left",
    )
    for column in (
        "engine",
        "endpoint",
        "1 process",
        "2 processes",
        "ratio",
        "p99 1 / 2",
        "errors",
    ):
        table.add_column(column, justify="left" if column in ("engine", "endpoint") else "right")
    for engine, figures in results.items():
        for mode, figure in figures.items():
            rps, p99 = figure["requests_per_s"], figure["p99_ms"]
            endpoint = "GET /individuals/{id}" if mode == "read" else "POST /individuals"
            table.add_row(
                engine,
                endpoint,
                f"{rps['1']:,.0f} req/s",
                f"{rps['2']:,.0f} req/s",
                f"{figure['ratio']:.2f}x" if figure["ratio"] else "—",
                f"{p99['1']:.0f} / {p99['2']:.0f} ms",
                str(figure["errors"]),
            )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=max(Console().width, 110))
    if shutil.which("wrk") is None:
        console.print("[bold red]wrk is not installed[/] (Debian: apt-get install wrk)")
        return 1
    info = machine()
    console.print(
        f"[bold]machine[/]: {info['cpu_count']} CPUs ({info['cpu_model']}), load "
        f"{info['load_average']}; wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s, {args.repeat} run(s) per configuration"
    )
    results: dict[str, dict[str, Any]] = {}
    for engine in args.engines:
        with tempfile.TemporaryDirectory(prefix="haven-scale-") as tmp_name:
            results[engine] = bench_engine(engine, args, console, Path(tmp_name))
    render(console, results, info["cpu_count"])
    report = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": info,
        "load": {
            "tool": "wrk",
            "threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "repeat": args.repeat,
            "people": args.people,
        },
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"figures written to {args.output}")
    errors = sum(f["errors"] for figures in results.values() for f in figures.values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
