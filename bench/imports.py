"""``python -m bench.imports``: spreadsheet import throughput.

On a fresh database, a generated CSV of N people with one passport each (reference, name, date
of birth, sex, nationality, country, passport number, issuing country, expiry) is imported by
a supervisor through ``app.imports.service.import_people``, exactly as ``haven import people``
runs it: the checking pass, the write (a batch of rows at a time, built by the services' own
parts, every value sealed and every row audited), and the risk assessment of everyone at the
end. Reported: rows per second and seconds in all, and the time
of each phase. Goal: 100,000 people in at most 5 minutes on SQLite.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app import organisations
from app.actor import Actor
from app.auth.users import create_user
from app.config import Settings
from app.db import transaction
from app.imports import service
from app.imports.mapping import Mapping
from app.imports.reading import read
from app.main import create_app
from app.models.document import TravelDocument
from app.models.individual import Individual
from bench.common import Figure
from bench.rotation import fresh_database

PASSWORD = "a long enough benchmark passphrase"  # noqa: S105 - a made-up account
HEADER = (
    "external_reference",
    "full_name",
    "date_of_birth",
    "sex",
    "nationalities",
    "current_country",
    "document_type",
    "document_number",
    "document_issuing_country",
    "document_expires_on",
)
FAMILY = ["Sok", "Chan", "Kim", "Meas", "Ouk", "Pen", "Prak", "Ros", "Seng", "Touch", "Vong"]
GIVEN = ["Dara", "Sophal", "Vannak", "Bopha", "Chanthou", "Rithy", "Sreymom", "Veasna", "Kosal"]


def sheet(people: int, seed: int = 11) -> bytes:
    """N people with one passport each, as a CSV a spreadsheet would export."""
    rng = random.Random(seed)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for i in range(people):
        writer.writerow(
            [
                f"CASE-{i:07d}",
                f"{rng.choice(GIVEN)} {rng.choice(FAMILY)} {i}",
                f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                rng.choice(("female", "male")),
                "KHM",
                rng.choice(("THA", "MYS", "IDN")),
                "passport",
                f"N{i:08d}",
                "KHM",
                f"{rng.randint(2026, 2034)}-{rng.randint(1, 12):02d}-01",
            ]
        )
    return out.getvalue().encode()


class Phases(service.Progress):
    def __init__(self, every: int = 0) -> None:
        self.started: dict[str, float] = {}
        self.order: list[str] = []
        self.every, self.done = every, 0

    def start(self, phase: str, total: int | None) -> None:
        self.started[phase] = time.perf_counter()
        self.order.append(phase)
        self.done = 0
        if self.every:
            print(f"{time.strftime('%H:%M:%S')} {phase}", file=sys.stderr, flush=True)

    def advance(self, rows: int) -> None:
        self.done += rows
        if self.every and self.done % self.every == 0:
            rate = self.done / (time.perf_counter() - self.started[self.order[-1]])
            print(
                f"{time.strftime('%H:%M:%S')} {self.order[-1]}: {self.done:,} rows, "
                f"{rate:,.0f} rows/s",
                file=sys.stderr,
                flush=True,
            )

    def durations(self, end: float) -> dict[str, float]:
        marks = [self.started[p] for p in self.order] + [end]
        return {p: round(marks[i + 1] - marks[i], 2) for i, p in enumerate(self.order)}


def run(engine: str, people: int, tmp: Path, pg_url: str, every: int = 0) -> dict[str, Any]:
    raw = sheet(people)
    with fresh_database(engine, tmp / engine, pg_url) as db:
        settings = Settings(
            _env_file=None,
            database_url=db.url,
            data_dir=tmp / engine / "data",
            master_key_file=tmp / engine / "keys" / "master.key",
            run_engine_in_serve=False,
        )
        app = create_app(settings)
        try:
            with transaction(app.state.sessionmaker) as session:
                org = organisations.default_organisation(session)
                user = create_user(
                    session,
                    username="bench-importer",
                    role="supervisor",
                    password=PASSWORD,
                    organisation=org,
                )
                actor = Actor(user.id, user.username, user.role, org.id)
            phases = Phases(every)
            cpu = time.process_time()
            started = time.perf_counter()
            with transaction(app.state.sessionmaker) as session:
                report = service.import_people(
                    session, actor, read(raw, name="bench.csv"), Mapping(), progress=phases
                )
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            with transaction(app.state.sessionmaker) as session:
                stored = session.scalar(select(func.count()).select_from(Individual))
                documents = session.scalar(select(func.count()).select_from(TravelDocument))
        finally:
            app.state.engine.dispose()
    if report.count(service.IMPORTED) != people or stored != people or documents != people:
        raise RuntimeError(
            f"imported {report.count(service.IMPORTED)} of {people} rows "
            f"({stored} people, {documents} documents stored): {report.problems[:3]}"
        )
    out: dict[str, Any] = {
        "engine": engine,
        "people": people,
        "people_per_s": round(people / elapsed, 1),
        "total_s": round(elapsed, 1),
        # CPU seconds of this process (SQLite runs in it): on a machine shared with other
        # work, wall time stretches and this does much less.
        "cpu_s": round(cpu, 1),
        "people_per_cpu_s": round(people / cpu, 1),
    }
    for phase, seconds in phases.durations(started + elapsed).items():
        out[f"{phase.replace(' ', '_')}_s"] = seconds
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__)
    parser.add_argument("--engine", default="sqlite")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=0, help="print progress every N rows")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="haven-bench-import-") as tmp:
        print(
            json.dumps(run(args.engine, args.people, Path(tmp), args.pg_url, args.every), indent=2)
        )


if __name__ == "__main__":
    main()


# The goal of ``python -m bench`` (part "import"), judged on SQLite.
GOAL_PEOPLE, GOAL_SECONDS = 100_000, 300.0


def figure_key(engine: str, people: int, name: str) -> str:
    return f"import_{engine}_{people}_{name}"


def figures(engine: str, people: int, tmp: Path, pg_url: str) -> list[Figure]:
    """``run`` as rows of the benchmark table; the goal is judged at 100,000 people on SQLite."""
    report = run(engine, people, tmp / f"import-{people}", pg_url)
    phases = {k: v for k, v in report.items() if k.endswith("_s") and k not in ("total_s", "cpu_s")}
    phases["cpu_s"] = report["cpu_s"]
    phases["people_per_cpu_s"] = report["people_per_cpu_s"]
    phases["load_average"] = list(os.getloadavg())
    goal, ok, verdict = "", None, ""
    if engine == "sqlite" and people >= GOAL_PEOPLE:
        goal = f"≤ {GOAL_SECONDS:.0f} s for {GOAL_PEOPLE:,}"
        ok = report["total_s"] <= GOAL_SECONDS * people / GOAL_PEOPLE
        verdict = "met" if ok else "NOT met"
    return [
        Figure(
            figure_key(engine, people, "people_per_s"),
            f"import, one passport each: {engine}, {people:,} people",
            float(report["people_per_s"]),
            "/s",
            details=phases,
        ),
        Figure(
            figure_key(engine, people, "total_s"),
            f"import in all: {engine}, {people:,} people",
            float(report["total_s"]),
            "s",
            goal=goal,
            ok=ok,
            verdict=verdict,
        ),
    ]
